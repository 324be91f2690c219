// The session worker: owns the server session and its WebSocket, validates every control
// message, multiplexes the views' queries over the socket (superseded ones are cancelled),
// decodes the Arrow data frames, keeps a byte-bounded cache of decoded answers, answers zooms
// from that cache at once while the exact slice loads, prefetches the likely next step, and
// hands column buffers to the UI by transfer. The UI thread never parses data.
import * as Comlink from 'comlink';
import { tableFromIPC } from 'apache-arrow';
import { Type } from '@sinclair/typebox';
import {
  CreateSessionReply,
  DatasetInfo,
  QueuedSessionReply,
  clientMessageValidator,
  decodeDataFrame,
  serverMessageValidator,
  type ClientMessage,
  type DatasetSchema,
  type DoneMessage,
  type ErrorMessage,
  type QueryRequest,
} from '../../../shared/protocol.js';
import { compileValidator, parseMessage } from '../../../shared/validate.js';
import { AnswerCache, cacheKey, familyKey, sliceEntry, type Entry } from './cache.js';
import { cloneForTransfer, decodeAnswer, sizeOf, type Frame } from './decode.js';
import type {
  Answer,
  AskOptions,
  AskQuery,
  CacheStats,
  ConnectOptions,
  PreparationView,
  QueueView,
  SessionView,
  SessionWorkerApi,
  Spec,
} from './types.js';

const MAX_RECONNECT_ATTEMPTS = 6;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 8_000;
const HELLO_TIMEOUT_MS = 10_000;
/** Least time between two asks for a session while queued. */
const MIN_QUEUE_POLL_MS = 500;
/** Decoded answers kept for instant re-use (back, zoom out, scroll back, hover then click). */
const CACHE_BYTES = 96 * 2 ** 20;
/** The server allows 32 requests in flight per socket; stay well below. */
const MAX_IN_FLIGHT = 24;
/** Prefetches never take more than this many of those slots, so a click is never queued behind them. */
const MAX_BACKGROUND_IN_FLIGHT = 2;

/** Wall-clock marks of the connection's first steps (Date.now()), reported with the view. */
const marks: Record<string, number> = { workerStart: Date.now() };

const createReplies = compileValidator(CreateSessionReply, 'POST /api/sessions reply');
const queuedReplies = compileValidator(QueuedSessionReply, 'POST /api/sessions 202 reply');
const datasetLists = compileValidator(Type.Array(DatasetInfo), 'GET /api/datasets reply');

// ---------------------------------------------------------------------------------------------
// Errors

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------
// Flights: one per distinct query in progress, shared by every ask (and prefetch) that wants it

interface Waiter {
  flight: Flight;
  view: string | undefined;
  askedAt: number;
  resolve(answer: Answer): void;
  reject(error: Error): void;
}

interface Flight {
  key: string;
  spec: Spec;
  /** Wire id while sent; null while queued (before the first send or after a reconnect). */
  id: number | null;
  frames: Frame[];
  waiters: Set<Waiter>;
  /** Scheduled after everything else, few at a time (prefetches, low-priority asks). */
  low: boolean;
  /** A prefetch: finishes into the cache even when nobody waits for it. */
  keep: boolean;
  group: string | null;
  sentAt: number;
}

const cache = new AnswerCache(CACHE_BYTES);
const flights = new Map<string, Flight>(); // by cache key
const byWireId = new Map<number, Flight>();
const views = new Map<string, Waiter>();
const queue: Flight[] = []; // not yet sent, in ask order
let nextRequestId = 1;
const stats = { hits: 0, previews: 0, misses: 0, prefetched: 0, preempted: 0 };

function connected(): boolean {
  return view.state === 'ready' && socket !== null && socket.readyState === WebSocket.OPEN;
}

function sendMessage(message: ClientMessage): void {
  if (!socket || socket.readyState !== WebSocket.OPEN) throw new Error('session is not connected');
  socket.send(JSON.stringify(message));
}

/**
 * Sends queued flights, most urgent first: what a view is waiting for, at once (cancelling
 * background work in progress, which is queued again); then, only while no view is waiting,
 * prefetches (the newest first: the pointer's latest row is the likeliest next click) a few at a
 * time, and after them low-priority asks (sparklines). A click never queues behind a guess.
 */
