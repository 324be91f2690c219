// Where remote session processes dial back (contract.ts, "Remote sessions"). Each is started with
// a one-time secret; its first line must be `register` with that secret, which hands the
// connection to whoever waits for it. Anything else (a stray client, a replayed or unknown secret,
// silence) is cut, and said in the log.
import { createServer, type Server, type Socket } from 'node:net';
import { errorMessage } from '../../../../shared/errors.js';
import { newToken, tokenMatches } from '../../../os/secrets.js';
import { isFromSession, type FromSession } from '../../../session/contract.js';
import { readLines } from '../../../session/json-lines.js';

/** A connection must register this soon after it opens. */
const REGISTER_WITHIN_MS = 5000;

export type Registration = Extract<FromSession, { type: 'register' }>;

/** A registered session's control connection, with the messages after `register`. */
export interface SessionLink {
  socket: Socket;
  registration: Registration;
  /** The session's address as this host sees it: where its WebSocket listener is reached. */
  address: string;
  /** Messages after `register`; those that came before a listener was set are kept for it. */
  onMessage(listener: (message: FromSession) => void): void;
}

/** Expected registrations are found by this much of their secret, then compared whole in constant time. */
const SECRET_KEY_CHARS = 16;

interface Expected {
  secret: string;
  resolve: (link: SessionLink) => void;
}

export class SessionListener {
  private readonly expected = new Map<string, Expected>();
  private constructor(
    private readonly server: Server,
    /** host:port sessions dial. */
    readonly address: string,
    private readonly log: (level: 'warn', message: string, fields?: Record<string, unknown>) => void,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /**
   * Listens on `host` (port 0: any free one). `advertise` is the name sessions dial, when `host`
   * is not one they can reach (a wildcard, or behind NAT).
   */
  static async listen(options: { host: string; port?: number; advertise?: string; log: SessionListener['log'] }): Promise<SessionListener> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new Error(`session listener on ${options.host}:${options.port ?? 0}: ${errorMessage(error)}`)));
      server.listen(options.port ?? 0, options.host, resolve);
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound ? bound.port : 0;
    const host = options.advertise ?? options.host;
    return new SessionListener(server, `${host.includes(':') ? `[${host}]` : host}:${port}`, options.log);
  }

  /** A new one-time secret, and the link of the process that registers with it. */
  expect(): { secret: string; link: Promise<SessionLink>; cancel(): void } {
    const secret = newToken();
    const key = secret.slice(0, SECRET_KEY_CHARS);
    const link = new Promise<SessionLink>((resolve) => this.expected.set(key, { secret, resolve }));
    return { secret, link, cancel: () => this.expected.delete(key) };
  }

  close(): Promise<void> {
    this.expected.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const timer = setTimeout(() => {
      this.log('warn', 'a connection to the session listener did not register in time; cut', { peer });
      socket.destroy();
    }, REGISTER_WITHIN_MS);
    socket.on('error', (error) => this.log('warn', 'session control connection failed', { peer, error: errorMessage(error) }));
    socket.once('close', () => clearTimeout(timer));
    const kept: FromSession[] = [];
    let listener: ((message: FromSession) => void) | null = null;
    let registered = false;
    readLines(socket, (message) => {
      if (!isFromSession(message)) return;
      if (registered) return listener ? listener(message) : void kept.push(message);
      clearTimeout(timer);
      const presented = message.type === 'register' && typeof message.secret === 'string' ? message.secret : null;
      const expected = presented === null ? undefined : this.expected.get(presented.slice(0, SECRET_KEY_CHARS));
      if (!expected || !tokenMatches(expected.secret, presented)) {
        this.log('warn', 'a session registered with an unknown secret; cut', { peer, type: message.type });
        socket.destroy();
        return;
      }
      this.expected.delete(expected.secret.slice(0, SECRET_KEY_CHARS));
      registered = true;
      expected.resolve({
        socket,
        registration: message as Registration,
        address: socket.remoteAddress ?? '127.0.0.1',
        onMessage: (next) => {
          listener = next;
          for (const early of kept.splice(0)) next(early);
        },
      });
    });
  }
}
