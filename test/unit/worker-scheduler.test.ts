// The worker's query scheduler in Node, without a browser or a socket: it is given a `send`
// that records what would go on the wire, and told what the server answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import type { ClientMessage, DatasetSchema, DoneMessage } from '../../shared/messages.js';
import { errorKind, type ErrorKind } from '../../client/src/errors.js';
import { QueryScheduler, type SchedulerOptions } from '../../client/src/worker/query-scheduler.js';
import type { Answer, ColumnTable, Spec, TimeSeries } from '../../client/src/worker/types.js';

const MINUTE = 60_000;

const DATASET: DatasetSchema = {
  id: 'tiny',
  runs: [{ runId: 'base', name: 'base', capital: 1e6, capitalSource: 'test', params: {} }],
  sectors: ['Energy'],
  tags: [],
  symbolCount: 1,
  barCount: 60,
  tradeCount: 0,
  dayCount: 1,
  range: { from: 0, to: 59 * MINUTE },
  calendar: { barMs: MINUTE, days: [0, 59 * MINUTE] },
  timezone: { zone: 'UTC', source: 'test' },
  bars: { origin: 'input', period: 'intraday' },
  columnSources: [],
  benchmark: { kind: 'market', name: 'Equal-weighted market (1 symbol)', source: 'test' },
  riskFreeRate: 0,
};

/** A scheduler whose wire is an array; `cut()` makes sending throw, as a closed socket does. */
function harness(options: Partial<SchedulerOptions> = {}) {
  const sent: ClientMessage[] = [];
  let wire = true;
  const scheduler = new QueryScheduler({
    send: (message) => {
      if (!wire) throw new Error('session is not connected');
      sent.push(message);
    },
    cacheBytes: 1 << 20,
    maxInFlight: 24,
    maxBackgroundInFlight: 2,
    overloadedRetryMs: 5,
    ...options,
  });
  scheduler.online(DATASET);
  return {
    scheduler,
    sent,
    /** Request ids sent so far, by the `from` of their summary spec (or the query's name). */
    requests: () => sent.flatMap((m) => (m.type === 'request' ? [{ id: m.id, label: labelOf(m.params) ?? m.query }] : [])),
    cancels: () => sent.flatMap((m) => (m.type === 'cancel' ? [m.id] : [])),
    /** The id of the latest request for `spec`'s label. */
    idOf: (label: string | number) => {
      const found = sent.filter((m) => m.type === 'request' && (labelOf(m.params) ?? m.query) === label).at(-1);
      assert.ok(found, `a request for ${label} was sent`);
      return found.id;
    },
    cut: () => {
      wire = false;
    },
    mend: () => {
      wire = true;
    },
  };
}

function labelOf(params: unknown): number | undefined {
  return (params as { from?: number }).from;
}

/** Summaries told apart by their `from`. */
const summary = (from: number): Spec<'summary'> => ({ query: 'summary', params: { from } });

function done(id: number, extra: Partial<DoneMessage> = {}): DoneMessage {
  return { type: 'done', id, rows: 0, batches: 0, bytes: 0, approximate: false, timings: { planMs: 1, executeMs: 2, encodeMs: 3 }, source: 'test', notes: [], ...extra };
}

type Outcome<T> = { ok: true; value: T } | { ok: false; kind: ErrorKind; message: string };

/** The promise's outcome, with a handler attached at once (a rejection is never unhandled). */
function outcome<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, kind: errorKind(error), message: (error as Error).message }),
  );
}

async function answered<T>(promise: Promise<Outcome<T>>): Promise<T> {
  const result = await promise;
  assert.ok(result.ok, `answered (${result.ok ? '' : `${result.kind}: ${result.message}`})`);
  return result.value;
}

async function refused<T>(promise: Promise<Outcome<T>>, kind: ErrorKind, pattern?: RegExp): Promise<void> {
  const result = await promise;
  assert.equal(result.ok, false, 'the ask was refused');
  if (result.ok) return;
  assert.equal(result.kind, kind, result.message);
  if (pattern) assert.match(result.message, pattern);
}

