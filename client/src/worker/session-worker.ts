// The session worker: owns the server session and its WebSocket, validates every control
// message, decodes the Arrow data frames and hands column buffers to the UI by transfer.
// The UI thread never parses data.
import * as Comlink from 'comlink';
import { DataType, tableFromIPC, type Data, type Table, type Vector } from 'apache-arrow';
import {
  CreateSessionReply,
  EQUITY_COLUMNS,
  EquityParams as EquityParamsSchema,
  decodeDataFrame,
  serverMessageValidator,
  type ClientMessage,
  type DoneMessage,
  type EquityParams,
  type ErrorMessage,
  type QueryName,
} from '../../../shared/protocol.js';
import { compileValidator, parseMessage } from '../../../shared/validate.js';
import type {
  AlignedSeries,
  ConnectOptions,
  EquityResult,
  RunSeries,
  SessionView,
  SessionWorkerApi,
} from './types.js';

const MAX_RECONNECT_ATTEMPTS = 5;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 8_000;
const HELLO_TIMEOUT_MS = 10_000;

// Picks the variant by `type` first, so errors name the real problem.
const serverMessages = serverMessageValidator;
const createReplies = compileValidator(CreateSessionReply, 'POST /api/sessions reply');
const equityParams = compileValidator(EquityParamsSchema, 'equity params');

// ---------------------------------------------------------------------------------------------
// Errors

function abortError(message: string): Error {
  const error = new Error(message);
  error.name = 'AbortError';
  return error;
}

/** A failed request, with its id and query name in the message. Comlink keeps name + message. */
function requestError(query: QueryName, id: number, message: string, name = 'RequestError'): Error {
  const error = new Error(`${query} request ${id}: ${message}`);
  error.name = name;
  return error;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------
// Requests in flight

interface Frame {
  batchIndex: number;
  table: Table;
}

interface Pending {
  id: number;
  query: QueryName;
  sentAt: number;
  frames: Frame[];
  finish(done: DoneMessage, frames: Frame[], sentAt: number): void;
  reject(error: Error): void;
}

const pending = new Map<number, Pending>();
let nextRequestId = 1;
let currentEquityId: number | null = null;

function rejectAll(message: string): void {
  const all = [...pending.values()];
  pending.clear();
  currentEquityId = null;
  for (const p of all) p.reject(requestError(p.query, p.id, message, 'ConnectionError'));
}

function sendMessage(message: ClientMessage): void {
  if (!socket || socket.readyState !== WebSocket.OPEN) throw new Error('session is not connected');
  socket.send(JSON.stringify(message));
}

/** Drops a request locally and asks the server to stop it; its promise rejects as AbortError. */
function cancel(id: number, why: string): void {
  const p = pending.get(id);
  if (!p) return;
  pending.delete(id);
  if (currentEquityId === id) currentEquityId = null;
  try {
    sendMessage({ type: 'cancel', id });
  } catch {
    // The socket is gone; the server drops the request with it.
  }
  p.reject(requestError(p.query, id, why, 'AbortError'));
}

// ---------------------------------------------------------------------------------------------
// Session connection

let view: SessionView = { state: 'connecting' };
let listener: ((s: SessionView) => void) | null = null;
let options: ConnectOptions | null = null;
let socket: WebSocket | null = null;
let generation = 0; // bumps on every connection attempt; stale callbacks compare against it
let attempts = 0;
let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
let helloTimer: ReturnType<typeof setTimeout> | null = null;
let closedForGood = false;
let settleWaiters: Array<(v: SessionView) => void> = [];

function setView(next: SessionView): void {
  view = next;
  if (next.state === 'ready' || next.state === 'lost') {
    const waiters = settleWaiters;
    settleWaiters = [];
    for (const w of waiters) w(next);
  }
  try {
    // A proxied callback; the UI may be gone (worker about to be terminated).
    void Promise.resolve(listener?.(next)).catch(() => undefined);
  } catch {
    // ignore
  }
}

/** Reports a problem without changing the connection state. */
function reportError(message: string): void {
  console.warn(`[tickscope worker] ${message}`);
  setView({ ...view, error: message });
}

function detachSocket(): void {
  if (helloTimer) clearTimeout(helloTimer);
  helloTimer = null;
  const s = socket;
  socket = null;
  if (s) {
    s.onopen = s.onmessage = s.onclose = s.onerror = null;
    if (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING) s.close(1000, 'client closing');
  }
}

function describeClose(event: CloseEvent): string {
  const reason = event.reason ? `: ${event.reason}` : '';
  switch (event.code) {
    case 1000:
      return `the server closed the session connection${reason}`;
    case 1001:
      return `the session is shutting down${reason}`;
    case 1006:
      return 'the session connection dropped (no close frame)';
    default:
      return `the session connection closed with code ${event.code}${reason}`;
  }
}

function scheduleReconnect(reason: string): void {
  if (closedForGood) return;
  const base = { sessionId: view.sessionId, dataset: view.dataset } as const;
  if (attempts >= MAX_RECONNECT_ATTEMPTS) {
    setView({ ...base, state: 'lost', error: `${reason} (gave up after ${attempts} attempts to reconnect)` });
    return;
  }
  attempts += 1;
  const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempts - 1)) * (0.8 + 0.4 * Math.random());
  setView({
    ...base,
    state: 'reconnecting',
    error: `${reason}; reconnecting (attempt ${attempts} of ${MAX_RECONNECT_ATTEMPTS}) in ${(delay / 1000).toFixed(1)} s`,
  });
  const gen = generation;
  reconnectTimer = setTimeout(() => {
    reconnectTimer = null;
    if (gen === generation) void open();
  }, delay);
}

