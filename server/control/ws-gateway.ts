// The only way into a session process: an HTTP upgrade to /ws/:sessionId?token=... whose Host,
// Origin, token, owner and session state all check out is handed to that session's process;
// anything else is answered with a plain HTTP error and closed before it reaches a session.
//
// A missing Origin is allowed: browsers always send one on a WebSocket, so its absence means a
// non-browser client (a script, a test), which no web page can impersonate. What stops a stolen
// URL is the owner check: the token only opens the session for its owner's own cookie (or the
// user its authenticating proxy names), never for another owner's or for none.
import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { OriginPolicy } from './access/origin-policy.js';
import type { OwnerIdentity } from './access/owner.js';
import type { SessionManager } from './session-manager.js';

export const WS_PATH_PREFIX = '/ws/';

export interface GatewayOptions {
  policy: OriginPolicy;
  owners: OwnerIdentity;
  log: (event: string, fields: Record<string, unknown>) => void;
}

export function wsUrlFor(sessionId: string, token: string): string {
  return `${WS_PATH_PREFIX}${sessionId}?token=${token}`;
}

export function attachWebSocketGateway(server: Server, sessions: SessionManager, options: GatewayOptions): void {
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(request.url ?? '/', 'http://placeholder');
    const origin = request.headers.origin;
    const reject = (status: number, reason: string) => {
      // The token is a query parameter: log the path only, never the URL.
      options.log('ws.refused', { path: url.pathname, status, reason, origin: origin === undefined ? null : JSON.stringify(origin).slice(0, 200) });
      refuse(socket, status, reason);
    };
    if (!options.policy.hostAllowed(request.headers.host)) return reject(403, 'this server does not answer to that host name');
    if (origin !== undefined && !options.policy.originAllowed(origin)) return reject(403, 'pages of other origins may not open sessions here');
    if (!url.pathname.startsWith(WS_PATH_PREFIX)) return reject(404, 'no WebSocket endpoint here');
    const session = sessions.get(url.pathname.slice(WS_PATH_PREFIX.length));
    if (!session) return reject(404, 'no such session');
    if (!session.checkToken(url.searchParams.get('token'))) return reject(401, 'missing or wrong session token');
    const caller = options.owners.lookup(request.headers);
    // Same answer for "no owner" and "another owner": the token alone never opens a session.
    if (caller.owner !== session.owner) return reject(403, 'this session belongs to another owner');
    if (session.state !== 'ready') return reject(409, `session is ${session.state}, not ready`);
    sessions.connect(session, request, socket, head);
  });
}

function refuse(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
