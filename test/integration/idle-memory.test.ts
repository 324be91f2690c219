// Issue 6: a session that has gone quiet gives memory back (server/session/idle-memory.ts), and a
// request after (or during) the shrink is answered as before. Asserted on what DuckDB reports
// (duckdb_memory(), current_setting('memory_limit')) and on the answers themselves, on the tiny
// fixture opened READ_ONLY as a session opens it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import { clientMessageValidator, type QueryRequest } from '../../shared/messages.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { DEEP_COLLECTIONS, IdleMemory, type IdleMemoryOptions, type ShrinkReport } from '../../server/session/idle-memory.js';
import { planRequest } from '../../server/session/queries/index.js';
import type { Planner } from '../../server/session/queries/plan.js';
import type { QueryOutcome } from '../../server/session/query-outcome.js';
import { QueryRunner } from '../../server/session/query-runner.js';
import { openStore, type OpenStore } from '../../server/session/store.js';
import { testStoreDir, tinyDataset } from '../support/datasets.js';

const MEMORY_LIMIT = '64MB';
/** Below the default (2 MiB), so that the tiny store's cache is clearly more than what is left. */
const SHRINK_LIMIT = '1MiB';
const MiB = 2 ** 20;
/**
 * What DuckDB may hold after a shrink: the shrink limit, and a little for what it allocated since
 * (its accounting of small allocations goes through per-CPU caches, so it is a few KiB off).
 */
const LEFT = MiB + 256 * 1024;
/** Never by itself: these tests shrink with shrinkNow() or reopenNow(), except the ones about the timers. */
const NEVER = 3_600_000;

let store: OpenStore;
let probe: DuckDBConnection;
let configuredLimit: string;

before(async () => {
  const { storePath } = await prepareDataset({ input: await tinyDataset(), storeDir: testStoreDir() });
  store = await openStore({ storePath, memoryLimit: MEMORY_LIMIT, threads: 1 });
  probe = await store.instance.connect();
  configuredLimit = await memoryLimit();
});
after(() => {
  probe?.closeSync();
  store?.close();
});

/** Table blocks DuckDB holds in its buffer pool now. */
async function cachedTableBytes(): Promise<number> {
  const reader = await probe.runAndReadAll(`SELECT coalesce(sum(memory_usage_bytes), 0)::DOUBLE FROM duckdb_memory() WHERE tag = 'BASE_TABLE'`);
  return Number(reader.getRows()[0]![0]);
}

async function memoryLimit(): Promise<string> {
  const reader = await probe.runAndReadAll(`SELECT current_setting('memory_limit')`);
  return String(reader.getRows()[0]![0]);
}

function idleMemory(
  options: Partial<IdleMemoryOptions> = {},
  instance: Pick<DuckDBInstance, 'connect'> = store.instance,
): { idle: IdleMemory; runner: QueryRunner; errors: Error[] } {
  const errors: Error[] = [];
  const idle = new IdleMemory(() => instance, {
    memoryLimit: MEMORY_LIMIT,
    quietMs: NEVER,
    shrinkLimit: SHRINK_LIMIT,
    onError: (error) => errors.push(error),
    ...options,
  });
  return { idle, runner: new QueryRunner(store.instance, 4, { activity: idle }), errors };
}

/** Every row of the answer, decoded from its Arrow batches. */
async function answer(runner: QueryRunner, planner: Planner): Promise<unknown[]> {
  return (await answerAndOutcome(runner, planner)).rows;
}

async function answerAndOutcome(runner: QueryRunner, planner: Planner): Promise<{ rows: unknown[]; outcome: QueryOutcome }> {
  const rows: unknown[] = [];
  const outcome = await runner.run({
    planner,
    signal: new AbortController().signal,
    onBatch: async (ipc) => {
      for (const row of tableFromIPC(ipc).toArray()) rows.push(row.toJSON());
    },
  });
  return { rows, outcome };
}

let nextId = 1;
function planned(query: string, params: object): Planner {
  const checked = clientMessageValidator.check({ type: 'request', id: nextId++, query, params });
  if (!checked.ok) throw new Error(checked.error);
  return planRequest(checked.value as QueryRequest, store.catalog);
}