async function createSession(opts: ConnectOptions): Promise<CreateSessionReply> {
  const body: { key: string; dataset?: string } = { key: opts.key };
  if (opts.dataset) body.dataset = opts.dataset;
  const response = await fetch(new URL('/api/sessions', self.location.href), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    let detail = text.slice(0, 200);
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') detail = parsed.message;
    } catch {
      // not JSON; keep the text
    }
    throw new Error(`POST /api/sessions answered ${response.status}${detail ? `: ${detail}` : ''}`);
  }
  const checked = parseMessage(text, createReplies);
  if (!checked.ok) throw new Error(checked.error);
  return checked.value;
}

function webSocketUrl(wsUrl: string): string {
  const url = new URL(wsUrl, self.location.href);
  if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol === 'http:') url.protocol = 'ws:';
  return url.href;
}

async function open(): Promise<void> {
  if (!options || closedForGood) return;
  const gen = ++generation;
  detachSocket();
  let reply: CreateSessionReply;
  try {
    reply = await createSession(options);
  } catch (error) {
    if (gen === generation) scheduleReconnect(`could not get a session: ${describe(error)}`);
    return;
  }
  if (gen !== generation) return;

  let s: WebSocket;
  try {
    s = new WebSocket(webSocketUrl(reply.wsUrl));
  } catch (error) {
    scheduleReconnect(`could not open the session socket: ${describe(error)}`);
    return;
  }
  s.binaryType = 'arraybuffer';
  socket = s;
  helloTimer = setTimeout(() => {
    if (socket !== s) return;
    detachSocket();
    rejectAll('session connection closed');
    scheduleReconnect(`session ${reply.id} sent no hello within ${HELLO_TIMEOUT_MS / 1000} s`);
  }, HELLO_TIMEOUT_MS);
  s.onmessage = (event: MessageEvent<unknown>) => {
    if (socket === s) onMessage(event.data);
  };
  s.onerror = () => {
    // A close event always follows; it carries the useful detail.
  };
  s.onclose = (event: CloseEvent) => {
    if (socket !== s) return;
    socket = null;
    if (helloTimer) clearTimeout(helloTimer);
    helloTimer = null;
    rejectAll('session connection closed');
    scheduleReconnect(describeClose(event));
  };
}

// ---------------------------------------------------------------------------------------------
// Incoming messages

function onMessage(data: unknown): void {
  if (typeof data === 'string') onText(data);
  else if (data instanceof ArrayBuffer) onBinary(data);
  else reportError(`unexpected WebSocket frame of type ${Object.prototype.toString.call(data)}`);
}

