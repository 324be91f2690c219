// One session's WebSocket, spoken as the browser's worker speaks it, over any WebSocket with the
// browser's API (the browser's own, Node 22's, or `ws` in Node 20). Every frame is decoded from
// Arrow as it arrives, so an answer's elapsed time is request sent -> last batch decoded; a
// download's frames are kept as the file's bytes. It knows nothing of sessions being created or
// lost: tickscope-client.ts does that.
import { tableFromIPC, type Table } from 'apache-arrow';
import type { DownloadFormat, QueryName } from '../../shared/constants.js';
import { PART_METADATA_KEY, decodeDataFrame } from '../../shared/frame.js';
import { serverMessageValidator, type DoneMessage, type ErrorMessage, type HelloMessage, type ProgressMessage, type QueryRequest, type RequestOf } from '../../shared/messages.js';
import { parseMessage } from '../../shared/validate.js';

/** The part of the WebSocket API this uses (the browser's, Node 22's and `ws`'s all have it). */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
  addEventListener(type: 'open', listener: (event: unknown) => void): void;
}

/** WebSocket's OPEN. */
const OPEN = 1;

export interface Answer {
  id: number;
  done: DoneMessage | null;
  error: ErrorMessage | null;
  /** Every batch, in arrival order. */
  tables: Table[];
  /** Batches by part name ('' for a single-part answer). */
  parts: Map<string, Table[]>;
  progress: ProgressMessage[];
  /** Bytes of the binary frames received, headers included. */
  wireBytes: number;
  /** Request sent -> done received (every batch decoded before), ms. */
  elapsedMs: number;
  /** Request sent -> first batch decoded, ms (NaN if none). */
  firstBatchMs: number;
  /** A download's file bytes, in order (its data frames carry the file, not Arrow). */
  file?: Uint8Array[];
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type RequestBody = DistributiveOmit<QueryRequest, 'type' | 'id'>;

export class SessionSocket<S extends SocketLike = SocketLike> {
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly pending = new Map<number, { answer: Answer; started: number; settle: (answer: Answer) => void }>();
  private readonly unsolicited: ErrorMessage[] = [];
  /** Requests answered (done or error), and what still arrived for each after that. */
  private readonly settled = new Map<number, number>();
  private nextId = 1;
  private closedWith: { code: number; reason: string } | null = null;

  private constructor(
    readonly socket: S,
    readonly hello: HelloMessage,
  ) {
    this.closed = new Promise((resolve) =>
      socket.addEventListener('close', ({ code, reason }) => {
        this.closedWith = { code, reason: String(reason) };
        // Nothing more will come: every request still waiting ends with an error of no code.
        for (const [id, entry] of this.pending) {
          entry.answer.error = { type: 'error', id, code: 'cancelled', message: `the session socket closed (${code}${reason ? `: ${reason}` : ''})` };
          entry.answer.elapsedMs = performance.now() - entry.started;
          entry.settle(entry.answer);
        }
        this.pending.clear();
        resolve(this.closedWith);
      }),
    );
    socket.addEventListener('message', ({ data }) => this.onMessage(data));
  }

  /** Waits for the hello on `socket` (just created, not yet open). */
  static open<S extends SocketLike>(socket: S): Promise<SessionSocket<S>> {
    socket.binaryType = 'arraybuffer';
    return new Promise((resolve, reject) => {
      let settled = false;
      socket.addEventListener('message', ({ data }) => {
        if (settled) return;
        settled = true;
        const text = typeof data === 'string' ? data : String(data);
        const parsed = parseMessage(text, serverMessageValidator);
        if (parsed.ok && parsed.value.type === 'hello') resolve(new SessionSocket(socket, parsed.value));
        else reject(new Error(`expected hello, got ${text.slice(0, 200)}`));
      });
      socket.addEventListener('error', (event) => {
        if (settled) return;
        settled = true;
        reject(new Error(`the session socket failed to open: ${(event as { message?: string }).message ?? 'connection refused'}`));
      });
      socket.addEventListener('close', ({ code, reason }) => {
        if (settled) return;
        settled = true;
        reject(new Error(`the session socket closed before its hello (${code}${reason ? `: ${reason}` : ''})`));
      });
    });
  }