function pump(): void {
  if (!connected()) return;
  let foreground = 0;
  let background = 0;
  for (const f of byWireId.values()) {
    if (f.low) background++;
    else foreground++;
  }
  const send = (flight: Flight): boolean => {
    queue.splice(queue.indexOf(flight), 1);
    const id = nextRequestId++;
    flight.id = id;
    flight.frames = [];
    flight.sentAt = performance.now();
    byWireId.set(id, flight);
    try {
      sendMessage({ type: 'request', id, query: flight.spec.query, params: flight.spec.params } as QueryRequest);
      return true;
    } catch {
      byWireId.delete(id);
      flight.id = null;
      queue.unshift(flight);
      return false;
    }
  };
  const urgent = queue.filter((f) => !f.low);
  // A view waits: the session's DuckDB threads go to it, not to guesses. Background flights in
  // progress are cancelled (the server interrupts their queries) and queued again behind it.
  if (urgent.length > 0) preemptBackground();
  for (const flight of urgent) {
    if (byWireId.size >= MAX_IN_FLIGHT || !send(flight)) return;
    foreground++;
  }
  // Background work only while no view waits (it was preempted for one just now).
  if (foreground > 0) return;
  const prefetches = queue.filter((f) => f.low && f.keep).reverse();
  for (const flight of prefetches) {
    if (background >= MAX_BACKGROUND_IN_FLIGHT || byWireId.size >= MAX_IN_FLIGHT || !send(flight)) return;
    background++;
  }
  if (queue.some((f) => f.low && f.keep)) return;
  for (const flight of queue.filter((f) => f.low && !f.keep)) {
    if (background >= MAX_BACKGROUND_IN_FLIGHT || byWireId.size >= MAX_IN_FLIGHT || !send(flight)) return;
    background++;
  }
}

/** Cancels the background flights in progress and queues them again. */
function preemptBackground(): void {
  for (const [id, flight] of byWireId) {
    if (!flight.low) continue;
    byWireId.delete(id);
    try {
      sendMessage({ type: 'cancel', id });
    } catch {
      // The socket is gone; the server drops the request with it.
    }
    flight.id = null;
    flight.frames = [];
    queue.push(flight);
    stats.preempted++;
  }
}

function dropFlight(flight: Flight, why: string): void {
  flights.delete(flight.key);
  const q = queue.indexOf(flight);
  if (q >= 0) queue.splice(q, 1);
  if (flight.id !== null) {
    byWireId.delete(flight.id);
    try {
      sendMessage({ type: 'cancel', id: flight.id });
    } catch {
      // The socket is gone; the server drops the request with it.
    }
    flight.id = null;
  }
  for (const w of flight.waiters) {
    if (w.view && views.get(w.view) === w) views.delete(w.view);
    w.reject(namedError('AbortError', `${flight.spec.query}: ${why}`));
  }
  flight.waiters.clear();
  pump();
}

/** Takes a waiter off its flight; the flight is cancelled when nobody else wants it. */
function detach(waiter: Waiter, why: string): void {
  const { flight } = waiter;
  if (waiter.view && views.get(waiter.view) === waiter) views.delete(waiter.view);
  if (!flight.waiters.delete(waiter)) return;
  waiter.reject(namedError('AbortError', `${flight.spec.query}: ${why}`));
  if (flight.waiters.size === 0 && !flight.keep) dropFlight(flight, why);
}

function rangeOf(spec: Spec, dataset: DatasetSchema | undefined): { from: number; to: number } {
  const p = spec.params as { from?: number; to?: number };
  return {
    from: p.from ?? dataset?.range?.from ?? Number.NEGATIVE_INFINITY,
    to: p.to ?? dataset?.range?.to ?? Number.POSITIVE_INFINITY,
  };
}

function answerFrom(entry: Entry, askedAt: number, extra: { cached: boolean; provisional?: boolean }): Answer {
  return {
    query: entry.spec.query,
    data: entry.data,
    ...entry.meta,
    cached: extra.cached,
    provisional: extra.provisional ?? false,
    elapsedMs: performance.now() - askedAt,
  } as Answer;
}

