// The session's look-ups (lookup-cache.ts, run by query-runner.ts). The cache: the same look-up twice is answered once, and
// the bound is in bytes, so one row of long texts (rundiff's answer) is not kept at all and cannot
// grow a session past its memory budget. The connections: look-ups awaited together run side by
// side on a lent connection when one is free, or is released while they wait, and one at a time
// on the request's own when not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { LOOKUP_CACHE_MAX_BYTES, LookupCache, lookupBytes } from '../../server/session/lookup-cache.js';
import { QueryRunner } from '../../server/session/query-runner.js';
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

/** A planner whose look-ups are awaited together; the answer is the look-ups' rows. */
function together(sqls: string[], seen: unknown[][][]) {
  return async (lookup: Lookup) => {
    seen.push(...(await Promise.all(sqls.map((sql) => lookup(sql, {})))));
    return { statements: [{ sql: 'SELECT 1 AS one', params: {} }], source: 'test', notes: [] };
  };
}

test('look-ups awaited together get a connection each when one is free, and one at a time when none is or when not asked to', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  // Each connection numbers itself: a temporary table is the connection's own.
  const sqls = [0, 1, 2].map((i) => `SELECT ${i} AS i, sum(range) AS s FROM range(200000)`);
  try {
    const roomy = new QueryRunner(instance, 4, { sideBySideLookups: true });
    const seen: unknown[][][] = [];
    await roomy.run({ planner: together(sqls, seen), signal: new AbortController().signal, onBatch: async () => undefined });
    assert.deepEqual(seen.map((rows) => rows[0]![0]), [0, 1, 2], 'each caller has its own answer');
    assert.equal(roomy.stats.open, 3, 'two look-ups were lent a connection beside the request\'s own');
    assert.equal(roomy.stats.idle, 3, 'every connection went back to the pool');
    roomy.close();

    const tight = new QueryRunner(instance, 1, { sideBySideLookups: true });
    const alone: unknown[][][] = [];
    await tight.run({ planner: together(sqls, alone), signal: new AbortController().signal, onBatch: async () => undefined });
    assert.deepEqual(alone, seen, 'the same answers on the request\'s connection alone');
    assert.equal(tight.stats.open, 1);
    tight.close();

    const oneThread = new QueryRunner(instance, 4);
    const queued: unknown[][][] = [];
    await oneThread.run({ planner: together(sqls, queued), signal: new AbortController().signal, onBatch: async () => undefined });
    assert.deepEqual(queued, seen);
    assert.equal(oneThread.stats.open, 1, 'without sideBySideLookups, the request\'s connection alone');
    oneThread.close();
  } finally {
    instance.closeSync();
  }
});

test('look-ups that found no connection free take one another request releases while they wait', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const runner = new QueryRunner(instance, 2, { sideBySideLookups: true });
  try {
    const SLOW_OWN = 'SELECT 0 AS i, count(*) AS n FROM range(3000) a, range(3000) b WHERE (a.range + b.range) % 7 = 3';
    let queued!: () => void;
    const bQueued = new Promise<void>((resolve) => (queued = resolve));
    // A holds the other connection until B's look-ups are asked: none is free for them then.
    const a = runner.run({
      planner: async () => {
        await bQueued;
        return { statements: [{ sql: 'SELECT 1 AS one', params: {} }], source: 'test', notes: [] };
      },
      signal: new AbortController().signal,
      onBatch: async () => undefined,
    });
    await new Promise((resolve) => setImmediate(resolve));
    const seen: unknown[][][] = [];
    const b = runner.run({
      planner: async (lookup: Lookup) => {
        const asked = [SLOW_OWN, 'SELECT 1 AS i', 'SELECT 2 AS i'].map((sql) => lookup(sql, {}));
        queued();
        seen.push(...(await Promise.all(asked)));
        return { statements: [{ sql: 'SELECT 1 AS one', params: {} }], source: 'test', notes: [] };
      },
      signal: new AbortController().signal,
      onBatch: async () => undefined,
    });
    await Promise.all([a, b]);
    assert.deepEqual(seen.map((rows) => rows[0]![0]), [0, 1, 2], 'each caller has its own answer');
    assert.ok(runner.stats.lookupsOnReleased >= 1, `the look-ups behind the slow one ran on the connection A released (${runner.stats.lookupsOnReleased})`);
    assert.equal(runner.stats.open, 2);
    assert.equal(runner.stats.idle, 2, 'every connection went back to the pool');
  } finally {
    runner.close();
    instance.closeSync();
  }
});

