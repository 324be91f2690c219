// A session process's environment (SESSION_ENV, contract.ts): its defaults give way to the
// operator's environment and that to what the start itself sets; and DuckDB's bundled jemalloc
// really reads the allocator setting, so a renamed variable in a DuckDB upgrade fails here instead
// of quietly bringing back the page faults it avoids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SESSION_ENV, sessionEnvironment } from '../../server/session/contract.js';

const MALLOC_CONF = 'DUCKDB_JE_MALLOC_CONF';

test('a session starts with the defaults, under the operator’s environment and its own', () => {
  const saved = process.env[MALLOC_CONF];
  try {
    delete process.env[MALLOC_CONF];
    assert.equal(sessionEnvironment({})[MALLOC_CONF], SESSION_ENV[MALLOC_CONF]);
    process.env[MALLOC_CONF] = 'dirty_decay_ms:5000';
    assert.equal(sessionEnvironment({})[MALLOC_CONF], 'dirty_decay_ms:5000', 'the operator’s setting wins');
    assert.equal(sessionEnvironment({ [MALLOC_CONF]: 'narenas:1' })[MALLOC_CONF], 'narenas:1', 'the start’s own wins');
    assert.equal(sessionEnvironment({ TICKSCOPE_X: 'y' }).TICKSCOPE_X, 'y');
  } finally {
    if (saved === undefined) delete process.env[MALLOC_CONF];
    else process.env[MALLOC_CONF] = saved;
  }
});

test('DuckDB’s allocator takes the session’s setting: freed pages do not decay, a purge returns them at once', async () => {
  // jemalloc prints its options at exit with stats_print; the query makes sure libduckdb loaded.
  const script = `const { DuckDBInstance } = await import('@duckdb/node-api');
    const c = await (await DuckDBInstance.create(':memory:')).connect();
    await c.run('SELECT 1');`;
  const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    env: sessionEnvironment({ [MALLOC_CONF]: `${SESSION_ENV[MALLOC_CONF]},stats_print:true` }),
    maxBuffer: 16 * 1024 * 1024,
  });
  assert.match(stderr, /opt\.dirty_decay_ms: -1\b/, 'dirty pages kept until purged');
  assert.match(stderr, /opt\.muzzy_decay_ms: 0\b/, 'a purge gives pages back at once');
});
