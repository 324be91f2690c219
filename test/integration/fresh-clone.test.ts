// The README's promise: in a fresh clone, `npx tickscope` works after `npm ci` alone (the
// `prepare` script builds). Clones this repository's HEAD into .cache/, installs from the npm
// cache the suite's own `npm ci` filled (--offline: no network), and asks every command for help.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../fixtures/generate.js';

const run = promisify(execFile);

test('a fresh clone: npm ci, then npx tickscope --help of every command', { timeout: 300_000 }, async (t) => {
  const root = repoRoot();
  if (!existsSync(path.join(root, '.git'))) return t.skip(`${root} is not a git checkout: nothing to clone`);
  const clone = path.join(root, '.cache', 'fresh-clone');
  await rm(clone, { recursive: true, force: true });
  try {
    await run('git', ['clone', '--quiet', '--no-hardlinks', root, clone]);
    const env = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    const install = await run('npm', ['ci', '--offline'], { cwd: clone, env, maxBuffer: 16 << 20 });
    assert.doesNotMatch(install.stderr, /EBADENGINE/, 'no engine warnings on Node 20');
    const help = await run('npx', ['--no-install', 'tickscope', '--help'], { cwd: clone, env });
    for (const command of ['serve', 'prepare', 'inspect', 'fixtures', 'stores']) assert.match(help.stdout, new RegExp(`\\b${command}\\b`));
    for (const command of ['serve', 'prepare', 'inspect']) {
      const { stdout } = await run('npx', ['--no-install', 'tickscope', command, '--help'], { cwd: clone, env });
      // What it reads: the tables, their required columns and the description's keys.
      for (const word of ['bars', 'trades', 'symbols', 'runs', 'entry_ts', 'position_qty', 'tickscope.json', 'timezone', 'capital']) {
        assert.ok(stdout.includes(word), `${command} --help names ${word}:\n${stdout}`);
      }
    }
  } finally {
    await rm(clone, { recursive: true, force: true });
  }
});
