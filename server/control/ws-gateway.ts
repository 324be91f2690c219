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
import { controlErrors, type ControlError } from './errors.js';
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
    // A client that resets mid-upgrade: nothing to answer, nobody to tell.
    socket.on('error', () => socket.destroy());
    const url = new URL(request.url ?? '/', 'http://placeholder');
    const origin = request.headers.origin;
    const reject = (error: ControlError) => {
      // The token is a query parameter: log the path only, never the URL.
      options.log('ws.refused', {
        path: url.pathname,
        status: error.statusCode,
        code: error.code,
        reason: error.message,
        origin: origin === undefined ? null : JSON.stringify(origin).slice(0, 200),
      });
      refuse(socket, error);
    };
    if (!options.policy.hostAllowed(request.headers.host)) return reject(controlErrors.wrongHost());
    if (origin !== undefined && !options.policy.originAllowed(origin)) return reject(controlErrors.originRefused());
    if (!url.pathname.startsWith(WS_PATH_PREFIX)) return reject(controlErrors.noEndpoint());
    const sessionId = url.pathname.slice(WS_PATH_PREFIX.length);
    const session = sessions.get(sessionId);
    if (!session) return reject(controlErrors.noSession(sessionId));
    if (!session.checkToken(url.searchParams.get('token'))) return reject(controlErrors.badToken());
    const caller = options.owners.lookup(request.headers);
    // Same answer for "no owner" and "another owner": the token alone never opens a session.
    if (caller.owner !== session.owner) return reject(controlErrors.notOwner());
    if (session.state !== 'ready') return reject(controlErrors.sessionNotReady(session.state));
    sessions.connect(session, request, socket, head);
  });
}

/** Answers the upgrade with the error's plain HTTP reply and closes the socket. */
function refuse(socket: Duplex, error: ControlError): void {
  const body = `${error.message}\n`;
  socket.end(
    `HTTP/1.1 ${error.statusCode} ${STATUS_CODES[error.statusCode]}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