test('a request carries its id, query and params, and names no view', () => {
  const { scheduler, sent } = harness();
  void outcome(scheduler.ask(summary(1), { view: 'overview.summary' }));
  assert.deepEqual(sent, [{ type: 'request', id: 1, query: 'summary', params: { from: 1 } }]);
});

test('identical asks share one request; an answer then comes from the cache without one', async () => {
  const { scheduler, requests, idOf } = harness();
  const a = outcome(scheduler.ask(summary(1), { view: 'a' }));
  const b = outcome(scheduler.ask({ query: 'summary', params: { from: 1, to: undefined } }, { view: 'b' }));
  assert.equal(requests().length, 1, 'one request for two asks of the same query');
  scheduler.finish(done(idOf(1), { rows: 7 }));
  const [first, second] = [await answered(a), await answered(b)];
  assert.equal(first.rows, 7);
  assert.equal(second.rows, 7);
  assert.equal(first.cached, false);
  const again = await answered(outcome(scheduler.ask(summary(1))));
  assert.equal(again.cached, true);
  assert.equal(requests().length, 1, 'the cached answer needed no request');
  assert.deepEqual({ hits: scheduler.stats().hits, misses: scheduler.stats().misses }, { hits: 1, misses: 2 });
});

test('a newer ask in a view slot supersedes the older one: it rejects as aborted and its request is cancelled', async () => {
  const { scheduler, cancels, idOf, requests } = harness();
  const older = outcome(scheduler.ask(summary(1), { view: 'chart' }));
  const olderId = idOf(1);
  const newer = outcome(scheduler.ask(summary(2), { view: 'chart' }));
  await refused(older, 'aborted', /superseded/);
  assert.deepEqual(cancels(), [olderId], 'the superseded request was cancelled on the server');
  assert.deepEqual(
    requests().map((r) => r.label),
    [1, 2],
  );
  // A late answer to the cancelled request is dropped; the newer one answers.
  scheduler.finish(done(olderId));
  scheduler.finish(done(idOf(2), { rows: 3 }));
  assert.equal((await answered(newer)).rows, 3);
  assert.equal(scheduler.stats().entries, 1, 'only the newer answer was cached');
});

test('a superseded ask is not cancelled on the server while another ask still waits for it', async () => {
  const { scheduler, cancels, idOf } = harness();
  const mine = outcome(scheduler.ask(summary(1), { view: 'left' }));
  const theirs = outcome(scheduler.ask(summary(1), { view: 'right' }));
  void outcome(scheduler.ask(summary(2), { view: 'left' }));
  await refused(mine, 'aborted');
  assert.deepEqual(cancels(), []);
  scheduler.finish(done(idOf(1)));
  await answered(theirs);
});

test('release cancels the ask of a view slot', async () => {
  const { scheduler, cancels, idOf } = harness();
  const ask = outcome(scheduler.ask(summary(1), { view: 'trades:page:3' }));
  scheduler.release('trades:page:3');
  await refused(ask, 'aborted', /released/);
  assert.deepEqual(cancels(), [idOf(1)]);
  scheduler.release('trades:page:3'); // nothing left to release
  assert.equal(cancels().length, 1);
});

test('prefetches go out a few at a time, the newest first; a newer prefetch of the group drops the unsent older ones', () => {
  const { scheduler, requests, idOf } = harness();
  scheduler.prefetch([summary(1), summary(2), summary(3), summary(4)], 'hover');
  assert.deepEqual(
    requests().map((r) => r.label),
    [4, 3],
    'two background requests at once, the last asked for first',
  );
  scheduler.prefetch([summary(5)], 'hover'); // the pointer moved on: 1 and 2 are dropped unsent
  scheduler.finish(done(idOf(4)));
  scheduler.finish(done(idOf(3)));
  assert.deepEqual(
    requests().map((r) => r.label),
    [4, 3, 5],
  );
  assert.equal(scheduler.stats().prefetched, 2);
});