  /** Whether requests can still be sent. */
  get isOpen(): boolean {
    return this.socket.readyState === OPEN;
  }

  /** Errors that named no request (a message the session could not read). */
  get errorsWithoutRequest(): readonly ErrorMessage[] {
    return this.unsolicited;
  }

  /** Frames and messages that arrived for request `id` after its answer (done or error) had. */
  arrivedAfterAnswer(id: number): number {
    return this.settled.get(id) ?? 0;
  }

  /** The id the next request will get. */
  peekId(): number {
    return this.nextId;
  }

  /** Sends a request (`{ query, params }`, with `download` for a file) and resolves with its whole answer. */
  request(body: RequestBody): Promise<Answer> {
    const request = { type: 'request', id: this.nextId++, ...body } as QueryRequest;
    const answer = this.expect(request.id, request.download !== undefined);
    this.socket.send(JSON.stringify(request));
    return answer;
  }

  /** The same, typed by query name. */
  ask<Q extends QueryName>(query: Q, params: RequestOf<Q>['params']): Promise<Answer> {
    return this.request({ query, params } as RequestBody);
  }

  /** Asks for the answer of `query` as a file; resolves with the answer, `file` holding its bytes. */
  download<Q extends QueryName>(query: Q, params: RequestOf<Q>['params'], format: DownloadFormat): Promise<Answer> {
    return this.request({ query, params, download: { format } } as RequestBody);
  }

  /** Sends any text (tests of bad input). Resolves with the answer for `expectId`, if given. */
  sendRaw(text: string, expectId?: number): Promise<Answer> | void {
    const answer = expectId === undefined ? undefined : this.expect(expectId);
    this.socket.send(text);
    return answer;
  }

  cancel(id: number): void {
    if (this.isOpen) this.socket.send(JSON.stringify({ type: 'cancel', id }));
  }

  close(): Promise<{ code: number; reason: string }> {
    if (!this.closedWith) this.socket.close();
    return this.closed;
  }

  private expect(id: number, file = false): Promise<Answer> {
    if (!this.isOpen) {
      const message = `the session socket is ${this.closedWith ? `closed (${this.closedWith.code})` : 'not open'}`;
      return Promise.resolve({ ...emptyAnswer(id, file), error: { type: 'error', id, code: 'cancelled', message } });
    }
    return new Promise((settle) => this.pending.set(id, { answer: emptyAnswer(id, file), started: performance.now(), settle }));
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array);
      const frame = decodeDataFrame(bytes);
      const entry = this.pending.get(frame.requestId);
      if (!entry) return this.noteLate(frame.requestId);
      const { answer } = entry;
      answer.wireBytes += bytes.byteLength;
      if (answer.file) {
        answer.file.push(frame.ipc);
        return;
      }
      const table = tableFromIPC(frame.ipc);
      if (answer.tables.length === 0) answer.firstBatchMs = performance.now() - entry.started;
      answer.tables.push(table);
      const part = table.schema.metadata.get(PART_METADATA_KEY) ?? '';
      const list = answer.parts.get(part) ?? answer.parts.set(part, []).get(part)!;
      list.push(table);
      return;
    }
    const parsed = parseMessage(data, serverMessageValidator);
    if (!parsed.ok) throw new Error(parsed.error);
    const message = parsed.value;
    if (message.type === 'hello') return;
    const entry = message.id === null ? undefined : this.pending.get(message.id);
    if (!entry) {
      if (message.type === 'error') this.unsolicited.push(message);
      if (message.id !== null) this.noteLate(message.id);
      return;
    }
    if (message.type === 'progress') {
      entry.answer.progress.push(message);
      return;
    }
    if (message.type === 'done') entry.answer.done = message;
    else entry.answer.error = message;
    entry.answer.elapsedMs = performance.now() - entry.started;
    this.pending.delete(message.id!);
    this.settled.set(message.id!, 0);
    entry.settle(entry.answer);
  }

  private noteLate(id: number): void {
    const count = this.settled.get(id);
    if (count !== undefined) this.settled.set(id, count + 1);
  }
}

function emptyAnswer(id: number, file: boolean): Answer {
  return { id, done: null, error: null, tables: [], parts: new Map(), progress: [], wireBytes: 0, elapsedMs: 0, firstBatchMs: NaN, ...(file ? { file: [] } : {}) };
}
