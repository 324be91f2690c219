// A Node client of the worker <-> session protocol, as the browser worker speaks it: used by the
// integration tests and the query benchmark. Every frame is decoded from Arrow as it arrives, so
// an answer's elapsed time is request sent -> last batch decoded.
import WebSocket from 'ws';
import { tableFromIPC, type Table } from 'apache-arrow';
import type { DownloadFormat, QueryName } from '../../shared/constants.js';
import { PART_METADATA_KEY, decodeDataFrame } from '../../shared/frame.js';
import type { CreateSessionReply, QueuedSessionReply, SessionInfo } from '../../shared/http-api.js';
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

/** A request any caller may make: where a new caller picks up its owner cookie. */
const IDENTITY_PATH = '/api/health';

/**
 * One HTTP caller of the control server, as one browser is: it keeps the owner cookie the server
 * sets (the owner of every session it creates) and sends it back, on HTTP requests and on the
 * WebSocket upgrade. `headers` go with every request (e.g. the user header an authenticating
 * proxy would add, or an operator's Authorization).
 */
export class ApiCaller {
  private readonly cookies = new Map<string, string>();
  private identified: Promise<unknown> | null = null;

  constructor(
    readonly baseUrl: string,
    readonly headers: Record<string, string> = {},
  ) {}

  /** `Cookie` header value for this caller, or undefined before the server has set one. */
  cookieHeader(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    // As in a browser, the page load sets the owner cookie before the first API call: without
    // this, simultaneous first requests would each be given an identity of their own.
    if (this.cookies.size === 0 && path !== IDENTITY_PATH) await (this.identified ??= this.fetch(IDENTITY_PATH).then((r) => r.body?.cancel()));
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(this.headers)) if (!headers.has(name)) headers.set(name, value);
    const cookie = this.cookieHeader();
    if (cookie && !headers.has('cookie')) headers.set('cookie', cookie);
    const response = await fetch(`${this.baseUrl}${path}`, { ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq > 0) this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
    return response;
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.fetch(path, init);
    if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  /** The caller's own sessions (every session for an operator). */
  listSessions(): Promise<SessionInfo[]> {
    return this.json<SessionInfo[]>('/api/sessions');
  }

  /**
   * One POST /api/sessions, as sent: 200 with the session, 202 with a queue place, or an error
   * (tests of bad bodies send what the API refuses).
   */
  postSession(body: unknown = {}): Promise<Response> {
    return this.fetch('/api/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  /**
   * POST /api/sessions until the session is ready: a reply of 202 is a place in the queue, and
   * asking again (as the browser's worker does) keeps it.
   */
  async createSession(body: { key?: string; dataset?: string } = {}, onQueued?: (reply: QueuedSessionReply) => void): Promise<CreateSessionReply> {
    for (;;) {
      const response = await this.postSession(body);
      const json = (await response.json()) as (CreateSessionReply | QueuedSessionReply) & { message?: string };
      if (response.status === 202) {
        onQueued?.(json as QueuedSessionReply);
        // The same key keeps its place; without one, the reply names the key it was given.
        body = { ...body, key: json.key };
        continue;
      }
      if (!response.ok) throw new Error(`POST /api/sessions: ${response.status} ${json.message}`);
      return json as CreateSessionReply;
    }
  }
}

const defaultCallers = new Map<string, ApiCaller>();

/** The caller (one browser's cookies) that the helpers below use for `baseUrl` unless given another. */
export function defaultCaller(baseUrl: string): ApiCaller {
  let caller = defaultCallers.get(baseUrl);
  if (!caller) defaultCallers.set(baseUrl, (caller = new ApiCaller(baseUrl)));
  return caller;
}

/** POST /api/sessions with any body, as the default caller of `baseUrl` (or `caller`). */
export function postSession(baseUrl: string, body: unknown = {}, caller = defaultCaller(baseUrl)): Promise<Response> {
  return caller.postSession(body);
}

/** A session (created, or the live one of `key`); throws with the reply's message if refused. */
export async function createSession(baseUrl: string, body: { key?: string; dataset?: string } = {}, caller = defaultCaller(baseUrl)) {
  return caller.createSession(body);
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
  /** A download's file bytes, in order (the data frames carry the file, not Arrow). */
  file?: Uint8Array[];
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

  /**
   * Opens the session's WebSocket as `caller` (by default the one `createSession` used for
   * `baseUrl`), sending its owner cookie unless `headers` carry a cookie of their own.
   */
  static async connect(baseUrl: string, wsUrl: string, headers: Record<string, string> = {}, caller = defaultCaller(baseUrl)): Promise<SessionClient> {
    const cookie = caller.cookieHeader();
    const allHeaders = { ...caller.headers, ...(cookie && !('cookie' in headers) ? { cookie } : {}), ...headers };
    const socket = new WebSocket(new URL(wsUrl, baseUrl.replace(/^http/, 'ws')), { headers: allHeaders, maxPayload: 1024 * 1024 * 1024 });
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

  /** Asks for the answer of `query` as a file; resolves with the answer, `file` holding its bytes. */
  download<Q extends QueryName>(query: Q, params: RequestOf<Q>['params'], format: DownloadFormat): Promise<Answer> {
    const id = this.nextId++;
    const answer = this.expect(id, true);
    this.socket.send(JSON.stringify({ type: 'request', id, query, params, download: { format } }));
    return answer;
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

  private expect(id: number, file = false): Promise<Answer> {
    return new Promise((settle) =>
      this.pending.set(id, {
        answer: { id, done: null, error: null, tables: [], parts: new Map(), progress: [], wireBytes: 0, elapsedMs: 0, firstBatchMs: NaN, ...(file ? { file: [] } : {}) },
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
      const { answer } = entry;
      if (answer.file) {
        answer.file.push(Uint8Array.from(frame.ipc));
        answer.wireBytes += data.byteLength;
        return;
      }
      const table = tableFromIPC(frame.ipc);
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
