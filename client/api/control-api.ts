// The control server's HTTP API as one caller sees it, as one browser does: it keeps the owner
// cookie the server sets (the owner of every session it creates) and sends it back on every
// request and, through `cookieHeader()`, on the WebSocket upgrade. In a browser the cookie jar is
// the browser's own and this map stays empty. `headers` go with every request (the user header an
// authenticating proxy adds, an operator's Authorization).
import type { CreateSessionReply, QueuedSessionReply, SessionInfo } from '../../shared/http-api.js';

/** A request any caller may make: where a new caller picks up its owner cookie. */
const IDENTITY_PATH = '/api/health';
/** How often a queued session request asks again (the server keeps a place asked about within 10 s). */
const QUEUE_POLL_MS = 250;

export class ControlApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ControlApiError';
  }
}

export class ControlApi {
  private readonly cookies = new Map<string, string>();
  private identified: Promise<unknown> | null = null;

  constructor(
    /** http(s)://host:port of the control server, no trailing slash. */
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
    // Node's fetch hands Set-Cookie over (a browser's keeps it to itself and sets it for us).
    for (const line of response.headers.getSetCookie?.() ?? []) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq > 0) this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
    return response;
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.fetch(path, init);
    if (!response.ok) throw new ControlApiError(`${init.method ?? 'GET'} ${path}: ${response.status} ${await response.text()}`, response.status);
    return (await response.json()) as T;
  }

  /** The caller's own sessions (every session for an operator). */
  listSessions(): Promise<SessionInfo[]> {
    return this.json<SessionInfo[]>('/api/sessions');
  }

  /**
   * One POST /api/sessions, as sent: 200 with the session, 202 with a queue place, or an error
   * (the API's tests send bodies it refuses).
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
        await new Promise((resolve) => setTimeout(resolve, QUEUE_POLL_MS));
        continue;
      }
      if (!response.ok) throw new ControlApiError(`POST /api/sessions: ${response.status} ${json.message}`, response.status);
      return json as CreateSessionReply;
    }
  }

  /** Ends a session (DELETE /api/sessions/:id); its process goes and its sockets close. */
  async deleteSession(id: string): Promise<void> {
    const response = await this.fetch(`/api/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
    await response.body?.cancel();
    if (!response.ok && response.status !== 404) throw new ControlApiError(`DELETE /api/sessions/${id}: ${response.status}`, response.status);
  }
}