test("the first view's prefetch waits for the hello; on a dataset of many runs it is of the hello's default pin", () => {
  const runs = Array.from({ length: 12 }, (_, i) => ({ ...DATASET.runs[0]!, runId: `r${i}`, name: `r${i}` }));
  const sweep: DatasetSchema = { ...DATASET, runs, defaultPin: { runs: ['r2', 'r7', 'r9'], of: 12 } };
  const equity: Spec = { query: 'equity', params: { width: 800 } };
  const named: Spec = { query: 'summary', params: { runs: ['r1'] } };
  const sentBy = (dataset: DatasetSchema | null) => {
    const sent: ClientMessage[] = [];
    const scheduler = new QueryScheduler({ send: (m) => void sent.push(m), cacheBytes: 1 << 20, maxInFlight: 24, maxBackgroundInFlight: 2, overloadedRetryMs: 5 });
    scheduler.prefetchFirstView([equity, named]);
    assert.equal(sent.length, 0, 'nothing goes before the hello');
    if (dataset) scheduler.online(dataset);
    // Prefetches go out the newest first: compared in query order.
    return sent.flatMap((m) => (m.type === 'request' ? [{ query: m.query, params: m.params }] : [])).sort((a, b) => a.query.localeCompare(b.query));
  };
  assert.deepEqual(sentBy(sweep), [
    { query: 'equity', params: { width: 800, runs: ['r2', 'r7', 'r9'] } },
    { query: 'summary', params: { runs: ['r1'] } },
  ]);
  // No default pin in the hello: a spec of every run would be refused or computed for nobody.
  assert.deepEqual(sentBy({ ...sweep, defaultPin: undefined }), [{ query: 'summary', params: { runs: ['r1'] } }]);
  // Few runs: every run is shown, the specs go as asked.
  assert.deepEqual(sentBy(DATASET), [
    { query: 'equity', params: { width: 800 } },
    { query: 'summary', params: { runs: ['r1'] } },
  ]);
});

test('low-priority asks go after prefetches, and an ask of a low flight makes it urgent', async () => {
  const { scheduler, requests, idOf } = harness({ maxBackgroundInFlight: 1 });
  const spark = outcome(scheduler.ask(summary(1), { priority: 'low' }));
  scheduler.prefetch([summary(2)], 'warm');
  // The low ask went first (nothing else was queued); the prefetch waits for its slot.
  assert.deepEqual(
    requests().map((r) => r.label),
    [1],
  );
  scheduler.finish(done(idOf(1)));
  await answered(spark);
  assert.deepEqual(
    requests().map((r) => r.label),
    [1, 2],
  );
  // Two more low asks and a prefetch: the prefetch goes first once the slot frees.
  void outcome(scheduler.ask(summary(3), { priority: 'low' }));
  scheduler.prefetch([summary(4)], 'warm2');
  scheduler.finish(done(idOf(2)));
  assert.deepEqual(
    requests().map((r) => r.label),
    [1, 2, 4],
  );
  // A view now wants the queued low ask: it goes at once, ahead of everything.
  const wanted = outcome(scheduler.ask(summary(3)));
  assert.deepEqual(
    requests().map((r) => r.label),
    [1, 2, 4, 3],
  );
  scheduler.finish(done(idOf(3)));
  await answered(wanted);
});

test("a view's ask preempts background work in flight: it is cancelled, then sent again after", async () => {
  const { scheduler, requests, cancels, idOf } = harness();
  scheduler.prefetch([summary(1), summary(2)], 'hover');
  const background = [idOf(2), idOf(1)];
  const view = outcome(scheduler.ask(summary(3), { view: 'chart' }));
  assert.deepEqual(cancels().sort(), [...background].sort(), 'both prefetches were cancelled');
  assert.equal(scheduler.stats().preempted, 2);
  assert.deepEqual(
    requests().map((r) => r.label),
    [2, 1, 3],
    'only the view ask went out while it waits',
  );
  scheduler.finish(done(idOf(3)));
  await answered(view);
  assert.deepEqual(
    requests()
      .slice(3)
      .map((r) => r.label)
      .sort(),
    [1, 2],
    'the prefetches went out again',
  );
  assert.ok(!background.includes(idOf(1)) && !background.includes(idOf(2)), 'under new ids');
});

