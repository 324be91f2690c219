// Which file session processes run (session-entry.ts): the bundle the build made, unless it is
// missing or older than the compiled entry, when the runtime says why and runs the compiled one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chooseSessionEntry, runsSessionEntry, SESSION_BUNDLE, SESSION_MAIN, sessionEntry, warnIfUnbundled } from '../../server/control/runtime/session-entry.js';

test('the bundle runs when it is no older than the compiled entry, the compiled entry otherwise', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tickscope-entry-'));
  try {
    const main = path.join(dir, 'main.js');
    const bundle = path.join(dir, 'main.bundle.js');
    await writeFile(main, '');
    const missing = chooseSessionEntry(bundle, main);
    assert.equal(missing.path, main);
    assert.match(missing.fallback ?? '', /main\.bundle\.js is missing: run `npm run build:server`/);

    await writeFile(bundle, '');
    await utimes(main, new Date(2_000_000), new Date(2_000_000));
    await utimes(bundle, new Date(1_000_000), new Date(1_000_000));
    const stale = chooseSessionEntry(bundle, main);
    assert.equal(stale.path, main, 'a bundle older than tsc’s output would run the previous build');
    assert.match(stale.fallback ?? '', /main\.bundle\.js is older than .*main\.js/);

    await utimes(bundle, new Date(2_000_000), new Date(2_000_000));
    assert.deepEqual(chooseSessionEntry(bundle, main), { path: bundle, fallback: null });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('this build’s sessions run its bundle, and say nothing about it', () => {
  // The suite runs after `npm run build:server`, which bundles after tsc.
  assert.deepEqual(sessionEntry(), { path: SESSION_BUNDLE, fallback: null });
  const said: string[] = [];
  warnIfUnbundled((_level, message) => said.push(message));
  assert.deepEqual(said, []);
});

test('a session process is known by either entry on its command line', () => {
  assert.ok(runsSessionEntry(['/usr/bin/node', '--expose-gc', SESSION_BUNDLE]));
  assert.ok(runsSessionEntry(['/usr/bin/node', SESSION_MAIN]));
  assert.ok(!runsSessionEntry(['/usr/bin/node', path.join(path.dirname(SESSION_MAIN), 'other.js')]));
});