/** The answer with its buffers copied for transfer (the cache keeps the originals). */
function transferable<A extends Answer>(answer: A): A {
  const { value, buffers } = cloneForTransfer(answer.data);
  return Comlink.transfer({ ...answer, data: value }, buffers);
}

function finishFlight(flight: Flight, done: DoneMessage): void {
  flights.delete(flight.key);
  if (flight.id !== null) byWireId.delete(flight.id);
  let entry: Entry;
  try {
    const data = decodeAnswer(flight.spec.query, flight.frames);
    const range = rangeOf(flight.spec, view.dataset);
    entry = {
      key: flight.key,
      family: familyKey(flight.spec),
      spec: flight.spec,
      data,
      meta: {
        approximate: done.approximate,
        total: done.total ?? null,
        notes: done.notes,
        rows: done.rows,
        bytes: done.bytes,
        timings: done.timings,
        source: done.source,
      },
      bytes: sizeOf(data),
      from: range.from,
      to: range.to,
    };
  } catch (error) {
    failFlight(flight, namedError('RequestError', `${flight.spec.query}: unreadable answer: ${describe(error)}`));
    return;
  }
  flight.frames = [];
  cache.set(entry);
  if (flight.keep && flight.waiters.size === 0) stats.prefetched++;
  for (const w of flight.waiters) {
    if (w.view && views.get(w.view) === w) views.delete(w.view);
    w.resolve(transferable(answerFrom(entry, w.askedAt, { cached: false })));
  }
  flight.waiters.clear();
  pump();
}

function failFlight(flight: Flight, error: Error): void {
  flights.delete(flight.key);
  if (flight.id !== null) byWireId.delete(flight.id);
  for (const w of flight.waiters) {
    if (w.view && views.get(w.view) === w) views.delete(w.view);
    w.reject(error);
  }
  flight.waiters.clear();
  pump();
}

/** The connection dropped: what was sent is re-sent after the reconnect (restoring every view). */
function requeueAll(): void {
  const sent = [...byWireId.values()].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  byWireId.clear();
  for (const f of sent) {
    f.id = null;
    f.frames = [];
  }
  queue.unshift(...sent.filter((f) => !f.low));
  queue.push(...sent.filter((f) => f.low));
}

function rejectAll(message: string): void {
  const all = [...flights.values()];
  flights.clear();
  byWireId.clear();
  queue.length = 0;
  views.clear();
  for (const f of all) {
    for (const w of f.waiters) w.reject(namedError('ConnectionError', `${f.spec.query}: ${message}`));
    f.waiters.clear();
  }
}

function validate(spec: Spec): string | null {
  const checked = clientMessageValidator.check({ type: 'request', id: 1, query: spec.query, params: spec.params });
  return checked.ok ? null : checked.error;
}

// ---------------------------------------------------------------------------------------------
// Session connection

let view: SessionView = { state: 'connecting' };
let listener: ((s: SessionView) => void) | null = null;
let options: ConnectOptions | null = null;
let socket: WebSocket | null = null;
let generation = 0; // bumps on every connection attempt; stale callbacks compare against it
let attempts = 0;
let epoch = 0;
let replaced = 0;
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
  if (next.state === 'lost') rejectAll(next.failure?.message ?? next.error ?? 'the session is lost');
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
    case 1011:
      return `the session failed${reason}`;
    default:
      return `the session connection closed with code ${event.code}${reason}`;
  }
}

function base(): Pick<SessionView, 'sessionId' | 'dataset' | 'epoch' | 'replaced'> {
  return { sessionId: view.sessionId, dataset: view.dataset, epoch: view.epoch, replaced: view.replaced };
}