test('never more requests in flight than the limit; the next goes when one finishes', () => {
  const { scheduler, requests, idOf } = harness({ maxInFlight: 2 });
  for (const from of [1, 2, 3]) void outcome(scheduler.ask(summary(from)));
  assert.equal(requests().length, 2);
  assert.equal(scheduler.stats().inFlight, 2);
  scheduler.finish(done(idOf(1)));
  assert.deepEqual(
    requests().map((r) => r.label),
    [1, 2, 3],
  );
});

test('an answer says how long its ask waited in the worker before its request went out', async () => {
  const { scheduler, idOf } = harness({ maxInFlight: 1 });
  const first = outcome(scheduler.ask(summary(1)));
  const second = outcome(scheduler.ask(summary(2)));
  const held = performance.now();
  while (performance.now() - held < 30) {
    // the second ask waits behind the in-flight limit for at least 30 ms
  }
  scheduler.finish(done(idOf(1)));
  scheduler.finish(done(idOf(2)));
  const [a, b] = [await answered(first), await answered(second)];
  assert.ok(a.queuedMs < 5, `sent at once: ${a.queuedMs} ms`);
  assert.ok(b.queuedMs >= 30 && b.queuedMs <= b.elapsedMs, `held behind the first: ${b.queuedMs} of ${b.elapsedMs} ms`);
  assert.equal((await answered(outcome(scheduler.ask(summary(2))))).queuedMs, 0, 'from the cache: never queued');
});

test('what was in flight when the connection dropped is sent again on the next hello', async () => {
  const { scheduler, requests, idOf, cut, mend } = harness();
  const ask = outcome(scheduler.ask(summary(1)));
  const firstId = idOf(1);
  scheduler.offline();
  void outcome(scheduler.ask(summary(2)));
  assert.equal(requests().length, 1, 'nothing is sent while the connection is down');
  scheduler.online(DATASET);
  assert.deepEqual(
    requests().map((r) => r.label),
    [1, 1, 2],
  );
  assert.notEqual(idOf(1), firstId);
  // A socket that closed before its close event: the send fails and the flight stays queued.
  cut();
  void outcome(scheduler.ask(summary(3)));
  assert.equal(requests().length, 3);
  mend();
  scheduler.offline();
  scheduler.online(DATASET);
  assert.deepEqual(
    requests()
      .slice(3)
      .map((r) => r.label),
    [1, 2, 3],
  );
  scheduler.finish(done(idOf(1)));
  await answered(ask);
});

test('a lost session rejects every waiting ask and new ones, until the connection tries again', async () => {
  const { scheduler, requests } = harness();
  const waiting = outcome(scheduler.ask(summary(1)));
  scheduler.lost('the session is gone');
  await refused(waiting, 'connection', /the session is gone/);
  await refused(outcome(scheduler.ask(summary(2))), 'connection', /lost/);
  scheduler.offline(); // a retry: asks wait for the next hello again
  void outcome(scheduler.ask(summary(3)));
  scheduler.online(DATASET);
  assert.deepEqual(
    requests().map((r) => r.label),
    [1, 3],
  );
});

test("the session's error codes become the client's error kinds", async () => {
  const { scheduler, idOf } = harness();
  const bad = outcome(scheduler.ask(summary(1)));
  scheduler.serverError({ type: 'error', id: idOf(1), code: 'bad-params', message: 'unknown run "x"' });
  await refused(bad, 'bad-params', /summary \(bad-params\): unknown run "x"/);
  const failed = outcome(scheduler.ask(summary(2)));
  scheduler.serverError({ type: 'error', id: idOf(2), code: 'query-failed', message: 'out of memory' });
  await refused(failed, 'failed', /out of memory/);
  const cancelled = outcome(scheduler.ask(summary(3)));
  scheduler.serverError({ type: 'error', id: idOf(3), code: 'cancelled', message: 'cancelled' });
  await refused(cancelled, 'aborted');
});

test('an overloaded server is asked again shortly rather than failing the view', async () => {
  const { scheduler, idOf, requests } = harness();
  const ask = outcome(scheduler.ask(summary(1)));
  const firstId = idOf(1);
  scheduler.serverError({ type: 'error', id: firstId, code: 'overloaded', message: 'too many requests' });
  assert.equal(scheduler.stats().inFlight, 0);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(requests().length, 2);
  assert.notEqual(idOf(1), firstId);
  scheduler.finish(done(idOf(1)));
  await answered(ask);
});