test('a planner that fails while its look-ups run ends only after them, on its own connection or a lent one', async () => {
  // Slow enough (~0.3-1 s) to be still running when the planner fails 50 ms in, which leaves a
  // loaded machine (CI) time to have started it: a look-up still queued then is not waited for.
  const SLOW = 'SELECT count(*) FROM range(300000000) a WHERE a.range % 7 = 3';
  for (const connections of [1, 2]) {
    const instance = await DuckDBInstance.create(':memory:');
    const runner = new QueryRunner(instance, connections, { sideBySideLookups: true });
    try {
      let slowDone = false;
      let slowDoneWhenFailed: boolean | null = null;
      const failing = runner.run({
        planner: async (lookup: Lookup) => {
          // With two connections, a first look-up holds the request's own and the slow one is lent the other.
          if (connections === 2) void lookup('SELECT 1', {});
          void lookup(SLOW, {}).then(() => (slowDone = true));
          // The planner fails while its look-ups run (as Promise.all rejects on a first failure).
          await new Promise((resolve) => setTimeout(resolve, 50));
          slowDoneWhenFailed = slowDone;
          throw new Error('the planner failed');
        },
        signal: new AbortController().signal,
        onBatch: async () => undefined,
      });
      await assert.rejects(failing, /the planner failed/);
      assert.equal(slowDoneWhenFailed, false, 'the slow look-up was still running when the planner failed');
      assert.equal(slowDone, true, `the request ended after its running look-up (${connections} connection(s))`);
      assert.equal(runner.stats.open, connections);
      assert.equal(runner.stats.idle, connections, 'every connection is back in the pool');
      // The next request gets a connection and uses it alone.
      const after: unknown[][][] = [];
      await runner.run({ planner: together(['SELECT 42 AS x'], after), signal: new AbortController().signal, onBatch: async () => undefined });
      assert.equal(after[0]![0]![0], 42);
    } finally {
      runner.close();
      instance.closeSync();
    }
  }
});

/** A request whose planner reads `sql` as columns and answers with nothing more; its outcome or error. */
function askColumns(runner: QueryRunner, sql: string, signal: AbortSignal, seen: Map<string, Float64Array | Int32Array>[]) {
  return runner
    .run({
      planner: async (_lookup, lookupColumns) => {
        seen.push(await lookupColumns!(sql, {}));
        return { statements: [{ sql: 'SELECT 1 AS one', params: {} }], source: 'test', notes: [] };
      },
      signal,
      onBatch: async () => undefined,
    })
    .then(
      () => 'answered',
      (error: Error) => error.name,
    );
}

// Slow enough (hundreds of ms) that the second request asks while the first one's read runs.
const SLOW = 'SELECT count(*)::INTEGER AS n, sum(a.range * b.range)::DOUBLE AS s FROM range(6000) a, range(6000) b';
const SLOWER = SLOW.replaceAll('6000', '9000');

test("an identical look-up asked while another request's runs is read once, and both get its answer", async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const runner = new QueryRunner(instance, 4, { sideBySideLookups: true });
  try {
    const seen: Map<string, Float64Array | Int32Array>[] = [];
    const outcomes = await Promise.all([0, 1].map(() => askColumns(runner, SLOW, new AbortController().signal, seen)));
    assert.deepEqual(outcomes, ['answered', 'answered']);
    assert.equal(runner.stats.sharedLookups, 1, 'the second request waited for the first one\'s read');
    assert.equal(seen[0]!.get('n')![0], 36_000_000);
    assert.equal(seen[1], seen[0], 'the same columns, not a copy');
    // Asked again once both are done: nothing in flight to share, so it is read again.
    await askColumns(runner, SLOW, new AbortController().signal, seen);
    assert.equal(runner.stats.sharedLookups, 1);
  } finally {
    runner.close();
    instance.closeSync();
  }
});