/** `retryAfterMs`: when the server said when to come back (503 Retry-After), that instead of the backoff. */
function scheduleReconnect(reason: string, retryAfterMs?: number): void {
  if (closedForGood) return;
  if (attempts >= MAX_RECONNECT_ATTEMPTS) {
    setView({ ...base(), state: 'lost', error: `${reason} (gave up after ${attempts} attempts to reconnect)` });
    return;
  }
  attempts += 1;
  // The first retry is quick: a crashed session is replaced by a new process from the warm pool.
  const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempts - 1));
  const delay = (retryAfterMs ?? backoff) * (0.8 + 0.4 * Math.random());
  setView({
    ...base(),
    state: 'reconnecting',
    error: `${reason}; reconnecting (attempt ${attempts} of ${MAX_RECONNECT_ATTEMPTS}) in ${(delay / 1000).toFixed(1)} s`,
  });
  const gen = generation;
  reconnectTimer = setTimeout(() => {
    reconnectTimer = null;
    if (gen === generation) void open();
  }, delay);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Retry-After of a 503, in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** 200: the session; 202: a place in the queue (asking again keeps it). */
async function createSession(opts: ConnectOptions): Promise<CreateSessionReply | QueuedSessionReply> {
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
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new HttpError(
      response.status,
      `POST /api/sessions answered ${response.status}${detail ? `: ${detail}` : ''}`,
      response.status === 503 && retryAfter > 0 ? Math.min(60, retryAfter) * 1000 : undefined,
    );
  }
  const checked = response.status === 202 ? parseMessage(text, queuedReplies) : parseMessage(text, createReplies);
  if (!checked.ok) throw new Error(checked.error);
  return checked.value;
}

async function datasetInfo(dataset: string | undefined): Promise<DatasetInfo | undefined> {
  const response = await fetch(new URL('/api/datasets', self.location.href));
  if (!response.ok) return undefined;
  const checked = datasetLists.check(await response.json());
  if (!checked.ok) return undefined;
  return dataset ? checked.value.find((d) => d.id === dataset) : checked.value[0];
}

const PREPARATION_POLL_MS = 500;

/**
 * POST /api/sessions answers once the dataset's store is prepared, which for a new dataset can
 * take minutes. Meanwhile poll GET /api/datasets and show the preparation's phase, rows and ETA.
 * Returns a function that stops polling.
 */
function watchPreparation(dataset: string | undefined, gen: number): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const poll = async () => {
    try {
      const info = await datasetInfo(dataset);
      if (stopped || gen !== generation) return;
      if (info && (info.state === 'preparing' || info.state === 'pending') && view.state === 'connecting') {
        const preparation: PreparationView = {
          dataset: info.id,
          phase: info.phase,
          progress: info.progress,
          rows: info.rows ?? null,
          totalRows: info.totalRows ?? null,
          etaSeconds: info.etaSeconds ?? null,
        };
        setView({ ...view, preparation });
      }
    } catch {
      // progress is a courtesy; the session request itself reports real failures
    } finally {
      if (!stopped) timer = setTimeout(() => void poll(), PREPARATION_POLL_MS);
    }
  };
  // A prepared dataset answers POST /api/sessions at once: only start polling if it does not.
  timer = setTimeout(() => void poll(), 300);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

/**
 * Asks for the session until it is ready. While every slot is taken the server answers 202 with
 * the tab's place (after holding the request about a second); the tab shows it and asks again,
 * which keeps the place. Throws what createSession throws; a superseded attempt stops asking.
 */
