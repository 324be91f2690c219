// The WebSocket protocol under hostile input, against a real session process behind a real
// control server: at least 10,000 seeded random and structured hostile messages over several
// sockets at once, with valid requests, cancels and exactness checks interleaved.
//
// Asserted, with the shared validator as the protocol's oracle (shared/messages.ts):
// - no session death: the same process serves to the end, its session never leaves `ready`;
// - every message is answered per the protocol: each invalid one (not JSON, wrong schema, binary,
//   over 64 KiB) with exactly one `bad-message` error; each valid request with exactly one `done`
//   or error of another code under its own id (a duplicate of one in flight gets `duplicate-id`); a valid cancel
//   with nothing; no `query-failed` ever (an internal failure, e.g. "bigint out of int64 range");
//   data frames only for valid requests, before their end; only frames the protocol defines;
// - what the protocol closes is closed with its code (invalid UTF-8: 1007, over 16 MiB: 1009);
// - valid queries interleaved with all of it are answered exactly as when asked alone.
// The seed is printed; TICKSCOPE_FUZZ_SEED and TICKSCOPE_FUZZ_MESSAGES replay or extend a run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tableFromIPC } from 'apache-arrow';
import type WebSocket from 'ws';
import { decodeDataFrame } from '../../shared/frame.js';
import {
  clientMessageValidator,
  serverMessageValidator,
  type DoneMessage,
  type ErrorMessage,
  type HelloMessage,
} from '../../shared/messages.js';
import { parseMessage } from '../../shared/validate.js';
import type { ControlServer } from '../../server/control/app.js';
import { processAlive, startTestServer } from '../support/control-server.js';
import { mulberry32 } from '../support/random.js';
import { SessionClient, createSession, rowsOf, type Answer } from '../support/session-client.js';

const SEED = Number(process.env['TICKSCOPE_FUZZ_SEED'] ?? 0x13b_f022);
const HOSTILE_MESSAGES = Number(process.env['TICKSCOPE_FUZZ_MESSAGES'] ?? 10_000);
/** Sockets fuzzed at once (one session; each socket has its own rate limit and in-flight cap). */
const SOCKETS = 5;
/** Messages per second per socket: under the session's 200/s token bucket (burst 400). */
const RATE = 150;
/** Valid requests a socket keeps in flight at most (the session refuses more than 32). */
const MAX_OUTSTANDING = 12;
/** The session's text message limit (socket-handler.ts). */
const MAX_MESSAGE_BYTES = 64 * 1024;

let server: ControlServer;
let wsUrl = '';
let sessionId = '';
let pid = 0;
let reference: SessionClient;
let catalog: { runs: string[]; sectors: string[]; tags: string[]; symbols: string[]; from: number; to: number };

type Ask = { query: string; params: Record<string, unknown> };

before(async () => {
  server = await startTestServer();
  const created = await createSession(server.url, { key: 'protocol-fuzz' });
  wsUrl = created.wsUrl;
  sessionId = created.id;
  reference = await SessionClient.connect(server.url, wsUrl);
  pid = server.sessions.get(sessionId)!.process!.pid!;
  const { dataset } = reference.hello;
  const symbols = rowsOf(await reference.ask('breakdown', { by: 'symbol', limit: 10_000 })).map((r) => String(r['key']));
  catalog = {
    runs: dataset.runs.map((r) => r.runId),
    sectors: dataset.sectors,
    tags: dataset.tags,
    symbols,
    from: dataset.range!.from,
    to: dataset.range!.to,
  };
});

after(async () => {
  await reference?.close();
  await server?.close();
});

function assertSessionAlive(when: string): void {
  const session = server.sessions.get(sessionId);
  assert.ok(session, `${when}: the session is gone`);
  assert.equal(session.state, 'ready', `${when}: session is ${session.state} (${session.reason})`);
  assert.equal(session.process?.pid, pid, `${when}: another process serves the session`);
  assert.ok(processAlive(pid), `${when}: the session process ${pid} died`);
  assert.ok(!session.history.some((e) => e.state === 'terminated'), `${when}: the session terminated`);
}

