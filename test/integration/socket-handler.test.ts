// The protocol machinery of one socket, in-process, over a fake WebSocket whose buffered amount
// the test controls: backpressure (a reader that does not read stops the pulling of DuckDB
// chunks), cancel (mid-stream and mid-query: the DuckDB query itself is interrupted and its
// connection freed), floods, oversized and malformed messages answered with an error while the
// socket stays usable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { tableFromIPC } from 'apache-arrow';
import { decodeDataFrame } from '../../shared/frame.js';
import { serverMessageValidator, type ServerMessage } from '../../shared/messages.js';
import { CancelledError } from '../../server/session/cancelled.js';
import { QueryRunner } from '../../server/session/query-runner.js';
import { SocketHandler, type SocketLimits } from '../../server/session/socket-handler.js';
import { tinyDataset } from '../support/datasets.js';
import { LocalSession } from '../support/local-session.js';

/** Just enough of ws.WebSocket for SocketHandler: what it sends is kept; draining is manual. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly messages: ServerMessage[] = [];
  readonly frames: { requestId: number; batchIndex: number; rows: number }[] = [];
  private fragments: Uint8Array[] = [];
  /** When false, every byte sent stays "buffered" until drain(). */
  flowing = true;

  send(data: string | Uint8Array, options?: { binary?: boolean; fin?: boolean }): void {
    if (typeof data === 'string') {
      const checked = serverMessageValidator.check(JSON.parse(data));
      assert.ok(checked.ok, checked.ok ? '' : checked.error);
      this.messages.push(checked.value);
      return;
    }
    if (!this.flowing) this.bufferedAmount += data.byteLength;
    this.fragments.push(data);
    if (options?.fin === false) return;
    const whole = Buffer.concat(this.fragments);
    this.fragments = [];
    const frame = decodeDataFrame(whole);
    this.frames.push({ requestId: frame.requestId, batchIndex: frame.batchIndex, rows: tableFromIPC(frame.ipc).numRows });
  }

  drain(): void {
    this.flowing = true;
    this.bufferedAmount = 0;
  }

  receive(message: unknown): void {
    this.emit('message', Buffer.from(typeof message === 'string' ? message : JSON.stringify(message)), false);
  }

  of(id: number | null): ServerMessage[] {
    return this.messages.filter((m) => m.type !== 'hello' && (m as { id: number | null }).id === id);
  }

  async settled(id: number, timeoutMs = 10_000): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.of(id).find((m) => m.type === 'done' || m.type === 'error');
      if (end) return end;
      if (Date.now() > deadline) throw new Error(`request ${id} did not finish`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

let session: LocalSession;

before(async () => {
  session = await LocalSession.open(await tinyDataset());
});
after(() => session?.close());

function handler(limits: Partial<SocketLimits> = {}, runner = session.runner) {
  const socket = new FakeSocket();
  const stats = { queriesServed: 0, bytesSent: 0 };
  const protocol = new SocketHandler(socket as never, {
    sessionId: 'test',
    dataset: { id: 'tiny', ...session.store.schema },
    catalog: session.store.catalog,
    runner,
    stats,
    log: () => {},
    limits,
  });
  return { socket, stats, protocol };
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('hello first, then answers tagged with their request ids, many in flight at once', async () => {
  const { socket } = handler();
  assert.equal(socket.messages[0]!.type, 'hello');
  const queries = [
    { query: 'summary', params: {} },
    { query: 'equity', params: { width: 100 } },
    { query: 'exposure', params: { width: 100 } },
    { query: 'breakdown', params: { by: 'sector', limit: 50 } },
    { query: 'trades', params: { limit: 20, sort: { column: 'pnl', descending: true } } },
    { query: 'histogram', params: { field: 'ret', bins: 10 } },
    { query: 'heatmap', params: {} },
    { query: 'rolling', params: { window: 5 } },
    { query: 'series', params: { symbol: [...session.store.catalog.symbols.keys()][0], width: 50 } },
  ];
  queries.forEach((q, i) => socket.receive({ type: 'request', id: 100 + i, ...q }));
  for (let i = 0; i < queries.length; i++) {
    const end = await socket.settled(100 + i);
    assert.equal(end.type, 'done', JSON.stringify(end));
    const done = end as Extract<ServerMessage, { type: 'done' }>;
    const frames = socket.frames.filter((f) => f.requestId === 100 + i);
    assert.equal(frames.reduce((n, f) => n + f.rows, 0), done.rows);
    assert.deepEqual(frames.map((f) => f.batchIndex), frames.map((_, k) => k));
    assert.ok(done.timings.planMs >= 0 && done.timings.executeMs >= 0 && done.timings.encodeMs >= 0);
    assert.ok(done.bytes > 0 && done.source.length > 0);
  }
});

test('backpressure: while the socket is over its high-water mark no DuckDB chunk is pulled', async () => {
  const { socket } = handler({ highWaterBytes: 64 * 1024, batchRows: 1024 });
  socket.flowing = false;
  socket.receive({ type: 'request', id: 1, query: 'export', params: { table: 'bars' } });
  await wait(300);
  const pulled = session.runner.stats.chunksPulled;
  const frames = socket.frames.length;
  await wait(300);
  assert.equal(session.runner.stats.chunksPulled, pulled, 'no chunk pulled while the reader is stalled');
  assert.equal(socket.frames.length, frames);
  assert.ok(socket.bufferedAmount < 64 * 1024 + 200 * 1024, `buffered ${socket.bufferedAmount} bytes stays near the mark`);
  assert.equal(socket.of(1).length, 0, 'not done yet');
  socket.drain();
  const end = await socket.settled(1);
  assert.equal(end.type, 'done');
  assert.equal((end as { rows: number }).rows, session.store.schema.barCount);
  assert.ok(socket.of(1).some((m) => m.type === 'progress'), 'progress while streaming');
});

test('cancel stops a stalled answer', async () => {
  const { socket } = handler({ highWaterBytes: 16 * 1024, batchRows: 512 });
  socket.flowing = false;
  socket.receive({ type: 'request', id: 7, query: 'export', params: { table: 'bars' } });
  await wait(100);
  socket.receive({ type: 'cancel', id: 7 });
  const cancelled = await socket.settled(7);
  assert.equal(cancelled.type, 'error');
  assert.equal((cancelled as { code: string }).code, 'cancelled');
  socket.drain();
  assert.equal(session.runner.stats.waiting, 0);
});

test('cancel interrupts the DuckDB query itself and frees its connection', async () => {
  const runner = new QueryRunner(session.store.instance, 1);
  try {
    const controller = new AbortController();
    const started = performance.now();
    const slow = runner.run({
      planner: () => ({ statements: [{ sql: 'SELECT count(*) FROM range(1000000000000) a, range(10) b WHERE a.range % 7 = b.range', params: {} }], source: 'test', notes: [] }),
      signal: controller.signal,
      onBatch: async () => {},
    });
    await wait(200);
    controller.abort('test cancel');
    await assert.rejects(slow, CancelledError);
    assert.ok(performance.now() - started < 3000, 'interrupted, not run to completion');
    // The only connection is free again: a new query runs at once.
    const quick = await runner.run({
      planner: () => ({ statements: [{ sql: 'SELECT 42 AS answer', params: {} }], source: 'test', notes: [] }),
      signal: new AbortController().signal,
      onBatch: async () => {},
    });
    assert.equal(quick.rows, 1);
    assert.deepEqual({ open: runner.stats.open, idle: runner.stats.idle, waiting: runner.stats.waiting }, { open: 1, idle: 1, waiting: 0 });
  } finally {
    runner.close();
  }
});

test('bad messages get an error with the request id and a reason; the socket stays usable', async () => {
  const { socket } = handler({ maxMessageBytes: 4096 });
  const cases: [string, number | null, RegExp][] = [
    ['{oops', null, /not JSON/],
    [JSON.stringify({ type: 'launch', id: 3 }), 3, /\/type is "launch"/],
    [JSON.stringify({ type: 'request', id: 4, query: 'drop', params: {} }), 4, /\/query is "drop"/],
    [JSON.stringify({ type: 'request', id: 5, query: 'equity', params: { width: 'wide' } }), 5, /width/],
    [JSON.stringify({ type: 'request', id: 6, query: 'trades', params: { limit: -1 } }), 6, /limit/],
    [JSON.stringify({ type: 'request', id: 7, query: 'trades', params: { limit: 1e9 } }), 7, /limit/],
    [JSON.stringify({ type: 'request', id: 8, query: 'trades', params: { limit: 5, offset: -3 } }), 8, /offset/],
    [JSON.stringify({ type: 'request', id: 9, query: 'trades', params: { limit: 5, sort: { column: 'pnl; DROP TABLE x' } } }), 9, /column/],
    [JSON.stringify({ type: 'request', id: 10, query: 'breakdown', params: { by: 'colour', limit: 5 } }), 10, /by/],
    [JSON.stringify({ type: 'request', id: 11, query: 'summary', params: { sql: 'x' } }), 11, /sql|properties/i],
    [JSON.stringify({ type: 'request', id: 12, query: 'summary', params: { filters: { symbols: ['NOPE'] } } }), 12, /unknown symbol "NOPE"/],
    [JSON.stringify({ type: 'request', id: 13, query: 'histogram', params: { field: 'pnl', bins: 0 } }), 13, /bins/],
    [JSON.stringify({ type: 'request', id: 14, query: 'summary', params: { padding: 'x'.repeat(5000) } }), 14, /larger than the 4096-byte limit/],
  ];
  for (const [text, id, pattern] of cases) {
    socket.receive(text);
    const error = id === null ? socket.of(null).at(-1) : await socket.settled(id);
    assert.equal(error?.type, 'error', text.slice(0, 80));
    assert.match((error as { message: string }).message, pattern, text.slice(0, 80));
  }
  socket.emit('message', Buffer.from([1, 2, 3]), true);
  assert.match((socket.of(null).at(-1) as { message: string }).message, /binary/);
  socket.receive({ type: 'request', id: 99, query: 'summary', params: {} });
  assert.equal((await socket.settled(99)).type, 'done');
});

test('duplicate ids, too many in flight and a flood are refused as such; the socket recovers', async () => {
  const { socket } = handler({ maxInFlight: 2, messagesPerSecond: 50, messageBurst: 20, highWaterBytes: 1024 });
  socket.flowing = false;
  socket.receive({ type: 'request', id: 1, query: 'export', params: { table: 'bars' } });
  socket.receive({ type: 'request', id: 1, query: 'summary', params: {} });
  socket.receive({ type: 'request', id: 2, query: 'export', params: { table: 'bars' } });
  socket.receive({ type: 'request', id: 3, query: 'summary', params: {} });
  assert.equal((socket.of(1).find((m) => m.type === 'error') as { code: string }).code, 'duplicate-id');
  assert.equal((await socket.settled(3) as { code: string }).code, 'overloaded');
  for (let i = 0; i < 100; i++) socket.receive({ type: 'cancel', id: 1000 + i });
  const flooded = socket.messages.filter((m) => m.type === 'error' && m.code === 'overloaded' && /per second/.test(m.message));
  assert.ok(flooded.length >= 70, `${flooded.length} refused of a 100-message flood`);
  socket.receive({ type: 'cancel', id: 1 });
  await wait(500);
  socket.receive({ type: 'cancel', id: 2 });
  socket.drain();
  await socket.settled(1);
  await socket.settled(2);
  socket.receive({ type: 'request', id: 4, query: 'summary', params: {} });
  assert.equal((await socket.settled(4)).type, 'done');
});

test('a draining session answers what is in flight and refuses a new request as session-ending; cancels still work', async () => {
  const { socket, protocol } = handler({ highWaterBytes: 16 * 1024, batchRows: 512 });
  socket.flowing = false;
  socket.receive({ type: 'request', id: 1, query: 'export', params: { table: 'bars' } });
  socket.receive({ type: 'request', id: 2, query: 'export', params: { table: 'bars' } });
  await wait(100);
  protocol.refuseNewRequests('draining');
  socket.receive({ type: 'request', id: 3, query: 'summary', params: {} });
  const refused = await socket.settled(3);
  assert.equal(refused.type, 'error');
  assert.equal((refused as { code: string }).code, 'session-ending');
  assert.match((refused as { message: string }).message, /session test is ending \(draining\).*new session/);
  socket.receive({ type: 'cancel', id: 2 });
  const cancelled = await socket.settled(2);
  assert.equal(cancelled.type, 'error');
  assert.equal((cancelled as { code: string }).code, 'cancelled');
  socket.drain();
  const done = await socket.settled(1);
  assert.equal(done.type, 'done', 'the request in flight before the drain is answered whole');
  assert.equal((done as { rows: number }).rows, session.store.schema.barCount);
});
