// The tests' and benchmarks' Node client of the control server and the session protocol: the
// product's own client for scripts (client/api), over `ws` so that a test can choose the owner
// cookie and headers it sends, and send raw frames. One implementation: what a test checks is
// what a script gets.
import WebSocket from 'ws';
import { ControlApi, SessionSocket, type Answer } from '../../client/api/index.js';

export { ControlApi as ApiCaller, type Answer };

const defaultCallers = new Map<string, ControlApi>();

/** The caller (one browser's cookies) that the helpers below use for `baseUrl` unless given another. */
export function defaultCaller(baseUrl: string): ControlApi {
  let caller = defaultCallers.get(baseUrl);
  if (!caller) defaultCallers.set(baseUrl, (caller = new ControlApi(baseUrl)));
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

/** Rows of an answer's part as plain objects (tests only: the product never builds row objects). */
export function rowsOf(answer: Answer, part = ''): Record<string, unknown>[] {
  return (answer.parts.get(part) ?? []).flatMap((table) => table.toArray().map((row) => row.toJSON() as Record<string, unknown>));
}

/** A session's socket over `ws` (its raw socket is `socket`, for tests that write frames themselves). */
export type SessionClient = SessionSocket<WebSocket>;

export const SessionClient = {
  /**
   * Opens the session's WebSocket as `caller` (by default the one `createSession` used for
   * `baseUrl`), sending its owner cookie unless `headers` carry a cookie of their own. A refused
   * upgrade rejects with "upgrade refused: <status>".
   */
  async connect(baseUrl: string, wsUrl: string, headers: Record<string, string> = {}, caller = defaultCaller(baseUrl)): Promise<SessionClient> {
    const cookie = caller.cookieHeader();
    const allHeaders = { ...caller.headers, ...(cookie && !('cookie' in headers) ? { cookie } : {}), ...headers };
    const socket = new WebSocket(new URL(wsUrl, baseUrl.replace(/^http/, 'ws')), { headers: allHeaders, maxPayload: 1024 * 1024 * 1024 });
    const refused = new Promise<never>((_, reject) =>
      socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`))),
    );
    return Promise.race([SessionSocket.open(socket), refused]);
  },
};
