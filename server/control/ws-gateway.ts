// The only way into a session process: an HTTP upgrade to /ws/:sessionId?token=... whose token,
// Origin and session state check out is handed to that session's process; anything else is
// answered with a plain HTTP error and closed before it reaches a session.
import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { controlErrors, type ControlError } from './errors.js';
import type { SessionManager } from './session-manager.js';

export const WS_PATH_PREFIX = '/ws/';

export interface GatewayOptions {
  /** Origins allowed besides the server's own (scheme://host:port). */
  allowedOrigins: readonly string[];
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
    const reject = (error: ControlError) => {
      // The token is a query parameter: log the path only, never the URL.
      options.log('ws.refused', { path: url.pathname, status: error.statusCode, code: error.code, reason: error.message, origin: request.headers.origin ?? null });
      refuse(socket, error);
    };
    if (!url.pathname.startsWith(WS_PATH_PREFIX)) return reject(controlErrors.noEndpoint());
    const sessionId = url.pathname.slice(WS_PATH_PREFIX.length);
    const session = sessions.get(sessionId);
    if (!session) return reject(controlErrors.noSession(sessionId));
    if (!session.checkToken(url.searchParams.get('token'))) return reject(controlErrors.badToken());
    if (!originAllowed(request, options.allowedOrigins)) return reject(controlErrors.originRefused(request.headers.origin));
    if (session.state !== 'ready') return reject(controlErrors.sessionNotReady(session.state));
    sessions.connect(session, request, socket, head);
  });
}

/** Browsers always send Origin on WebSocket upgrades; it must be this server or an allowed one. */
function originAllowed(request: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true; // not a browser: the token alone decides
  if (allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    // Not a URL ("null" from a sandboxed page, or garbage): not an origin that may open sessions.
    return false;
  }
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