function onText(text: string): void {
  const checked = parseMessage(text, serverMessages);
  if (!checked.ok) {
    let type: unknown;
    let id: unknown;
    try {
      ({ type, id } = JSON.parse(text) as { type?: unknown; id?: unknown });
    } catch {
      // not JSON at all
    }
    if (type === 'hello' && view.state !== 'ready') {
      // A hello we cannot read will not get better by retrying (e.g. a protocol version skew).
      closedForGood = true;
      detachSocket();
      rejectAll('session connection closed');
      setView({ state: 'lost', error: `the server's hello is not one this client understands: ${checked.error}` });
      return;
    }
    const p = typeof id === 'number' ? pending.get(id) : undefined;
    if (p) {
      pending.delete(p.id);
      if (currentEquityId === p.id) currentEquityId = null;
      p.reject(requestError(p.query, p.id, `unreadable answer from the server: ${checked.error}`));
    } else {
      reportError(`the server sent a message this client cannot read: ${checked.error}`);
    }
    return;
  }
  const message = checked.value;
  switch (message.type) {
    case 'hello': {
      if (helloTimer) clearTimeout(helloTimer);
      helloTimer = null;
      attempts = 0;
      setView({ state: 'ready', sessionId: message.sessionId, dataset: message.dataset });
      return;
    }
    case 'done': {
      const p = pending.get(message.id);
      if (!p) return; // cancelled or superseded: drop
      pending.delete(message.id);
      if (currentEquityId === message.id) currentEquityId = null;
      try {
        p.finish(message, p.frames, p.sentAt);
      } catch (error) {
        p.reject(requestError(p.query, p.id, describe(error)));
      }
      return;
    }
    case 'error':
      onServerError(message);
      return;
  }
}

function onServerError(message: ErrorMessage): void {
  const p = message.id === null ? undefined : pending.get(message.id);
  if (!p) {
    if (message.id === null || message.code !== 'cancelled') {
      reportError(`server error${message.id === null ? '' : ` for request ${message.id}`} (${message.code}): ${message.message}`);
    }
    return;
  }
  pending.delete(p.id);
  if (currentEquityId === p.id) currentEquityId = null;
  p.reject(
    requestError(p.query, p.id, `${message.code}: ${message.message}`, message.code === 'cancelled' ? 'AbortError' : 'RequestError'),
  );
}

function onBinary(buffer: ArrayBuffer): void {
  let frame;
  try {
    frame = decodeDataFrame(buffer);
  } catch (error) {
    reportError(`unreadable data frame: ${describe(error)}`);
    return;
  }
  const p = pending.get(frame.requestId);
  if (!p) return; // late frame of a cancelled request
  try {
    p.frames.push({ batchIndex: frame.batchIndex, table: tableFromIPC(frame.ipc) });
  } catch (error) {
    cancel(p.id, 'dropped');
    p.reject(requestError(p.query, p.id, `batch ${frame.batchIndex} is not a readable Arrow IPC stream: ${describe(error)}`));
  }
}

// ---------------------------------------------------------------------------------------------
// Equity answer assembly

interface Segment {
  runId: string;
  start: number;
  end: number;
}

const utf8 = new TextDecoder();

function sameBytes(bytes: Uint8Array, a0: number, a1: number, b0: number, b1: number): boolean {
  if (a1 - a0 !== b1 - b0) return false;
  for (let i = 0; i < a1 - a0; i++) if (bytes[a0 + i] !== bytes[b0 + i]) return false;
  return true;
}

/** Splits a run_id column into runs of equal ids without decoding a string per row. */
function runSegments(column: Vector): Segment[] {
  const segments: Segment[] = [];
  const n = column.length;
  if (n === 0) return segments;
  const only: Data | undefined = column.data.length === 1 ? column.data[0] : undefined;

  if (only && only.nullCount === 0 && DataType.isDictionary(only.type) && only.dictionary) {
    const keys = only.values as ArrayLike<number | bigint>;
    const dictionary = only.dictionary;
    let start = 0;
    for (let i = 1; i <= n; i++) {
      if (i === n || keys[i] !== keys[start]) {
        segments.push({ runId: String(dictionary.get(Number(keys[start]))), start, end: i });
        start = i;
      }
    }
    return segments;
  }
  if (only && only.nullCount === 0 && DataType.isUtf8(only.type)) {
    const offsets = only.valueOffsets as Int32Array;
    const bytes = only.values as Uint8Array;
    let start = 0;
    for (let i = 1; i <= n; i++) {
      if (i === n || !sameBytes(bytes, offsets[start]!, offsets[start + 1]!, offsets[i]!, offsets[i + 1]!)) {
        segments.push({ runId: utf8.decode(bytes.subarray(offsets[start]!, offsets[start + 1]!)), start, end: i });
        start = i;
      }
    }
    return segments;
  }
  // General path (nulls, LargeUtf8, several chunks): one get() per row.
  let start = 0;
  let current = String(column.get(0) ?? '(none)');
  for (let i = 1; i <= n; i++) {
    const id = i === n ? null : String(column.get(i) ?? '(none)');
    if (id !== current) {
      segments.push({ runId: current, start, end: i });
      start = i;
      if (id !== null) current = id;
    }
  }
  return segments;
}

