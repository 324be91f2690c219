// A client for scripts and notebooks: opens a session on a running Tickscope server and answers
// any query as an Arrow table, or any table a view shows as a file. Works in Node 20 (over `ws`,
// loaded when there is no global WebSocket) and in a browser page served by the same server.
//
//   const tickscope = await TickscopeClient.open('http://127.0.0.1:8080');
//   const trades = await tickscope.query('export', { table: 'trades', filters: { sectors: ['Energy'] } });
//   const csv = await tickscope.download('trades', { filters: { sides: ['long'] }, limit: 1 }, 'csv');
//   await tickscope.close();
//
// A session that ends under it (deleted, idle, its process gone) is replaced on the next query:
// the client asks the server for a session again (same key) and reconnects once.
import { Table } from 'apache-arrow';
import type { DownloadableQuery, DownloadFormat, QueryName } from '../../shared/constants.js';
import type { CreateSessionReply } from '../../shared/http-api.js';
import type { DatasetSchema, DoneMessage, QueryParamsByName } from '../../shared/messages.js';
import { ControlApi } from './control-api.js';
import { SessionSocket, type Answer, type RequestBody, type SocketLike } from './session-socket.js';

/** Makes a WebSocket; `headers` carry the owner cookie where the runtime lets a script set them (Node). */
export type SocketFactory = (url: string, headers: Record<string, string>) => SocketLike;

export interface OpenOptions {
  /** The dataset's id (GET /api/datasets); the server's first when omitted. */
  dataset?: string;
  /** The session key: the same key finds the same live session (a reload, another script). */
  key?: string;
  /** Headers for every request (an authenticating proxy's user header, an Authorization). */
  headers?: Record<string, string>;
  /** How to open the WebSocket; default the global WebSocket, else `ws` (Node 20). */
  socket?: SocketFactory;
}

export interface QueryOptions {
  /** Aborting cancels the request on the server; the promise rejects with a TickscopeError 'cancelled'. */
  signal?: AbortSignal;
}

/** A query's answer: every batch as one table (and each part's, for answers of several parts). */
export interface QueryResult {
  table: Table;
  parts: Map<string, Table>;
  done: DoneMessage;
}

export interface DownloadResult {
  /** The file's bytes, the name the session gave it, and its rows. */
  bytes: Uint8Array;
  name: string;
  rows: number;
}

/** A refused or failed request: `code` is the protocol's (bad-params, query-failed, cancelled...). */
export class TickscopeError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'TickscopeError';
  }
}

export class TickscopeClient {
  private socket: SessionSocket;
  private reply: CreateSessionReply;
  private reopening: Promise<void> | null = null;
  private closing = false;

  private constructor(
    readonly api: ControlApi,
    private readonly options: OpenOptions,
    private readonly makeSocket: SocketFactory,
    reply: CreateSessionReply,
    socket: SessionSocket,
  ) {
    this.reply = reply;
    this.socket = socket;
  }

  /** Opens (or rejoins, with the same `key`) a session on the server at `baseUrl` (http://host:port). */
  static async open(baseUrl: string, options: OpenOptions = {}): Promise<TickscopeClient> {
    const api = new ControlApi(baseUrl.replace(/\/+$/, ''), options.headers ?? {});
    const makeSocket = options.socket ?? (await defaultSocketFactory());
    const key = options.key ?? randomKey();
    const settings = { ...options, key };
    const reply = await api.createSession(sessionBody(settings));
    const socket = await connect(api, makeSocket, reply);
    return new TickscopeClient(api, settings, makeSocket, reply, socket);
  }

  /** The dataset the session holds: runs, sectors, symbols' count, range, calendar (the hello's schema). */
  get dataset(): DatasetSchema {
    return this.socket.hello.dataset;
  }

  get sessionId(): string {
    return this.reply.id;
  }

  /** Any query's answer as an Arrow table (README: WebSocket protocol for the queries and their params). */
  async query<Q extends QueryName>(query: Q, params: QueryParamsByName[Q], options: QueryOptions = {}): Promise<QueryResult> {
    const answer = await this.send({ query, params } as RequestBody, options.signal);
    const parts = new Map([...answer.parts].map(([name, tables]) => [name, joined(tables)] as const));
    return { table: joined(answer.tables), parts, done: answer.done! };
  }

