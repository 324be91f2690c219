// Speaks the worker <-> session protocol on one WebSocket: validates every message, runs
// requests concurrently (each tagged with its id), cancels on request, paces a slow reader
// (backpressure), and keeps the socket and the process alive whatever the client sends.
import { createReadStream } from 'node:fs';
import type { RawData, WebSocket } from 'ws';
import { errorMessage } from '../../shared/errors.js';
import { DOWNLOAD_CHUNK_BYTES, PROGRESS_INTERVAL_MS, PROTOCOL_VERSION } from '../../shared/constants.js';
import { encodeDataFrameHeader } from '../../shared/frame.js';
import {
  clientMessageValidator,
  type DatasetSchema,
  type ErrorCode,
  type QueryRequest,
  type ServerMessage,
} from '../../shared/messages.js';
import { printable } from '../../shared/printable.js';
import { parseMessage } from '../../shared/validate.js';
import { answerKey } from './answer-cache.js';
import { writeDownload } from './download.js';
import { BadParamsError } from './queries/errors.js';
import { planRequest } from './queries/index.js';
import { CancelledError, throwIfCancelled } from './cancelled.js';
import type { QueryRunner } from './query-runner.js';
import type { Catalog } from './store.js';

export interface SocketLimits {
  /** Requests one socket may have in flight before new ones are refused as `overloaded`. */
  maxInFlight: number;
  /** While more than this is queued on the socket, stop pulling chunks from DuckDB. */
  highWaterBytes: number;
  /** Largest text frame answered normally; a larger one gets an error (the socket stays). */
  maxMessageBytes: number;
  /** Token bucket of client messages: sustained rate and burst. */
  messagesPerSecond: number;
  messageBurst: number;
  /** Rows per Arrow batch. */
  batchRows: number;
}

export const DEFAULT_SOCKET_LIMITS: SocketLimits = {
  maxInFlight: 32,
  highWaterBytes: 8 * 1024 * 1024,
  maxMessageBytes: 64 * 1024,
  messagesPerSecond: 200,
  messageBurst: 400,
  batchRows: 64 * 1024,
};

export interface SessionContext {
  sessionId: string;
  dataset: DatasetSchema;
  catalog: Catalog;
  runner: QueryRunner;
  /** Counters the process reports to its runtime. */
  stats: { queriesServed: number; bytesSent: number };
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  limits?: Partial<SocketLimits>;
}

/** Told a streaming answer's running counts (SocketHandler.progressOf). */
type ReportProgress = (counts: { rows: number; batches: number; bytes: number }) => void;

export class SocketHandler {
  // Superseding a request is the client's job (it sends `cancel`): only the client knows whether
  // an answer still has a view waiting for it, e.g. when one request serves two views.
  private readonly inFlight = new Map<number, { controller: AbortController }>();
  private readonly limits: SocketLimits;
  private tokens: number;
  private refilledAt = performance.now();
  /** Set once the session drains: why it takes no new request. */
  private ending: string | null = null;

  constructor(
    private readonly socket: WebSocket,
    private readonly context: SessionContext,
  ) {
    this.limits = { ...DEFAULT_SOCKET_LIMITS, ...context.limits };
    this.tokens = this.limits.messageBurst;
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('close', () => this.abortAll());
    socket.on('error', (error) => context.log('warn', 'websocket error', { error: printable(errorMessage(error), 1024) }));
    this.send({ type: 'hello', protocol: PROTOCOL_VERSION, sessionId: context.sessionId, dataset: context.dataset });
  }

  get pending(): number {
    return this.inFlight.size;
  }

  /**
   * The session is draining: requests already in flight are answered, a new one is refused with
   * `session-ending` (cancels still work), so nothing starts that the socket's close would cut.
   */
  refuseNewRequests(reason: string): void {
    this.ending = reason;
  }

  abortAll(): void {
    for (const { controller } of this.inFlight.values()) controller.abort('the connection closed');
  }

  private takeToken(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.limits.messageBurst, this.tokens + ((now - this.refilledAt) / 1000) * this.limits.messagesPerSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const size = rawSize(data);
    if (isBinary) return this.sendError(null, 'bad-message', 'binary frames are not accepted from the client');
    if (size > this.limits.maxMessageBytes) {
      return this.sendError(readId(data, 256), 'bad-message', `message of ${size} bytes is larger than the ${this.limits.maxMessageBytes}-byte limit`);
    }
    if (!this.takeToken()) {
      return this.sendError(readId(data), 'overloaded', `more than ${this.limits.messagesPerSecond} messages per second on this socket; slow down`);
    }
    const parsed = parseMessage(data.toString(), clientMessageValidator);
    if (!parsed.ok) return this.sendError(readId(data), 'bad-message', parsed.error);
    const message = parsed.value;
    if (message.type === 'cancel') {
      this.inFlight.get(message.id)?.controller.abort(`request ${message.id} was cancelled`);
      return;
    }
    if (this.ending !== null) {
      return this.sendError(message.id, 'session-ending', `session ${this.context.sessionId} is ending (${this.ending}) and takes no new request; send it on a new session`);
    }
    if (this.inFlight.has(message.id)) {
      return this.sendError(message.id, 'duplicate-id', `request ${message.id} is already in flight`);
    }
    if (this.inFlight.size >= this.limits.maxInFlight) {
      return this.sendError(message.id, 'overloaded', `more than ${this.limits.maxInFlight} requests in flight on this socket`);
    }
    void this.execute(message);
  }