async function waitForSession(opts: ConnectOptions, gen: number): Promise<CreateSessionReply> {
  for (;;) {
    const askedAt = Date.now();
    const reply = await createSession(opts);
    if (reply.status !== 'queued') return reply as CreateSessionReply;
    if (gen !== generation) throw new Error('superseded by a newer connection attempt');
    const queue: QueueView = { position: reply.position, waiting: reply.waiting, etaSeconds: reply.etaSeconds };
    setView({ ...view, queue });
    // The server holds the request about a second; should something in between answer at once, do not spin.
    const heldMs = Date.now() - askedAt;
    if (heldMs < MIN_QUEUE_POLL_MS) await new Promise((resolve) => setTimeout(resolve, MIN_QUEUE_POLL_MS - heldMs));
  }
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
  const stopWatching = watchPreparation(options.dataset, gen);
  try {
    marks.sessionRequest ??= Date.now();
    reply = await waitForSession(options, gen);
    marks.sessionReply ??= Date.now();
  } catch (error) {
    if (gen !== generation) return;
    // A dataset that failed to prepare will not prepare by retrying: say why and stop.
    if (error instanceof HttpError && error.status >= 500) {
      const info = await datasetInfo(options.dataset).catch(() => undefined);
      if (gen !== generation) return;
      if (info?.state === 'failed') {
        closedForGood = true;
        const message = info.error ?? `dataset "${info.id}" failed to prepare`;
        setView({ ...base(), state: 'lost', error: message, failure: { kind: 'dataset-failed', message } });
        return;
      }
    }
    scheduleReconnect(`could not get a session: ${describe(error)}`, error instanceof HttpError ? error.retryAfterMs : undefined);
    return;
  } finally {
    stopWatching();
  }
  if (gen !== generation) return;
  if (view.preparation || view.queue) {
    const { preparation: _done, queue: _served, ...rest } = view;
    setView(rest);
  }

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
    requeueAll();
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
    requeueAll();
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

function sameDataset(a: DatasetSchema | undefined, b: DatasetSchema): boolean {
  return (
    !!a &&
    a.id === b.id &&
    a.barCount === b.barCount &&
    a.tradeCount === b.tradeCount &&
    a.range?.from === b.range?.from &&
    a.range?.to === b.range?.to
  );
}

function onText(text: string): void {
  const checked = parseMessage(text, serverMessageValidator);
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
      const message = `the server's hello is not one this client understands: ${checked.error}`;
      setView({ state: 'lost', error: message, failure: { kind: 'protocol', message } });
      return;
    }
    const flight = typeof id === 'number' ? byWireId.get(id) : undefined;
    if (flight) failFlight(flight, namedError('RequestError', `${flight.spec.query}: unreadable answer from the server: ${checked.error}`));
    else reportError(`the server sent a message this client cannot read: ${checked.error}`);
    return;
  }
  const message = checked.value;
  switch (message.type) {
    case 'hello': {
      if (helloTimer) clearTimeout(helloTimer);
      helloTimer = null;
      attempts = 0;
      if (!sameDataset(view.dataset, message.dataset)) cache.clear();
      if (view.sessionId && view.sessionId !== message.sessionId) replaced++;
      epoch++;
      marks.hello ??= Date.now();
      setView({ state: 'ready', sessionId: message.sessionId, dataset: message.dataset, epoch, replaced, marks: { ...marks } });
      pump(); // re-sends what was in flight when the connection dropped
      return;
    }
    case 'done': {
      const flight = byWireId.get(message.id);
      if (flight) finishFlight(flight, message);
      return;
    }
    case 'error':
      onServerError(message);
      return;
    case 'progress':
      return;
  }
}

