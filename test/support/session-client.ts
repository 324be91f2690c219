// A Node client of the worker <-> session protocol, as the browser worker speaks it: used by the
// integration tests and the query benchmark. Every frame is decoded from Arrow as it arrives, so
// an answer's elapsed time is request sent -> last batch decoded.
import WebSocket from 'ws';
import { tableFromIPC, type Table } from 'apache-arrow';
import type { QueryName } from '../../shared/constants.js';
import { PART_METADATA_KEY, decodeDataFrame } from '../../shared/frame.js';
import type { CreateSessionReply } from '../../shared/http-api.js';
import {
  serverMessageValidator,
  type DoneMessage,
  type ErrorMessage,
  type HelloMessage,
  type ProgressMessage,
  type QueryRequest,
  type RequestOf,
} from '../../shared/messages.js';
import { parseMessage } from '../../shared/validate.js';

/** POST /api/sessions with any body (tests of bad bodies send what the API refuses). */
export function postSession(baseUrl: string, body: unknown = {}): Promise<Response> {
  return fetch(`${baseUrl}/api/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A session (created, or the live one of `key`); throws with the reply's message if refused. */
export async function createSession(baseUrl: string, body: { key?: string; dataset?: string } = {}) {
  const response = await postSession(baseUrl, body);
  const json = (await response.json()) as CreateSessionReply & { message?: string };
  if (!response.ok) throw new Error(`POST /api/sessions: ${response.status} ${json.message}`);
  return json;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

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
}

/** Rows of an answer's part as plain objects (tests only: the product never builds row objects). */
export function rowsOf(answer: Answer, part = ''): Record<string, unknown>[] {
  return (answer.parts.get(part) ?? []).flatMap((table) => table.toArray().map((row) => row.toJSON() as Record<string, unknown>));
}

export class SessionClient {
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly pending = new Map<number, { answer: Answer; started: number; settle: (answer: Answer) => void }>();
  private readonly unsolicited: ErrorMessage[] = [];
  /** Requests answered (done or error), and what still arrived for each after that. */
  private readonly settled = new Map<number, number>();
  private nextId = 1;

  private constructor(
    readonly socket: WebSocket,
    readonly hello: HelloMessage,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    socket.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
  }

  static async connect(baseUrl: string, wsUrl: string, headers: Record<string, string> = {}): Promise<SessionClient> {
    const socket = new WebSocket(new URL(wsUrl, baseUrl.replace(/^http/, 'ws')), { headers, maxPayload: 1024 * 1024 * 1024 });
    const hello = await new Promise<HelloMessage>((resolve, reject) => {
      socket.once('message', (data) => {
        const parsed = parseMessage(data.toString(), serverMessageValidator);
        if (parsed.ok && parsed.value.type === 'hello') resolve(parsed.value);
        else reject(new Error(`expected hello, got ${data.toString().slice(0, 200)}`));
      });
      socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
      socket.once('error', reject);
    });
    return new SessionClient(socket, hello);
  }

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

  /** Sends a request (`{ query, params }`) and resolves with its whole answer. */
  request(query: DistributiveOmit<QueryRequest, 'type' | 'id'>): Promise<Answer> {
    const request = { type: 'request', id: this.nextId++, ...query } as QueryRequest;
    const answer = this.expect(request.id);
    this.socket.send(JSON.stringify(request));
    return answer;
  }

  /** The same, typed by query name. */
  ask<Q extends QueryName>(query: Q, params: RequestOf<Q>['params']): Promise<Answer> {
    return this.request({ query, params } as DistributiveOmit<QueryRequest, 'type' | 'id'>);
  }

  /** Sends any text; for tests of bad input. Resolves with the answer for `expectId`, if given. */
  sendRaw(text: string, expectId?: number): Promise<Answer> | void {
    const answer = expectId === undefined ? undefined : this.expect(expectId);
    this.socket.send(text);
    return answer;
  }

  cancel(id: number): void {
    this.socket.send(JSON.stringify({ type: 'cancel', id }));
  }

  close(): Promise<unknown> {
    this.socket.close();
    return this.closed;
  }

  private expect(id: number): Promise<Answer> {
    return new Promise((settle) =>
      this.pending.set(id, {
        answer: { id, done: null, error: null, tables: [], parts: new Map(), progress: [], wireBytes: 0, elapsedMs: 0, firstBatchMs: NaN },
        started: performance.now(),
        settle,
      }),
    );
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      const frame = decodeDataFrame(data);
      const entry = this.pending.get(frame.requestId);
      if (!entry) return this.noteLate(frame.requestId);
      const table = tableFromIPC(frame.ipc);
      const { answer } = entry;
      if (answer.tables.length === 0) answer.firstBatchMs = performance.now() - entry.started;
      answer.tables.push(table);
      answer.wireBytes += data.byteLength;
      const part = table.schema.metadata.get(PART_METADATA_KEY) ?? '';
      const list = answer.parts.get(part) ?? answer.parts.set(part, []).get(part)!;
      list.push(table);
      return;
    }
    const parsed = parseMessage(data.toString(), serverMessageValidator);
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