/** A drill-down's requests, the bar export among them so that much of the store gets cached. */
const DRILL_DOWN: [string, object][] = [
  ['summary', {}],
  ['equity', { width: 300 }],
  ['breakdown', { by: 'sector', limit: 50 }],
  ['trades', { sort: { column: 'pnl', descending: true }, limit: 50 }],
  ['histogram', { field: 'pnl', bins: 20 }],
  ['export', { table: 'bars' }],
];

async function drillDown(runner: QueryRunner): Promise<unknown[][]> {
  const answers: unknown[][] = [];
  for (const [query, params] of DRILL_DOWN) answers.push(await answer(runner, planned(query, params)));
  return answers;
}

/** The store's instance, as the shrink sees it: `afterRun` is awaited after each SET it runs. */
function instrumented(afterRun: (sql: string) => Promise<void>): Pick<DuckDBInstance, 'connect'> {
  return {
    connect: async () => {
      const connection = await store.instance.connect();
      return new Proxy(connection, {
        get(target, key) {
          if (key === 'run') {
            return async (sql: string) => {
              const result = await target.run(sql);
              await afterRun(sql);
              return result;
            };
          }
          const value = Reflect.get(target, key) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A request that reports the memory_limit it ran under. */
const limitSeen: Planner = () => ({
  statements: [{ sql: `SELECT current_setting('memory_limit') AS memory_limit`, params: {} }],
  source: 'test',
  notes: [],
});

test('a shrink evicts the cached blocks, puts the limit back, and the same requests answer the same', async () => {
  let collections = 0;
  const { idle, runner, errors } = idleMemory({ collectGarbage: () => collections++ });
  try {
    const answers = await drillDown(runner);
    const cached = await cachedTableBytes();
    assert.ok(cached > 2 * MiB, `the drill-down cached ${cached} bytes of table blocks`);

    const report = await idle.shrinkNow();
    assert.ok(report, 'nothing in flight: the shrink runs');
    assert.equal(report.partial, undefined);
    assert.equal(report.heapCollected, true);
    assert.equal(collections, 1);
    assert.ok(report.duckdbBytesBefore >= cached, `${report.duckdbBytesBefore} >= ${cached}`);
    assert.ok(report.duckdbBytesAfter <= LEFT, `DuckDB holds ${report.duckdbBytesAfter} bytes after the shrink`);
    assert.ok((await cachedTableBytes()) <= LEFT);
    assert.equal(await memoryLimit(), configuredLimit, 'the configured memory_limit is back');

    assert.deepEqual(await drillDown(runner), answers);
    assert.ok((await cachedTableBytes()) > LEFT, 'the blocks were read back');

    // The deep shrink collects until V8 may flush the bytecode nothing ran since.
    assert.ok(await idle.reopenNow(), 'nothing in flight: the deep shrink runs');
    assert.equal(collections, 1 + DEEP_COLLECTIONS);
    assert.deepEqual(await drillDown(runner), answers);
    assert.deepEqual(errors, []);
  } finally {
    idle.close();
    runner.close();
  }
});

test('a request that arrives during a shrink waits for it, runs under the configured limit, and says how long it waited', async () => {
  let during: Promise<{ rows: unknown[]; outcome: QueryOutcome }> | undefined;
  // The request arrives at the worst moment: the limit has just been lowered. It is given time to
  // run then (it must not), before the shrink goes on to put the limit back.
  const atLowered = async (sql: string) => {
    if (!sql.includes(`'${SHRINK_LIMIT}'`)) return;
    during = answerAndOutcome(runner, limitSeen);
    await Promise.race([during, sleep(300)]);
  };
  const { idle, runner, errors } = idleMemory({}, instrumented(atLowered));
  try {
    const answers = await drillDown(runner);
    const report = await idle.shrinkNow();
    assert.ok(during, 'the request was sent during the shrink');
    assert.ok(report, 'the shrink went ahead: the request came after its check');
    assert.ok(report.duckdbBytesAfter <= LEFT, JSON.stringify(report));
    const { rows, outcome } = await during;
    assert.deepEqual(rows, [{ memory_limit: configuredLimit }]);
    // It waited through the 300 ms above; a request that did not wait says (nearly) nothing.
    assert.ok(outcome.timings.waitMs !== undefined && outcome.timings.waitMs >= 250, `waitMs ${outcome.timings.waitMs}`);
    const after = await answerAndOutcome(runner, limitSeen);
    assert.ok(after.outcome.timings.waitMs !== undefined && after.outcome.timings.waitMs < 250, `waitMs ${after.outcome.timings.waitMs}`);
    assert.deepEqual(await drillDown(runner), answers);
    assert.deepEqual(errors, []);
  } finally {
    idle.close();
    runner.close();
  }
});

test('no shrink while a request is in flight; once the last one ends, the quiet timer shrinks', async () => {
  const reports: ShrinkReport[] = [];
  let reported: () => void = () => {};
  const { idle, runner, errors } = idleMemory({
    quietMs: 50,
    onShrink: (report) => {
      reports.push(report);
      reported();
    },
  });
  try {
    const answers = await drillDown(runner);
    // A request held in flight: its only batch is not taken until released.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let started: () => void = () => {};
    const isStarted = new Promise<void>((resolve) => (started = resolve));
    const slow = runner.run({
      planner: planned('summary', {}),
      signal: new AbortController().signal,
      onBatch: async () => {
        started();
        await held;
      },
    });
    await isStarted;
    const before = reports.length;
    assert.equal(await idle.shrinkNow(), null, 'a request is in flight: no shrink');
    assert.ok((await cachedTableBytes()) > 2 * MiB, 'the cache is untouched');
    assert.equal(reports.length, before, 'the quiet timer does not run while a request is in flight');

    // The quiet timer does not keep the process alive; this does, and fails the test if need be.
    let guard: NodeJS.Timeout | undefined;
    const next = new Promise<void>((resolve, reject) => {
      reported = resolve;
      guard = setTimeout(() => reject(new Error('no shrink within 10 s of the last request')), 10_000);
    });
    release();
    await slow;
    await next.finally(() => clearTimeout(guard));
    const report = reports.at(-1)!;
    assert.equal(report.partial, undefined);
    assert.ok(report.duckdbBytesBefore > 2 * MiB && report.duckdbBytesAfter <= LEFT, JSON.stringify(report));
    assert.equal(await memoryLimit(), configuredLimit);
    assert.deepEqual(await drillDown(runner), answers);
    assert.deepEqual(errors, []);
  } finally {
    idle.close();
    runner.close();
  }
});

test('the quiet timer shrinks first; only a much longer quiet reopens, and a request starts both over', async () => {
  const QUIET = 50;
  const REOPEN_QUIET = 600;
  const reports: { report: ShrinkReport; at: number }[] = [];
  let reopens = 0;
  let wake: () => void = () => {};
  const { idle, runner, errors } = idleMemory({
    quietMs: QUIET,
    reopenQuietMs: REOPEN_QUIET,
    // The store stays the same: this test is about when, the one below about what a reopen does.
    reopen: async () => void reopens++,
    onShrink: (report) => {
      reports.push({ report, at: performance.now() });
      wake();
    },
  });
  const nextReport = (within: number) =>
    new Promise<ShrinkReport>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`no shrink within ${within} ms`)), within);
      wake = () => {
        clearTimeout(guard);
        resolve(reports.at(-1)!.report);
      };
    });
  try {
    await drillDown(runner);
    const first = await nextReport(10_000);
    assert.equal(first.reopened, false, 'the short quiet only shrinks');
    assert.equal(reopens, 0);
    // A request before the long quiet is over: no reopen, and the count starts again from it.
    await drillDown(runner);
    const lastRequest = performance.now();
    assert.equal((await nextReport(10_000)).reopened, false);
    const deep = await nextReport(10_000);
    assert.equal(deep.reopened, true);
    assert.equal(reopens, 1);
    assert.ok(reports.at(-1)!.at - lastRequest >= REOPEN_QUIET - 5, `reopened ${(reports.at(-1)!.at - lastRequest).toFixed(0)} ms after the last request`);
    assert.equal(await memoryLimit(), configuredLimit);
    assert.deepEqual(errors, []);
  } finally {
    idle.close();
    runner.close();
  }
});

test('a shrink with reopen moves the runner to a new instance of the store, and the same requests answer the same', async () => {
  const { storePath } = await prepareDataset({ input: await tinyDataset(), storeDir: testStoreDir() });
  let current = await openStore({ storePath, memoryLimit: MEMORY_LIMIT, threads: 1 });
  const first = current;
  const errors: Error[] = [];
  let reopens = 0;
  let runner: QueryRunner;
  const idle = new IdleMemory(() => current.instance, {
    memoryLimit: MEMORY_LIMIT,
    quietMs: NEVER,
    shrinkLimit: SHRINK_LIMIT,
    onError: (error) => errors.push(error),
    reopen: async () => {
      reopens++;
      const fresh = await openStore({ storePath, memoryLimit: MEMORY_LIMIT, threads: 1 });
      runner.replaceInstance(fresh.instance);
      const old = current;
      current = fresh;
      old.close();
    },
  });
  runner = new QueryRunner(current.instance, 4, { activity: idle });
  try {
    const before = await drillDown(runner);
    const report = await idle.reopenNow();
    assert.ok(report, 'a quiet session shrinks');
    assert.equal(report.reopened, true);
    assert.equal(reopens, 1);
    assert.notEqual(current, first);
    // The old instance is closed: nothing can run on it any more.
    await assert.rejects(async () => (await first.instance.connect()).run('SELECT 1'));
    // The shrink's own limit change ran on the new instance, and put its limit back.
    const probeNew = await current.instance.connect();
    const limit = String((await probeNew.runAndReadAll(`SELECT current_setting('memory_limit')`)).getRows()[0]![0]);
    probeNew.closeSync();
    assert.equal(limit, configuredLimit);
    assert.deepEqual(await drillDown(runner), before);
    assert.equal(runner.stats.open <= 4, true);
    assert.deepEqual(errors, []);
  } finally {
    idle.close();
    runner.close();
    current.close();
  }
});

test('replaceInstance refuses while a request holds a connection', async () => {
  const runner = new QueryRunner(store.instance, 2);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const slow: Planner = async () => {
    await held;
    return { statements: [{ sql: 'SELECT 1 AS one', params: {} }], source: 'test', notes: [] };
  };
  const running = answer(runner, slow);
  await sleep(20);
  assert.throws(() => runner.replaceInstance(store.instance), /1 connection\(s\) in use/);
  release();
  assert.deepEqual(await running, [{ one: 1 }]);
  runner.replaceInstance(store.instance);
  assert.deepEqual(await answer(runner, limitSeen), [{ memory_limit: configuredLimit }]);
  runner.close();
});

test('a reopen that fails is reported, and the session stays on its instance with its cache given back', async () => {
  const { idle, runner, errors } = idleMemory({
    reopen: async () => {
      throw new Error('the store file is gone');
    },
  });
  const before = await drillDown(runner);
  assert.ok((await cachedTableBytes()) > LEFT, 'the drill-down cached blocks');
  await assert.rejects(idle.reopenNow(), /opening the store again failed; the session stays on its DuckDB instance \(its cache was evicted\): the store file is gone/);
  assert.ok((await cachedTableBytes()) <= LEFT, 'the cache was still evicted');
  assert.equal(await memoryLimit(), configuredLimit);
  assert.deepEqual(await drillDown(runner), before);
  assert.deepEqual(errors, []);
  idle.close();
  runner.close();
});

test('whenQuiet resolves at once with no request in flight, else when the last one in flight ends', async () => {
  const { idle } = idleMemory();
  try {
    await idle.whenQuiet();
    await idle.enter();
    await idle.enter();
    let quiet = false;
    const waiting = idle.whenQuiet().then(() => (quiet = true));
    idle.leave();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(quiet, false, 'one request is still in flight');
    idle.leave();
    await waiting;
    assert.equal(quiet, true);
  } finally {
    idle.close();
  }
});