test('params outside the protocol are refused in the worker, before anything is sent', async () => {
  const { scheduler, sent } = harness();
  await refused(outcome(scheduler.ask({ query: 'equity', params: { width: -1 } })), 'bad-params', /width/);
  scheduler.prefetch([{ query: 'equity', params: { width: -1 } }], 'hover');
  assert.deepEqual(sent, []);
});

test('Arrow batches are decoded into column tables; an unreadable batch fails the ask and cancels its request', async () => {
  const { scheduler, idOf, cancels } = harness();
  const ask = outcome(scheduler.ask(summary(1)));
  const ipc = tableToIPC(tableFromArrays({ run_id: ['base', 'alt'], total_pnl: Float64Array.from([12.5, -3]) }), 'stream');
  scheduler.receiveBatch(idOf(1), 0, ipc);
  scheduler.finish(done(idOf(1), { rows: 2 }));
  const table = (await answered(ask)).data as ColumnTable;
  assert.equal(table.length, 2);
  assert.deepEqual([...(table.columns.total_pnl as Float64Array)], [12.5, -3]);
  assert.deepEqual((table.columns.run_id as { dict: string[] }).dict, ['base', 'alt']);

  const broken = outcome(scheduler.ask(summary(2)));
  scheduler.receiveBatch(idOf(2), 0, ipc.subarray(0, 40)); // cut inside its schema message
  await refused(broken, 'failed', /batch 0 is not a readable Arrow IPC stream/);
  assert.deepEqual(cancels(), [idOf(2)]);
});

test('a zoom inside a cached series is previewed from the cache at once, then asked for exactly', async () => {
  const { scheduler, idOf } = harness();
  const whole: Spec<'equity'> = { query: 'equity', params: { width: 100 } };
  const ask = outcome(scheduler.ask(whole));
  const ts = Float64Array.from({ length: 60 }, (_, i) => i * MINUTE);
  const equity = Float64Array.from(ts, (_, i) => i * 10);
  const ipc = tableToIPC(tableFromArrays({ run_id: Array.from(ts, () => 'base'), ts, equity, drawdown: new Float64Array(60) }), 'stream');
  scheduler.receiveBatch(idOf('equity'), 0, ipc);
  scheduler.finish(done(idOf('equity'), { rows: 60 }));
  await answered(ask);

  const zoom: Spec<'equity'> = { query: 'equity', params: { width: 100, from: 10 * MINUTE, to: 20 * MINUTE } };
  const preview = scheduler.preview(zoom) as Answer<'equity'> | null;
  assert.ok(preview, 'a preview from the cached series');
  assert.equal(preview.provisional, true);
  assert.equal(preview.approximate, true);
  const series = preview.data as TimeSeries;
  assert.deepEqual([series.x[0], series.x.at(-1)], [600, 1200], 'cut to the zoomed range (epoch seconds)');
  assert.equal(series.values.equity![0]![0], 10, 'P&L counted from the start of the range');
  assert.equal(scheduler.stats().previews, 1);
  assert.equal(scheduler.preview({ query: 'summary', params: {} }), null, 'nothing to preview a summary from');
});

test('a request a draining session refused goes first on the next session, and nothing more goes out on the old one', async () => {
  const { scheduler, idOf, requests } = harness();
  const ask = outcome(scheduler.ask(summary(1)));
  const firstId = idOf(1);
  scheduler.serverError({ type: 'error', id: firstId, code: 'session-ending', message: 'session s is ending (draining)' });
  void outcome(scheduler.ask(summary(2)));
  assert.equal(requests().length, 1, 'nothing is sent to the draining session');
  // Its socket closes, a new session says hello.
  scheduler.offline();
  scheduler.online(DATASET);
  assert.deepEqual(
    requests().map((r) => r.label),
    [1, 1, 2],
  );
  assert.notEqual(idOf(1), firstId);
  scheduler.finish(done(idOf(1)));
  await answered(ask);
});