  private async execute(request: QueryRequest): Promise<void> {
    const controller = new AbortController();
    this.inFlight.set(request.id, { controller });
    const progress = this.progressOf(request.id);
    try {
      if (request.download) return await this.download(request, controller.signal, progress);
      const planner = planRequest(request, this.context.catalog);
      const outcome = await this.context.runner.run({
        planner,
        cacheKey: answerKey(request),
        signal: controller.signal,
        batchRows: this.limits.batchRows,
        onBatch: (ipc, batchIndex) => this.sendBatch(request.id, batchIndex, ipc, controller.signal),
        onProgress: progress,
      });
      this.context.stats.queriesServed++;
      this.send({ type: 'done', id: request.id, ...outcome });
    } catch (error) {
      const message = errorMessage(error);
      if (error instanceof CancelledError) {
        this.sendError(request.id, 'cancelled', `${request.query}: ${message}`);
      } else if (error instanceof BadParamsError) {
        this.sendError(request.id, 'bad-params', message);
      } else {
        // DuckDB's words may quote the request's values: printable before the log too.
        const printed = printable(message, 1024);
        this.context.log('error', 'query failed', { requestId: request.id, query: request.query, error: printed });
        this.sendError(request.id, 'query-failed', `${request.query} request ${request.id} failed: ${printed}`);
      }
    } finally {
      this.inFlight.delete(request.id);
    }
  }

  /**
   * Reports a streaming answer's counts as `progress` messages, at most one per
   * PROGRESS_INTERVAL_MS, with the time since the request started.
   */
  private progressOf(id: number): ReportProgress {
    const started = performance.now();
    let last = started;
    return ({ rows, batches, bytes }) => {
      const now = performance.now();
      if (now - last < PROGRESS_INTERVAL_MS) return;
      last = now;
      this.send({ type: 'progress', id, rows, batches, bytes, elapsedMs: now - started });
    };
  }

  /** A request's answer as a file (download.ts): written, then its bytes in data frames. */
  private async download(request: QueryRequest, signal: AbortSignal, progress: ReportProgress): Promise<void> {
    const { catalog, runner, dataset } = this.context;
    const file = await writeDownload(request, { datasetId: dataset.id, catalog, runner }, signal);
    try {
      const sendStarted = performance.now();
      let bytes = 0;
      let batches = 0;
      for await (const chunk of createReadStream(file.path, { highWaterMark: DOWNLOAD_CHUNK_BYTES }) as AsyncIterable<Buffer>) {
        await this.sendBatch(request.id, batches++, chunk, signal);
        bytes += chunk.byteLength;
        progress({ rows: file.rows, batches, bytes });
      }
      // Removed before done: a client that ends the session on done leaves nothing behind.
      await file.remove();
      this.context.stats.queriesServed++;
      this.send({
        type: 'done',
        id: request.id,
        rows: file.rows,
        batches,
        bytes,
        approximate: false,
        timings: { planMs: 0, executeMs: file.writeMs, encodeMs: performance.now() - sendStarted },
        source: file.source,
        notes: file.notes,
        file: { name: file.name, mediaType: file.mediaType },
      });
    } finally {
      await file.remove();
    }
  }

  private async sendBatch(id: number, batchIndex: number, ipc: Uint8Array, signal: AbortSignal): Promise<void> {
    // Backpressure: while the socket has more than the high-water mark queued, do not return, so
    // the runner does not pull the next chunk from DuckDB.
    while (this.socket.bufferedAmount > this.limits.highWaterBytes && this.socket.readyState === this.socket.OPEN) {
      throwIfCancelled(signal);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    if (this.socket.readyState !== this.socket.OPEN) throw new CancelledError('the connection closed');
    // Two fragments of one binary message: the header and the IPC bytes are never concatenated.
    this.socket.send(encodeDataFrameHeader(id, batchIndex), { binary: true, fin: false });
    this.socket.send(ipc, { binary: true, fin: true });
    this.context.stats.bytesSent += ipc.byteLength + 8;
  }

  private sendError(id: number | null, code: ErrorCode, message: string): void {
    // Every error goes out through here: whatever it quotes of the client's message is escaped.
    this.send({ type: 'error', id, code, message: printable(message) });
  }

  private send(message: ServerMessage): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    const text = JSON.stringify(message);
    this.context.stats.bytesSent += text.length;
    this.socket.send(text);
  }
}

function rawSize(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.byteLength, 0);
  return data.byteLength;
}

/** Best effort to echo the id of a message that failed validation, so the client can match it. */
function readId(data: RawData, prefixBytes?: number): number | null {
  const text = Buffer.isBuffer(data) ? data.toString('utf8', 0, prefixBytes) : data.toString().slice(0, prefixBytes);
  try {
    if (prefixBytes === undefined) {
      const id = (JSON.parse(text) as { id?: unknown }).id;
      return typeof id === 'number' && Number.isInteger(id) && id >= 1 && id <= 0xffffffff ? id : null;
    }
  } catch {
    // Not JSON: fall back to a scan of the text for the id.
  }
  const match = /"id"\s*:\s*(\d{1,10})\b/.exec(text);
  const id = match ? Number(match[1]) : NaN;
  return Number.isInteger(id) && id >= 1 && id <= 0xffffffff ? id : null;
}