test('a request waiting for a look-up that another request runs reads it itself when that request is cancelled', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const runner = new QueryRunner(instance, 4, { sideBySideLookups: true });
  try {
    const seen: Map<string, Float64Array | Int32Array>[] = [];
    const first = new AbortController();
    // The first request starts the read; the second, asked a moment later, waits for it. Asked
    // together, either could start it (each opens its connection, and either connect may end
    // first): then the cancelled one was the waiter, and the test failed 1 run in 5 to 12.
    const owner = askColumns(runner, SLOWER, first.signal, seen);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const asked = [owner, askColumns(runner, SLOWER, new AbortController().signal, seen)];
    // The cancel comes while the first request still reads (~0.5 s).
    await new Promise((resolve) => setTimeout(resolve, 20));
    first.abort(new Error('the tab moved on'));
    assert.deepEqual(await Promise.all(asked), ['CancelledError', 'answered']);
    assert.equal(runner.stats.sharedLookups, 0);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.get('n')![0], 81_000_000);
    assert.equal(runner.stats.idle, runner.stats.open, 'every connection went back to the pool');
  } finally {
    runner.close();
    instance.closeSync();
  }
});

test('LookupCache keeps answers up to 4 MiB in all, the least recently used going first, and never one over a megabyte', () => {
  const cache = new LookupCache();
  // One row of a text of n characters is 32 + 24 + 2n bytes (lookupBytes).
  const rowOf = (bytes: number) => [['x'.repeat((bytes - 56) / 2)]];
  const quarter = 1024 * 1024 - 56; // just under the per-answer bound; four and a bit fill the cache
  for (const key of ['a', 'b', 'c', 'd']) cache.keep(key, rowOf(quarter));
  assert.ok(cache.get('a'), 'four answers of just under a megabyte each fit in 4 MiB');
  cache.keep('e', rowOf(quarter));
  assert.equal(cache.get('b'), undefined, "the least recently used ('a' was just read) goes first");
  for (const key of ['a', 'c', 'd', 'e']) assert.ok(cache.get(key), `${key} is still kept`);
  cache.keep('big', rowOf(LOOKUP_CACHE_MAX_BYTES + 64));
  assert.equal(cache.get('big'), undefined, 'an answer over the per-answer bound is not kept');
  assert.equal(cache.stats.lookupHits, 5, 'a, then a, c, d and e: a miss is not a hit');
  const kept = cache.get('a')!;
  kept.pop();
  assert.equal(cache.get('a')!.length, 1, 'a caller gets its own row list: changing it leaves the kept answer as it was');
});

test('LookupCache.share: an asker while the same look-up runs gets its answer; after a cancel of the runner, it reads its own', async () => {
  const cache = new LookupCache();
  let runs = 0;
  let finish!: (rows: unknown[][]) => void;
  const first = cache.share('k', new AbortController().signal, () => {
    runs++;
    return new Promise<unknown[][]>((resolve) => (finish = resolve));
  });
  const second = cache.share('k', new AbortController().signal, async () => {
    runs++;
    return [['own']];
  });
  finish([['shared']]);
  assert.deepEqual(await first, [['shared']]);
  assert.deepEqual(await second, [['shared']]);
  assert.equal(runs, 1);
  assert.equal(cache.stats.sharedLookups, 1);

  const runner = new AbortController();
  let fail!: (error: Error) => void;
  const cancelled = cache.share('j', runner.signal, () => new Promise<unknown[][]>((_, reject) => (fail = reject)));
  const waiter = cache.share('j', new AbortController().signal, async () => [['read again']]);
  runner.abort('the tab moved on');
  fail(new Error('INTERRUPT'));
  await assert.rejects(cancelled, /INTERRUPT/);
  assert.deepEqual(await waiter, [['read again']], "the waiter was not cancelled: it reads the look-up itself");
  // A waiter cancelled itself gets the runner's error, not a read of its own.
  const runner2 = new AbortController();
  let fail2!: (error: Error) => void;
  const cancelled2 = cache.share('i', runner2.signal, () => new Promise<unknown[][]>((_, reject) => (fail2 = reject)));
  const gone = new AbortController();
  const waiter2 = cache.share('i', gone.signal, async () => [['should not run']]);
  runner2.abort('x');
  gone.abort('y');
  fail2(new Error('INTERRUPT'));
  await assert.rejects(cancelled2, /INTERRUPT/);
  await assert.rejects(waiter2, /INTERRUPT/);
});