/** An answer's rows, bigints as numbers (JSON), for exact comparison. */
function answerText(answer: Answer): string {
  const parts = [...answer.parts.keys()].sort().map((part) => [part, rowsOf(answer, part)]);
  return JSON.stringify({ parts, rows: answer.done?.rows, total: answer.done?.total, source: answer.done?.source, notes: answer.done?.notes }, (_k, v: unknown) =>
    typeof v === 'bigint' ? Number(v) : v,
  );
}

// ---------------------------------------------------------------------------------------------
// Bounds of magnitude 2^63 and more: an exact answer, or bad-params naming the field.

test('filter and histogram bounds of magnitude >= 2^63 are answered exactly, or refused naming min and max', async () => {
  const ask = async (query: string, params: Record<string, unknown>) => {
    const answer = await reference.request({ query, params } as never);
    assert.equal(answer.error, null, `${query} ${JSON.stringify(params)}: ${answer.error?.code} ${answer.error?.message}`);
    return answer;
  };
  const rows = (answer: Answer) => JSON.stringify(rowsOf(answer), (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
  // A bound beyond every value selects nothing (or everything), as a bound just beyond them does.
  const none = await ask('summary', { filters: { barsHeld: { min: 1e9 } } });
  assert.ok(rowsOf(none).every((r) => r['trade_count'] === 0 || r['trade_count'] === 0n));
  for (const min of [2 ** 63, 2 ** 64, 1e300, Number.MAX_VALUE]) {
    assert.equal(rows(await ask('summary', { filters: { barsHeld: { min } } })), rows(none), `barsHeld.min ${min}`);
  }
  const all = await ask('trades', { limit: 10_000, sort: { column: 'trade_id' } });
  for (const [key, range] of [
    ['pnl', { min: -(2 ** 63), max: 2 ** 63 }],
    ['holdingMs', { max: 2 ** 64 }],
    ['mae', { min: -Number.MAX_VALUE }],
  ] as const) {
    const answer = await ask('trades', { limit: 10_000, sort: { column: 'trade_id' }, filters: { [key]: range } });
    assert.equal(rows(answer), rows(all), `${key} ${JSON.stringify(range)}`);
  }
  // Histogram bins over [-2^63, 2^63): bin 0 holds the losing trades, bin 1 the others, exactly
  // (the quotient alone put every |pnl| < 1024 in bin 1: v - min rounds to 2^63).
  const histogram = rowsOf(await ask('histogram', { field: 'pnl', bins: 2, min: -(2 ** 63), max: 2 ** 63 }));
  const every = rowsOf(await ask('export', { table: 'trades' }));
  assert.equal(every.length, reference.hello.dataset.tradeCount);
  for (const run of catalog.runs) {
    const trades = every.filter((t) => t['run_id'] === run);
    const count = (bin: number) => Number(histogram.find((h) => h['run_id'] === run && h['bin'] === bin)?.['count']);
    assert.equal(count(0), trades.filter((t) => (t['pnl'] as number) < 0).length, `${run}: losing trades in [-2^63, 0)`);
    assert.equal(count(1), trades.filter((t) => (t['pnl'] as number) >= 0).length, `${run}: other trades in [0, 2^63]`);
    assert.equal(histogram.find((h) => h['run_id'] === run && h['bin'] === 1)?.['lo'], 0);
  }
  // Bounds whose span is no double: no bin can be computed, said so with both fields.
  const wide = await reference.request({ query: 'histogram', params: { field: 'ret', bins: 10, min: -1e308, max: 1e308 } });
  assert.equal(wide.error?.code, 'bad-params');
  assert.match(wide.error!.message, /bounds min -1e\+308 and max 1e\+308 span more than a double holds/);
  assertSessionAlive('after the bounds');
});

// ---------------------------------------------------------------------------------------------
// The fuzzer

type Rng = () => number;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, list: readonly T[]): T => list[int(rng, list.length)]!;
const chance = (rng: Rng, p: number) => rng() < p;

/** Values that break naive code: types, extremes of number, hostile strings, prototype keys. */
const HOSTILE_VALUES: unknown[] = [
  null, true, false, 0, -0, -1, 1.5, 2 ** 31, 2 ** 32, 2 ** 53 + 2, 2 ** 63, -(2 ** 63), 2 ** 64, 1e21, 1e308, -1e308, 5e-324,
  '', ' ', '0', '1e999', 'NaN', 'x'.repeat(257), '\x1b[31m\x07\x00', '\u202Eevil', '\ud800', "'; DROP TABLE bars; --", '" OR 1=1 --',
  '../../etc/passwd', '$p0', '%s%n', '\u0000', '𝕏', [], [null], [[[]]], {}, { __proto__: null, polluted: 1 }, { constructor: { prototype: 1 } },
];

function hostileValue(rng: Rng): unknown {
  return pick(rng, HOSTILE_VALUES);
}

function numberRange(rng: Rng): Record<string, number> {
  const bound = () => pick(rng, [-1, 0, 0.5, 10, 1e6, 2 ** 63, -(2 ** 63), 1e308, -1e308, 5e-324, -Number.MAX_VALUE]);
  const range: Record<string, number> = {};
  if (chance(rng, 0.7)) range['min'] = bound();
  if (chance(rng, 0.7)) range['max'] = bound();
  return range;
}

/** Params valid for the schema, mostly valid for the dataset too (cheap queries on the tiny store). */
function validAsk(rng: Rng): Ask {
  const scope: Record<string, unknown> = {};
  if (chance(rng, 0.3)) scope['runs'] = [pick(rng, catalog.runs)];
  if (chance(rng, 0.4)) {
    const a = catalog.from + rng() * (catalog.to - catalog.from);
    const b = catalog.from + rng() * (catalog.to - catalog.from);
    scope['from'] = Math.min(a, b);
    scope['to'] = Math.max(a, b);
  }
  if (chance(rng, 0.5)) {
    const filters: Record<string, unknown> = {};
    if (chance(rng, 0.3)) filters['sectors'] = [pick(rng, catalog.sectors)];
    if (chance(rng, 0.3)) filters['symbols'] = [pick(rng, catalog.symbols), pick(rng, catalog.symbols)];
    if (chance(rng, 0.2)) filters['sides'] = [pick(rng, ['long', 'short'])];
    if (chance(rng, 0.2) && catalog.tags.length) filters['tags'] = [pick(rng, catalog.tags)];
    for (const key of ['pnl', 'ret', 'barsHeld', 'holdingMs', 'mae', 'mfe']) if (chance(rng, 0.15)) filters[key] = numberRange(rng);
    scope['filters'] = filters;
  }
  const width = 1 + int(rng, 2000);
  switch (int(rng, 10)) {
    case 0:
      return { query: 'summary', params: scope };
    case 1:
      return { query: 'equity', params: { ...scope, width } };
    case 2:
      return { query: 'exposure', params: { ...scope, width } };
    case 3:
      return { query: 'breakdown', params: { ...scope, by: pick(rng, ['sector', 'symbol', 'run', 'month', 'weekday', 'hour']), limit: 1 + int(rng, 200), offset: int(rng, 50) } };
    case 4:
      return { query: 'series', params: { ...scope, symbol: pick(rng, catalog.symbols), width, maxTrades: int(rng, 100) } };
    case 5:
      return {
        query: 'trades',
        params: { ...scope, limit: 1 + int(rng, 200), offset: pick(rng, [0, int(rng, 500), 999_999_999]), sort: { column: pick(rng, ['pnl', 'ret', 'symbol', 'exit_ts', 'tag']), descending: chance(rng, 0.5) } },
      };
    case 6: {
      const params: Record<string, unknown> = { ...scope, field: pick(rng, ['pnl', 'ret', 'bars_held', 'holding_ms', 'mae', 'mfe', 'daily_return']), bins: 1 + int(rng, 1000) };
      if (chance(rng, 0.5)) Object.assign(params, numberRange(rng));
      return { query: 'histogram', params };
    }
    case 7:
      return { query: 'heatmap', params: scope };
    case 8:
      return { query: 'rolling', params: { ...scope, window: 2 + int(rng, 30) } };
    default:
      return { query: 'export', params: { ...scope, table: pick(rng, ['trades', 'bars']), limit: 1 + int(rng, 500) } };
  }
}

/** A JSON path of `value` (object keys and array indexes), chosen at random. */
function randomPath(rng: Rng, value: unknown, depth = 0): (string | number)[] {
  if (depth > 4 || typeof value !== 'object' || value === null || chance(rng, 0.35)) return [];
  // Not value.map: a mutation may have given the array an own `constructor`.
  const keys: (string | number)[] = Array.isArray(value) ? Array.from({ length: value.length }, (_, i) => i) : Object.keys(value);
  if (keys.length === 0) return [];
  const key = pick(rng, keys);
  return [key, ...randomPath(rng, (value as Record<string | number, unknown>)[key], depth + 1)];
}

function setPath(target: Record<string, unknown>, at: (string | number)[], value: unknown, remove = false): void {
  if (at.length === 0) return;
  let node = target as Record<string | number, unknown>;
  for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  if (remove) delete node[at.at(-1)!];
  else node[at.at(-1)!] = value;
}

/** One structured hostile message: a valid request bent in one to three places. */
function mutatedRequest(rng: Rng, id: number): string {
  const message: Record<string, unknown> = { type: 'request', id, ...validAsk(rng) };
  const mutations = 1 + int(rng, 3);
  for (let i = 0; i < mutations; i++) {
    const at = randomPath(rng, message);
    switch (int(rng, 8)) {
      case 0:
        setPath(message, at, hostileValue(rng), chance(rng, 0.5));
        break;
      case 1:
        setPath(message, at.length ? at : ['params'], undefined, true);
        break;
      case 2: {
        const key = pick(rng, ['__proto__', 'constructor', 'view', '\x1b[2J', 'a'.repeat(300), 'prototype', 'toString']);
        const host = at.length && typeof message[at[0] as string] === 'object' ? (message[at[0] as string] as Record<string, unknown>) : message;
        if (host && typeof host === 'object') Object.defineProperty(host, key, { value: hostileValue(rng), enumerable: true, configurable: true, writable: true });
        break;
      }
      case 3:
        message['id'] = pick(rng, [0, -1, 2 ** 32, 1.5, `${id}`, null, 1e21, [id]]);
        break;
      case 4:
        message['query'] = pick(rng, ['drop', 'SUMMARY', 'summary ', '', 7, null, '__proto__', 'constructor', 'hasOwnProperty']);
        break;
      case 5:
        message['type'] = pick(rng, ['Request', 'cancel', 'hello', 'done', 1, null]);
        break;
      case 6:
        // Still valid for the schema, hostile for the dataset: unknown names, reversed ranges, huge bounds.
        if (typeof message['params'] !== 'object' || message['params'] === null || Array.isArray(message['params'])) message['params'] = {};
        (message['params'] as Record<string, unknown>)['filters'] = {
          [pick(rng, ['symbols', 'sectors', 'tags'])]: [pick(rng, ['NOPE', '\x1b[31mred', "'; DROP TABLE trades; --", '\u202E', 'x'.repeat(256)])],
          [pick(rng, ['pnl', 'ret', 'barsHeld', 'holdingMs', 'mae', 'mfe'])]: { min: pick(rng, [1, 2 ** 63, 1e308]), max: pick(rng, [-1, 0, 2 ** 64]) },
        };
        if (chance(rng, 0.5)) (message['params'] as Record<string, unknown>)['runs'] = [pick(rng, ['nope', '', 'base '])];
        if (chance(rng, 0.5)) Object.assign(message['params'] as Record<string, unknown>, { from: 8.64e15, to: -8.64e15 });
        break;
      default:
        setPath(message, at, pick(rng, [hostileValue(rng), [hostileValue(rng)], { x: hostileValue(rng) }]));
    }
  }
  const text = JSON.stringify(message);
  return text ?? 'undefined';
}

/** Text that is not a well-formed message at all. */
function junkText(rng: Rng, id: number): string {
  const valid = JSON.stringify({ type: 'request', id, ...validAsk(rng) });
  switch (int(rng, 12)) {
    case 0:
      return valid.slice(0, int(rng, valid.length)); // cut short
    case 1:
      return JSON.stringify(pick(rng, [null, 0, 'request', [], [1, 2], true, 1e308]));
    case 2:
      return '['.repeat(int(rng, 30_000)) + ']'.repeat(int(rng, 30_000)); // deep nesting
    case 3:
      return Array.from({ length: 1 + int(rng, 200) }, () => String.fromCharCode(int(rng, 0x3000))).join('');
    case 4:
      return `{"type":"request","type":"cancel","id":${id},"id":"x","query":"summary","params":{}}`; // duplicate keys
    case 5:
      return `{"type":"request","id":${id},"query":"histogram","params":{"field":"pnl","bins":10,"min":-1e999}}`; // Infinity
    case 6:
      return valid.replace(/"/g, "'");
    case 7:
      return `${valid}${valid}`;
    case 8:
      return ` \n\t${valid}\u0000`;
    case 9:
      return JSON.stringify({ type: 'request', id, query: 'summary', params: {}, pad: 'x'.repeat(MAX_MESSAGE_BYTES) }); // over 64 KiB
    case 10:
      return JSON.stringify(JSON.stringify({ type: 'request', id, query: 'summary', params: {} })); // a string of JSON
    default:
      return '';
  }
}

interface Sent {
  /** Bytes as sent, to predict the answer with the protocol's own validator. */
  expect: 'bad-message' | 'answer' | 'nothing';
  /** The request id of a valid request (the schema holds, so the id is its own). */
  requestId: number | null;
}

/** One fuzzed socket: what was sent and everything that came back, checked against the protocol as it arrives. */
class FuzzSocket {
  readonly sent: Sent[] = [];
  readonly terminals: (DoneMessage | ErrorMessage)[] = [];
  /** Valid requests by id: how many messages carried it. */
  readonly validIds = new Map<number, number>();
  /** Answers still due per valid request id (2 for a duplicate pair until its duplicate-id). */
  private readonly remaining = new Map<number, number>();
  /** Ids of the deliberate duplicate pairs (the same valid request twice in a row). */
  readonly duplicates = new Set<number>();
  /** Check asks by request id, with the frames of their answers. */
  readonly checks = new Map<number, { ask: number; answer: Answer }>();
  readonly violations: string[] = [];
  private nextId = 1;

  constructor(readonly client: SessionClient) {
    // The client reads frames as ArrayBuffers (binaryType 'arraybuffer', as a browser does).
    client.socket.on('message', (data, isBinary) => this.receive(data instanceof ArrayBuffer ? Buffer.from(data) : (data as Buffer), isBinary));
  }

  get socket(): WebSocket {
    return this.client.socket;
  }

  id(): number {
    return this.nextId++;
  }

  /** Valid requests still in flight (not yet answered), by id. */
  get outstanding(): number[] {
    return [...this.remaining.keys()];
  }

  send(payload: string | Buffer, binary = false): void {
    let sent: Sent;
    if (binary || Buffer.byteLength(payload) > MAX_MESSAGE_BYTES) sent = { expect: 'bad-message', requestId: null };
    else {
      const parsed = parseMessage(payload.toString(), clientMessageValidator);
      if (!parsed.ok) sent = { expect: 'bad-message', requestId: null };
      else if (parsed.value.type === 'cancel') sent = { expect: 'nothing', requestId: null };
      else sent = { expect: 'answer', requestId: parsed.value.id };
    }
    if (sent.requestId !== null) {
      this.validIds.set(sent.requestId, (this.validIds.get(sent.requestId) ?? 0) + 1);
      this.remaining.set(sent.requestId, (this.remaining.get(sent.requestId) ?? 0) + 1);
    }
    this.sent.push(sent);
    this.socket.send(payload, { binary });
  }

  check(index: number, ask: Ask): void {
    const id = this.id();
    this.checks.set(id, {
      ask: index,
      answer: { id, done: null, error: null, tables: [], parts: new Map(), progress: [], wireBytes: 0, elapsedMs: 0, firstBatchMs: Number.NaN },
    });
    this.send(JSON.stringify({ type: 'request', id, ...ask }));
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      const frame = decodeDataFrame(data);
      if (!this.validIds.has(frame.requestId)) this.violations.push(`a data frame for ${frame.requestId}, which no valid request carried`);
      else if (!this.remaining.has(frame.requestId)) this.violations.push(`a data frame for ${frame.requestId} after its end`);
      const check = this.checks.get(frame.requestId);
      if (check) {
        const table = tableFromIPC(frame.ipc);
        const part = table.schema.metadata.get('tickscope.part') ?? '';
        const list = check.answer.parts.get(part) ?? check.answer.parts.set(part, []).get(part)!;
        list.push(table);
        check.answer.tables.push(table);
      }
      return;
    }
    const parsed = parseMessage(data.toString(), serverMessageValidator);
    if (!parsed.ok) return void this.violations.push(`a server message outside the protocol: ${parsed.error}`);
    const message = parsed.value;
    if (message.type === 'hello') return void (message as HelloMessage);
    if (message.type === 'progress') {
      if (!this.remaining.has(message.id)) this.violations.push(`progress for ${message.id}, which is not in flight`);
      return;
    }
    this.terminals.push(message);
    if (message.id === null) return;
    const due = this.remaining.get(message.id);
    if (due !== undefined && (message.type === 'done' || message.code !== 'bad-message')) {
      if (due > 1) this.remaining.set(message.id, due - 1);
      else this.remaining.delete(message.id);
    }
    const check = this.checks.get(message.id);
    if (check && (message.type === 'done' || message.code !== 'bad-message')) {
      if (message.type === 'done') check.answer.done = message;
      else check.answer.error = message;
    }
  }
}

async function connect(): Promise<FuzzSocket> {
  return new FuzzSocket(await SessionClient.connect(server.url, wsUrl));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Checks sent between hostile messages: one of each query, asked alone first for the reference. */
function checkAsks(): Ask[] {
  const days = reference.hello.dataset.calendar.days;
  const range = { from: days[2]! + 600_000, to: days[days.length - 3]! - 600_000 };
  return [
    { query: 'summary', params: { ...range, filters: { sides: ['long'] } } },
    { query: 'equity', params: { width: 240 } },
    { query: 'exposure', params: { ...range, width: 97 } },
    { query: 'breakdown', params: { by: 'sector', sort: { column: 'pnl', descending: true }, limit: 20 } },
    { query: 'series', params: { symbol: catalog.symbols[1]!, width: 300, maxTrades: 50 } },
    { query: 'trades', params: { ...range, sort: { column: 'ret' }, offset: 7, limit: 40 } },
    { query: 'histogram', params: { field: 'holding_ms', bins: 16 } },
    { query: 'heatmap', params: {} },
    { query: 'rolling', params: { window: 3 } },
    { query: 'export', params: { table: 'trades', limit: 300 } },
  ];
}

test(`${HOSTILE_MESSAGES} seeded hostile messages on ${SOCKETS} sockets: no session death, every message answered per the protocol, checks exact`, async () => {
  console.log(`protocol fuzz: seed ${SEED} (TICKSCOPE_FUZZ_SEED=${SEED} replays it), ${HOSTILE_MESSAGES} hostile messages`);
  const asks = checkAsks();
  const alone: string[] = [];
  for (const ask of asks) {
    const answer = await reference.request(ask as never);
    assert.equal(answer.error, null, `${ask.query} alone: ${answer.error?.message}`);
    alone.push(answerText(answer));
  }

  const sockets = await Promise.all(Array.from({ length: SOCKETS }, () => connect()));
  try {
    await fuzz(sockets, asks, alone);
  } finally {
    await Promise.all(sockets.map((socket) => socket.client.close()));
  }

  // The session still answers exactly on a fresh connection.
  const fresh = await SessionClient.connect(server.url, wsUrl);
  try {
    for (const [i, ask] of asks.entries()) assert.equal(answerText(await fresh.request(ask as never)), alone[i], `${ask.query} after the fuzz`);
  } finally {
    await fresh.close();
  }
  assertSessionAlive('after the checks');
});

async function fuzz(sockets: FuzzSocket[], asks: Ask[], alone: string[]): Promise<void> {
  const started = performance.now();
  /** Set when one sender fails, so the others stop too. */
  let stopped = false;
  let hostile = 0;
  const kinds = new Map<string, number>();
  const count = (kind: string) => kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  let checksSent = 0;
  // Each socket sends RATE messages a second, in ticks of 20 ms, holding back while it has
  // MAX_OUTSTANDING valid requests in flight.
  await Promise.all(
    sockets.map(async (socket, s) => {
      // A generator per socket, drawn the same number of times whatever the timing: the messages
      // of a seed are the same on every run (only which in-flight id a cancel names may differ).
      const rng = mulberry32(SEED + s);
      const share = Math.ceil(HOSTILE_MESSAGES / SOCKETS);
      const perTick = Math.max(1, Math.round((RATE * 20) / 1000));
      let mine = 0;
      while (mine < share && !stopped) {
        const tick = performance.now();
        for (let k = 0; k < perTick && mine < share; k++) {
          if (socket.outstanding.length >= MAX_OUTSTANDING) break;
          const roll = rng();
          if (roll < 0.02) {
            const index = (checksSent++ + s) % asks.length;
            socket.check(index, asks[index]!);
            count('check');
            continue;
          }
          if (roll < 0.04) {
            socket.send(JSON.stringify({ type: 'request', id: socket.id(), ...validAsk(rng) }));
            count('valid');
            continue;
          }
          if (roll < 0.06) {
            // A cancel of something in flight (never a check), of an unknown id, or a malformed one.
            const inFlight = socket.outstanding.filter((id) => !socket.checks.has(id));
            const [ofInFlight, which, other, malformed] = [chance(rng, 0.6), rng(), pick(rng, [socket.id(), 0xffff_ffff, 0, -3, 'x']), chance(rng, 0.1)];
            const id = ofInFlight && inFlight.length ? inFlight[Math.floor(which * inFlight.length)]! : other;
            socket.send(JSON.stringify(malformed ? { type: 'cancel', id, extra: 1 } : { type: 'cancel', id }));
            count('cancel');
            continue;
          }
          if (roll < 0.07) {
            // The same valid request twice in a row: the second is a duplicate of one in flight.
            const id = socket.id();
            const text = JSON.stringify({ type: 'request', id, query: 'export', params: { table: 'trades', limit: 200 } });
            socket.duplicates.add(id);
            socket.send(text);
            socket.send(text);
            count('duplicate');
            mine += 1;
            hostile += 1;
            continue;
          }
          mine += 1;
          hostile += 1;
          const form = rng();
          if (form < 0.6) {
            socket.send(mutatedRequest(rng, socket.id()));
            count('mutated');
          } else if (form < 0.9) {
            socket.send(junkText(rng, socket.id()));
            count('junk');
          } else {
            const bytes = Buffer.alloc(int(rng, 64));
            for (let i = 0; i < bytes.length; i++) bytes[i] = int(rng, 256);
            socket.send(bytes, true);
            count('binary');
          }
        }
        await sleep(Math.max(0, 20 - (performance.now() - tick)));
      }
    }).map((sending) =>
      sending.catch((error: unknown) => {
        stopped = true;
        throw error;
      }),
    ),
  );
  const sentMs = performance.now() - started;

  // Every message answered: wait until each socket has all its answers (or give up and report).
  const expected = (socket: FuzzSocket) => socket.sent.filter((m) => m.expect !== 'nothing').length;
  const deadline = Date.now() + 60_000;
  while (sockets.some((socket) => socket.terminals.length < expected(socket)) && Date.now() < deadline) await sleep(50);
  const answeredMs = performance.now() - started;
  assertSessionAlive('after the fuzz');
  for (const socket of sockets) assert.equal(socket.socket.readyState, socket.socket.OPEN, 'a fuzzed socket was closed by the session');

  let rateLimited = 0;
  let queryFailed: string[] = [];
  let compared = 0;
  let refusedDuplicates = 0;
  for (const [s, socket] of sockets.entries()) {
    assert.deepEqual(socket.violations.slice(0, 5), [], `socket ${s}: ${socket.violations.length} protocol violations`);
    const limited = socket.terminals.filter((t) => t.type === 'error' && t.code === 'overloaded' && /messages per second/.test(t.message));
    rateLimited += limited.length;
    queryFailed = queryFailed.concat(socket.terminals.filter((t) => t.type === 'error' && t.code === 'query-failed').map((t) => (t as ErrorMessage).message));
    const badMessages = socket.terminals.filter((t) => t.type === 'error' && t.code === 'bad-message').length;
    const predictedBad = socket.sent.filter((m) => m.expect === 'bad-message').length;
    // Exact when no message was rate limited; a rate-limited one is answered `overloaded` instead.
    assert.ok(badMessages <= predictedBad && badMessages >= predictedBad - limited.length, `socket ${s}: ${badMessages} bad-message errors for ${predictedBad} invalid messages (${limited.length} rate limited)`);
    for (const [id, carried] of socket.validIds) {
      const answers = socket.terminals.filter((t) => t.id === id && (t.type === 'done' || t.code !== 'bad-message'));
      const extra = limited.filter((t) => t.id === id).length;
      assert.ok(answers.length >= carried && answers.length <= carried + extra, `socket ${s}: request ${id} (sent ${carried}x) got ${answers.length} answers: ${JSON.stringify(answers).slice(0, 300)}`);
      // The second of a pair is refused while the first is in flight (nearly always: they leave
      // together; a sender preempted between the two writes lets the first finish, and then the
      // second is a new request). Never is a request with an id in flight run twice.
      if (socket.duplicates.has(id) && answers.some((t) => t.type === 'error' && t.code === 'duplicate-id')) refusedDuplicates++;
    }
    const stray = socket.terminals.filter((t) => t.id !== null && !socket.validIds.has(t.id) && t.type === 'done');
    assert.deepEqual(stray, [], `socket ${s}: done for ids no valid request carried`);
    for (const { ask, answer } of socket.checks.values()) {
      if (answer.error?.code === 'overloaded' && extraLimited(limited, answer.id)) continue;
      assert.equal(answer.error, null, `socket ${s}: check ${asks[ask]!.query} (${answer.id}): ${answer.error?.code} ${answer.error?.message}`);
      assert.equal(answerText(answer), alone[ask], `socket ${s}: check ${asks[ask]!.query} (${answer.id}) differs from the same query asked alone`);
      compared++;
    }
  }
  assert.deepEqual(queryFailed.slice(0, 5), [], `${queryFailed.length} query-failed errors (internal failures)`);
  assert.ok(hostile >= HOSTILE_MESSAGES, `${hostile} hostile messages sent`);
  assert.ok(compared >= asks.length, `only ${compared} checks compared`);
  const pairs = sockets.reduce((n, socket) => n + socket.duplicates.size, 0);
  assert.ok(refusedDuplicates > pairs / 2, `only ${refusedDuplicates} of ${pairs} duplicate pairs got duplicate-id`);
  console.log(
    `protocol fuzz: ${hostile} hostile messages (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}) sent in ${Math.round(sentMs)} ms, ` +
      `all answered after ${Math.round(answeredMs)} ms; ${compared} checks exact; ${refusedDuplicates} of ${pairs} duplicates refused; ${rateLimited} rate limited`,
  );
}

function extraLimited(limited: (DoneMessage | ErrorMessage)[], id: number): boolean {
  return limited.some((t) => t.id === id);
}

test('what the protocol closes is closed with its code, and the session lives on', async () => {
  // Invalid UTF-8 in a text frame: 1007.
  const utf8 = await SessionClient.connect(server.url, wsUrl);
  utf8.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
  assert.equal((await utf8.closed).code, 1007);
  // A frame over the session's 16 MiB frame limit: 1009.
  const huge = await SessionClient.connect(server.url, wsUrl);
  huge.socket.send(Buffer.alloc(16 * 1024 * 1024 + 1, 0x20), { binary: false });
  assert.equal((await huge.closed).code, 1009);
  assertSessionAlive('after the closes');
  const after = await reference.ask('summary', {});
  assert.ok(after.done, 'the session still answers');
});