/** A numeric column as a Float64Array view (no copy when it already is a null-free Float64). */
function floatColumn(column: Vector): Float64Array {
  if (DataType.isFloat(column.type) && column.nullCount === 0) {
    const values = column.toArray();
    if (values instanceof Float64Array) return values;
  }
  const out = new Float64Array(column.length);
  for (let i = 0; i < column.length; i++) {
    const v: unknown = column.get(i);
    out[i] = v === null || v === undefined ? Number.NaN : Number(v);
  }
  return out;
}

interface RunChunks {
  runId: string;
  length: number;
  ts: Float64Array[];
  equity: Float64Array[];
  drawdown: Float64Array[];
}

function concat(chunks: Float64Array[], length: number, scale = 1): Float64Array {
  const out = new Float64Array(length);
  let at = 0;
  for (const chunk of chunks) {
    if (scale === 1) out.set(chunk, at);
    else for (let i = 0; i < chunk.length; i++) out[at + i] = chunk[i]! * scale;
    at += chunk.length;
  }
  return out;
}

function assembleRuns(frames: Frame[]): RunSeries[] {
  const byRun = new Map<string, RunChunks>();
  const ordered = [...frames].sort((a, b) => a.batchIndex - b.batchIndex);
  for (const { batchIndex, table } of ordered) {
    if (table.numRows === 0) continue;
    for (const name of EQUITY_COLUMNS) {
      if (!table.schema.fields.some((f) => f.name === name)) {
        throw new Error(
          `batch ${batchIndex} has no "${name}" column (columns: ${table.schema.fields.map((f) => f.name).join(', ')})`,
        );
      }
    }
    for (const batch of table.batches) {
      const ts = floatColumn(batch.getChild('ts')!);
      const equity = floatColumn(batch.getChild('equity')!);
      const drawdown = floatColumn(batch.getChild('drawdown')!);
      for (const { runId, start, end } of runSegments(batch.getChild('run_id')!)) {
        let entry = byRun.get(runId);
        if (!entry) {
          entry = { runId, length: 0, ts: [], equity: [], drawdown: [] };
          byRun.set(runId, entry);
        }
        entry.ts.push(ts.subarray(start, end));
        entry.equity.push(equity.subarray(start, end));
        entry.drawdown.push(drawdown.subarray(start, end));
        entry.length += end - start;
      }
    }
  }
  return [...byRun.values()].map((r) => ({
    runId: r.runId,
    ts: concat(r.ts, r.length, 1 / 1000),
    equity: concat(r.equity, r.length),
    drawdown: concat(r.drawdown, r.length),
  }));
}

/** Resamples `y` (at `xs`, ascending) onto `grid`: exact where they meet, linear between, NaN outside. */
function resample(xs: Float64Array, y: Float64Array, grid: Float64Array): { values: Float64Array; gaps: boolean } {
  const out = new Float64Array(grid.length);
  let gaps = false;
  let j = 0;
  const n = xs.length;
  for (let i = 0; i < grid.length; i++) {
    const x = grid[i]!;
    while (j < n - 1 && xs[j + 1]! <= x) j++;
    const x0 = xs[j]!;
    if (n === 0 || x < x0 || x > xs[n - 1]!) {
      out[i] = Number.NaN;
      gaps = true;
    } else if (x === x0 || j === n - 1) {
      out[i] = y[j]!;
    } else {
      const x1 = xs[j + 1]!;
      out[i] = y[j]! + ((y[j + 1]! - y[j]!) * (x - x0)) / (x1 - x0);
    }
  }
  return { values: out, gaps };
}

