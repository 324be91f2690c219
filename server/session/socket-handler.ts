// Speaks the worker <-> session protocol on one WebSocket: validates every message, runs
// requests concurrently (each tagged with its id), cancels on request, and keeps the socket and
// the process alive whatever the client sends.
import type { RawData, WebSocket } from 'ws';
import {
  PROTOCOL_VERSION,
  clientMessageValidator,
  encodeDataFrameHeader,
  type DatasetSchema,
  type ErrorCode,
  type QueryRequest,
  type ServerMessage,
} from '../../shared/protocol.js';
import { parseMessage } from '../../shared/validate.js';
import { BadParamsError } from './queries/errors.js';
import { planEquity } from './queries/equity.js';
import type { QueryPlan } from './queries/plan.js';
import { CancelledError, type QueryRunner } from './query-runner.js';

/** Requests one socket may have in flight before new ones are refused as `overloaded`. */
const MAX_IN_FLIGHT = 32;
/** While more than this is queued on the socket, stop pulling batches from DuckDB. */
const HIGH_WATER_BYTES = 8 * 1024 * 1024;

export interface SessionContext {
  sessionId: string;
  dataset: DatasetSchema;
  runIds: ReadonlySet<string>;
  runner: QueryRunner;
  /** Counters the process reports to its runtime. */
  stats: { queriesServed: number; bytesSent: number };
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export class SocketHandler {
  private readonly inFlight = new Map<number, AbortController>();

  constructor(
    private readonly socket: WebSocket,
    private readonly context: SessionContext,
  ) {
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('close', () => this.abortAll());
    socket.on('error', (error) => context.log('warn', 'websocket error', { error: error.message }));
    this.send({ type: 'hello', protocol: PROTOCOL_VERSION, sessionId: context.sessionId, dataset: context.dataset });
  }

  get pending(): number {
    return this.inFlight.size;
  }

  abortAll(): void {
    for (const controller of this.inFlight.values()) controller.abort();
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) return this.sendError(null, 'bad-message', 'binary frames are not accepted from the client');
    const parsed = parseMessage(data.toString(), clientMessageValidator);
    if (!parsed.ok) return this.sendError(readId(data), 'bad-message', parsed.error);
    const message = parsed.value;
    if (message.type === 'cancel') {
      this.inFlight.get(message.id)?.abort();
      return;
    }
    if (this.inFlight.has(message.id)) {
      return this.sendError(message.id, 'duplicate-id', `request ${message.id} is already in flight`);
    }
    if (this.inFlight.size >= MAX_IN_FLIGHT) {
      return this.sendError(message.id, 'overloaded', `more than ${MAX_IN_FLIGHT} requests in flight on this socket`);
    }
    void this.execute(message);
  }

  private async execute(request: QueryRequest): Promise<void> {
    const controller = new AbortController();
    this.inFlight.set(request.id, controller);
    try {
      const plan = this.plan(request);
      const outcome = await this.context.runner.run({
        ...plan,
        signal: controller.signal,
        onBatch: (ipc, batchIndex) => this.sendBatch(request.id, batchIndex, ipc, controller.signal),
      });
      this.context.stats.queriesServed++;
      this.send({ type: 'done', id: request.id, approximate: false, ...outcome });
    } catch (error) {
      if (error instanceof CancelledError) {
        this.sendError(request.id, 'cancelled', `${request.query} request ${request.id} was cancelled`);
      } else if (error instanceof BadParamsError) {
        this.sendError(request.id, 'bad-params', error.message);
      } else {
        const message = (error as Error).message;
        this.context.log('error', 'query failed', { requestId: request.id, query: request.query, error: message });
        this.sendError(request.id, 'query-failed', `${request.query} request ${request.id} failed: ${message}`);
      }
    } finally {
      this.inFlight.delete(request.id);
    }
  }

  private plan(request: QueryRequest): QueryPlan {
    switch (request.query) {
      case 'equity':
        return planEquity(request.params, this.context.runIds);
    }
  }

  private async sendBatch(id: number, batchIndex: number, ipc: Uint8Array, signal: AbortSignal): Promise<void> {
    while (this.socket.bufferedAmount > HIGH_WATER_BYTES && this.socket.readyState === this.socket.OPEN) {
      if (signal.aborted) throw new CancelledError();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    if (this.socket.readyState !== this.socket.OPEN) throw new CancelledError();
    // Two fragments of one binary message: the header and the IPC bytes are never concatenated.
    this.socket.send(encodeDataFrameHeader(id, batchIndex), { binary: true, fin: false });
    this.socket.send(ipc, { binary: true, fin: true });
    this.context.stats.bytesSent += ipc.byteLength + 8;
  }

  private sendError(id: number | null, code: ErrorCode, message: string): void {
    this.send({ type: 'error', id, code, message });
  }

  private send(message: ServerMessage): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    const text = JSON.stringify(message);
    this.context.stats.bytesSent += text.length;
    this.socket.send(text);
  }
}

/** Best effort to echo the id of a message that failed validation, so the client can match it. */
function readId(data: RawData): number | null {
  try {
    const id = (JSON.parse(data.toString()) as { id?: unknown }).id;
    return typeof id === 'number' && Number.isInteger(id) && id >= 1 && id <= 0xffffffff ? id : null;
  } catch {
    return null;
  }
}