function onServerError(message: ErrorMessage): void {
  const flight = message.id === null ? undefined : byWireId.get(message.id);
  if (!flight) {
    // An answer to a request nobody waits for any more (cancelled, superseded, a dropped
    // prefetch): not the user's business. Only an error outside any request is shown.
    if (message.id === null) reportError(`server error (${message.code}): ${message.message}`);
    else if (message.code !== 'cancelled') console.warn(`[tickscope worker] request ${message.id} (dropped): ${message.code}: ${message.message}`);
    return;
  }
  if (message.code === 'overloaded') {
    // Too many at once: try again shortly rather than fail the view.
    byWireId.delete(message.id!);
    flight.id = null;
    setTimeout(() => {
      if (flights.get(flight.key) === flight) {
        queue.push(flight);
        pump();
      }
    }, 100);
    return;
  }
  failFlight(
    flight,
    namedError(
      message.code === 'cancelled' ? 'AbortError' : message.code === 'bad-params' ? 'BadParams' : 'RequestError',
      `${flight.spec.query} (${message.code}): ${message.message}`,
    ),
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
  const flight = byWireId.get(frame.requestId);
  if (!flight) return; // late frame of a cancelled request
  try {
    // Decoded as it arrives, so the last batch is not waiting on the first.
    flight.frames.push({ batchIndex: frame.batchIndex, table: tableFromIPC(frame.ipc) });
  } catch (error) {
    const id = flight.id;
    failFlight(flight, namedError('RequestError', `${flight.spec.query}: batch ${frame.batchIndex} is not a readable Arrow IPC stream: ${describe(error)}`));
    if (id !== null) {
      try {
        sendMessage({ type: 'cancel', id });
      } catch {
        // gone
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// API

function ask<Q extends AskQuery>(typed: Spec<Q>, opts: AskOptions = {}): Promise<Answer<Q>> {
  const spec = typed as Spec;
  const askedAt = performance.now();
  if (opts.view) {
    const previous = views.get(opts.view);
    if (previous) detach(previous, `superseded by a newer ${spec.query} request`);
  }
  return new Promise<Answer<Q>>((resolve, reject) => {
    const invalid = validate(spec);
    if (invalid) {
      reject(namedError('BadParams', `${spec.query}: ${invalid}`));
      return;
    }
    if (view.state === 'lost') {
      reject(namedError('ConnectionError', `${spec.query}: the session is lost`));
      return;
    }
    const key = cacheKey(spec);
    const cached = cache.get(key);
    if (cached) {
      stats.hits++;
      resolve(transferable(answerFrom(cached, askedAt, { cached: true })) as Answer<Q>);
      return;
    }
    stats.misses++;
    const low = opts.priority === 'low';
    let flight: Flight | undefined = flights.get(key);
    if (!flight) {
      flight = { key, spec, id: null, frames: [], waiters: new Set(), low, keep: false, group: null, sentAt: 0 };
      flights.set(key, flight);
      queue.push(flight);
    } else if (flight.low && !low) {
      // Someone wants it now: it stops being low priority (and jumps the queue).
      flight.low = false;
      const q = queue.indexOf(flight);
      if (q >= 0) {
        queue.splice(q, 1);
        queue.unshift(flight);
      }
    }
    const waiter: Waiter = {
      flight,
      view: opts.view,
      askedAt,
      resolve: resolve as (a: Answer) => void,
      reject,
    };
    flight.waiters.add(waiter);
    if (opts.view) views.set(opts.view, waiter);
    pump();
  });
}

const api: SessionWorkerApi = {
  connect(opts, onState) {
    marks.connect ??= Date.now();
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
    setView({ ...base(), state: 'connecting' });
    await open();
  },

  ask,

  async preview<Q extends AskQuery>(typed: Spec<Q>): Promise<Answer<Q> | null> {
    const spec = typed as Spec;
    const askedAt = performance.now();
    const exact = cache.get(cacheKey(spec));
    if (exact) return transferable(answerFrom(exact, askedAt, { cached: true })) as Answer<Q>;
    const family = familyKey(spec);
    if (!family) return null;
    const { from, to } = rangeOf(spec, view.dataset);
    for (const entry of cache.covering(family, from, to)) {
      const data = sliceEntry(entry, from, to);
      if (!data) continue;
      stats.previews++;
      const answer = answerFrom({ ...entry, data }, askedAt, { cached: true, provisional: true });
      return transferable({ ...answer, approximate: true, notes: ['a preview cut from coarser data; the exact answer is on its way'] }) as Answer<Q>;
    }
    return null;
  },

  prefetch(specs, group) {
    const wanted = new Set<string>();
    for (const spec of specs) {
      if (validate(spec)) continue;
      const key = cacheKey(spec);
      wanted.add(key);
      if (cache.has(key) || flights.has(key)) continue;
      const flight: Flight = { key, spec, id: null, frames: [], waiters: new Set(), low: true, keep: true, group, sentAt: 0 };
      flights.set(key, flight);
      queue.push(flight);
    }
    // The pointer moved on: drop this group's earlier prefetches that were not sent yet.
    for (const flight of [...queue]) {
      if (flight.keep && flight.group === group && !wanted.has(flight.key) && flight.waiters.size === 0) dropFlight(flight, 'prefetch no longer wanted');
    }
    pump();
  },

  release(viewName) {
    const waiter = views.get(viewName);
    if (waiter) detach(waiter, 'released');
  },

  cacheStats(): CacheStats {
    return { entries: cache.size, bytes: cache.bytes, budget: cache.budget, ...stats, inFlight: byWireId.size };
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
