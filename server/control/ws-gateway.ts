// The only way into a session process: an HTTP upgrade to /ws/:sessionId?token=... whose token,
// Origin and session state check out is handed to that session's process; anything else is
// answered with a plain HTTP error and closed before it reaches a session.
import type { IncomingMessage, Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
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
    socket.on('error', () => socket.destroy());
    const url = new URL(request.url ?? '/', 'http://placeholder');
    const reject = (status: number, reason: string) => {
      // The token is a query parameter: log the path only, never the URL.
      options.log('ws.refused', { path: url.pathname, status, reason, origin: request.headers.origin ?? null });
      refuse(socket, status, reason);
    };
    if (!url.pathname.startsWith(WS_PATH_PREFIX)) return reject(404, 'no WebSocket endpoint here');
    const session = sessions.get(url.pathname.slice(WS_PATH_PREFIX.length));
    if (!session) return reject(404, 'no such session');
    if (!session.checkToken(url.searchParams.get('token'))) return reject(401, 'missing or wrong session token');
    if (!originAllowed(request, options.allowedOrigins)) {
      return reject(403, `origin ${request.headers.origin} may not open sessions here`);
    }
    if (session.state !== 'ready') return reject(409, `session is ${session.state}, not ready`);
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
    return false;
  }
}

function refuse(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
