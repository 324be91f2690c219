// The session's look-up cache (query-runner.ts): the same look-up twice is answered once, and the
// bound is in bytes, so one row of long texts (rundiff's answer) is not kept at all and cannot
// grow a session past its memory budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { QueryRunner, lookupBytes } from '../../server/session/query-runner.js';
import type { Lookup } from '../../server/session/queries/plan.js';

async function askTwice(runner: QueryRunner, sql: string): Promise<unknown[][][]> {
  const answers: unknown[][][] = [];
  for (let i = 0; i < 2; i++) {
    await runner.run({
      planner: async (lookup: Lookup) => {
        answers.push(await lookup(sql, {}));
        return { statements: [{ sql: 'SELECT 1 AS one', params: {} }], source: 'test', notes: [] };
      },
      signal: new AbortController().signal,
      onBatch: async () => undefined,
    });
  }
  return answers;
}

test('a look-up asked again comes from the cache; one over a megabyte is read again', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const runner = new QueryRunner(instance, 1);
  try {
    const small = await askTwice(runner, 'SELECT range AS i, range * 2 AS j FROM range(1000)');
    assert.equal(runner.stats.lookupHits, 1);
    assert.deepEqual(small[1], small[0]);
    // One row, 600k characters: about 1.2 MB, past the bound of one answer.
    const large = await askTwice(runner, "SELECT repeat('x', 600000) AS text");
    assert.equal(runner.stats.lookupHits, 1, 'the long text was not kept');
    assert.equal((large[1]![0]![0] as string).length, 600_000);
  } finally {
    runner.close();
    instance.closeSync();
  }
});

test('lookupBytes: two bytes a character for text, a slot for anything else', () => {
  assert.equal(lookupBytes([]), 0);
  assert.equal(lookupBytes([[1, 2n, null]]), 32 + 3 * 16);
  assert.equal(lookupBytes([['abc'], ['']]), 2 * 32 + (24 + 6) + 24);
});