function align(runs: RunSeries[]): AlignedSeries {
  if (runs.length === 0) return { x: new Float64Array(0), equity: [], drawdown: [], gapFree: true };
  const first = runs[0]!;
  const same = runs.every(
    (r) => r.ts.length === first.ts.length && r.ts.every((v, i) => v === first.ts[i]),
  );
  if (same) {
    return { x: first.ts, equity: runs.map((r) => r.equity), drawdown: runs.map((r) => r.drawdown), gapFree: true };
  }
  const all = new Float64Array(runs.reduce((n, r) => n + r.ts.length, 0));
  let at = 0;
  for (const r of runs) {
    all.set(r.ts, at);
    at += r.ts.length;
  }
  all.sort();
  let unique = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[unique - 1]) all[unique++] = all[i]!;
  const x = all.slice(0, unique);
  let gapFree = true;
  const equity: Float64Array[] = [];
  const drawdown: Float64Array[] = [];
  for (const r of runs) {
    const e = resample(r.ts, r.equity, x);
    const d = resample(r.ts, r.drawdown, x);
    if (e.gaps) gapFree = false;
    equity.push(e.values);
    drawdown.push(d.values);
  }
  return { x, equity, drawdown, gapFree };
}

function buildEquityResult(done: DoneMessage, frames: Frame[], sentAt: number): EquityResult {
  const runs = assembleRuns(frames);
  const aligned = align(runs);
  return {
    runs,
    aligned,
    rows: done.rows,
    bytes: done.bytes,
    approximate: done.approximate,
    timings: done.timings,
    elapsedMs: performance.now() - sentAt,
  };
}

function transferables(result: EquityResult): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const add = (a: Float64Array) => buffers.add(a.buffer as ArrayBuffer);
  for (const r of result.runs) [r.ts, r.equity, r.drawdown].forEach(add);
  add(result.aligned.x);
  result.aligned.equity.forEach(add);
  result.aligned.drawdown.forEach(add);
  return [...buffers];
}

// ---------------------------------------------------------------------------------------------
// API

const api: SessionWorkerApi = {
  connect(opts, onState) {
    const checked = { key: opts.key, ...(opts.dataset ? { dataset: opts.dataset } : {}) };
    options = checked;
    listener = onState;
    closedForGood = false;
    attempts = 0;
    const settled = new Promise<SessionView>((resolve) => settleWaiters.push(resolve));
    setView({ state: 'connecting' });
    void open();
    return settled;
  },

  async retry() {
    if (!options) throw new Error('retry() before connect()');
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    closedForGood = false;
    attempts = 0;
    setView({ sessionId: view.sessionId, dataset: view.dataset, state: 'connecting' });
    await open();
  },

  equity(params: EquityParams): Promise<EquityResult> {
    if (currentEquityId !== null) cancel(currentEquityId, 'superseded by a newer equity request');
    const id = nextRequestId++;
    return new Promise<EquityResult>((resolve, reject) => {
      const valid = equityParams.check(params);
      if (!valid.ok) {
        reject(requestError('equity', id, valid.error, 'RangeError'));
        return;
      }
      if (view.state !== 'ready' || !socket || socket.readyState !== WebSocket.OPEN) {
        reject(requestError('equity', id, `session is not connected (${view.state})`, 'ConnectionError'));
        return;
      }
      pending.set(id, {
        id,
        query: 'equity',
        sentAt: performance.now(),
        frames: [],
        finish(done, frames, sentAt) {
          const result = buildEquityResult(done, frames, sentAt);
          resolve(Comlink.transfer(result, transferables(result)));
        },
        reject,
      });
      currentEquityId = id;
      try {
        sendMessage({ type: 'request', id, query: 'equity', params: valid.value });
      } catch (error) {
        pending.delete(id);
        currentEquityId = null;
        reject(requestError('equity', id, describe(error), 'ConnectionError'));
      }
    });
  },

  close() {
    closedForGood = true;
    generation++;
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    detachSocket();
    rejectAll('session connection closed');
  },
};

Comlink.expose(api);