  /** A table a view shows (trades, export, breakdown, leaderboard, attribution, episodes) as a CSV, Parquet or Arrow file. */
  async download<Q extends DownloadableQuery>(query: Q, params: QueryParamsByName[Q], format: DownloadFormat, options: QueryOptions = {}): Promise<DownloadResult> {
    const answer = await this.send({ query, params, download: { format } } as RequestBody, options.signal);
    const chunks = answer.file ?? [];
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    return { bytes, name: answer.done!.file?.name ?? `${query}.${format}`, rows: answer.done!.rows };
  }

  /** Closes the socket; with `end`, the session is ended at once rather than after its idle countdown. */
  async close({ end = false }: { end?: boolean } = {}): Promise<void> {
    this.closing = true;
    await this.socket.close();
    if (end) await this.api.deleteSession(this.reply.id);
  }

  private async send(body: RequestBody, signal: AbortSignal | undefined): Promise<Answer> {
    if (signal?.aborted) throw new TickscopeError(`${body.query}: aborted before it was sent`, 'cancelled');
    if (this.closing) throw new TickscopeError(`${body.query}: the client is closed`, 'closed');
    if (!this.socket.isOpen) await this.reopen();
    let answer = await this.sendOnce(body, signal);
    // The session ended under the request, or drains and refused it (not the caller's cancel):
    // once more, on a new session.
    const ended = answer.error && (answer.error.code === 'session-ending' || !this.socket.isOpen);
    if (ended && !signal?.aborted && !this.closing) {
      await this.reopen();
      answer = await this.sendOnce(body, signal);
    }
    if (answer.error) throw new TickscopeError(`${body.query}: ${answer.error.message}`, answer.error.code);
    return answer;
  }

  private sendOnce(body: RequestBody, signal: AbortSignal | undefined): Promise<Answer> {
    const socket = this.socket;
    const id = socket.peekId();
    const pending = socket.request(body);
    if (!signal) return pending;
    // An abort settles the request at once, as fetch does, and tells the server to stop: an answer
    // the server had already finished (a small one, or one from the shared answers) is dropped.
    // Waiting for the server's word made a cancel lose that race and resolve as if never asked.
    let cancel = () => {};
    const cancelled = new Promise<never>((_, reject) => {
      cancel = () => {
        socket.cancel(id);
        reject(new TickscopeError(`${body.query}: cancelled by the caller`, 'cancelled'));
      };
      signal.addEventListener('abort', cancel, { once: true });
    });
    return Promise.race([pending, cancelled]).finally(() => signal.removeEventListener('abort', cancel));
  }

  /** A new session for the same key (the old one ended), and its socket. */
  private reopen(): Promise<void> {
    this.reopening ??= (async () => {
      try {
        this.reply = await this.api.createSession(sessionBody(this.options));
        this.socket = await connect(this.api, this.makeSocket, this.reply);
      } finally {
        this.reopening = null;
      }
    })();
    return this.reopening;
  }
}

function sessionBody(options: OpenOptions): { key?: string; dataset?: string } {
  return { ...(options.key ? { key: options.key } : {}), ...(options.dataset ? { dataset: options.dataset } : {}) };
}

function connect(api: ControlApi, makeSocket: SocketFactory, reply: CreateSessionReply): Promise<SessionSocket> {
  const url = new URL(reply.wsUrl, api.baseUrl.replace(/^http/, 'ws')).toString();
  const cookie = api.cookieHeader();
  return SessionSocket.open(makeSocket(url, { ...api.headers, ...(cookie ? { cookie } : {}) }));
}

function joined(tables: readonly Table[]): Table {
  return tables.length === 0 ? new Table() : tables.length === 1 ? tables[0]! : tables[0]!.concat(...tables.slice(1));
}

function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `script-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The global WebSocket (browsers, Node 22) or, in Node 20, the `ws` package. */
async function defaultSocketFactory(): Promise<SocketFactory> {
  const global = (globalThis as { WebSocket?: new (url: string) => SocketLike }).WebSocket;
  if (global && typeof (globalThis as { window?: unknown }).window !== 'undefined') return (url) => new global(url);
  // Node: `ws`, which can send the owner cookie on the upgrade (the global WebSocket cannot).
  const name = 'ws';
  const { default: WebSocket } = (await import(/* @vite-ignore */ name)) as { default: new (url: string, options: { headers: Record<string, string>; maxPayload: number }) => SocketLike };
  return (url, headers) => new WebSocket(url, { headers, maxPayload: 1024 ** 3 });
}
