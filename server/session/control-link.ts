// How a session process talks to its runtime (contract.ts): over the IPC channel of a local child,
// or, for a session on another host, over a TCP connection it dials back to the control server,
// with a WebSocket listener of its own that the control server proxies tabs to. main.ts sees
// neither: only messages in, messages out, sockets to upgrade, and the news that the runtime is gone.
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { errorMessage } from '../../shared/errors.js';
import { tokenMatches } from '../os/secrets.js';
import {
  CONNECTION_ID_HEADER,
  CONTROL_SILENCE_MS,
  HEARTBEAT_INTERVAL_MS,
  REMOTE_ENV,
  SESSION_SECRET_HEADER,
  type FromSession,
  type ToSession,
} from './contract.js';
import { readLines, writeLine } from './json-lines.js';

export type ConnectionMessage = Extract<ToSession, { type: 'connection' }>;

export interface ControlLink {
  send(message: FromSession): void;
  /** Messages from the runtime; a `connection` comes with the socket to upgrade. */
  onMessage(listener: (message: ToSession, socket?: Socket) => void): void;
  /** The runtime is gone (however it went): the process must end. Called once. */
  onLost(listener: (why: string) => void): void;
  /** Sends what is queued, then lets go of the runtime; resolves when the process may exit. */
  close(): Promise<void>;
}

/** The link the runtime started this process with: IPC when it has a channel, else the remote environment. */
export async function controlLinkFromEnvironment(env: NodeJS.ProcessEnv = process.env): Promise<ControlLink> {
  if (process.send) return ipcControlLink();
  const address = env[REMOTE_ENV.control];
  const secret = env[REMOTE_ENV.secret];
  if (!address || !secret) {
    throw new Error(
      `the session process must be started by the control server: with an IPC channel, or with ${REMOTE_ENV.control} and ${REMOTE_ENV.secret} in its environment`,
    );
  }
  return RemoteControlLink.dial(address, secret, env[REMOTE_ENV.listenHost] || undefined);
}

function ipcControlLink(): ControlLink {
  return {
    send: (message) => {
      if (process.connected) process.send!(message);
    },
    onMessage: (listener) => process.on('message', (message: ToSession, handle?: unknown) => listener(message, handle as Socket | undefined)),
    // Whoever closed the channel, the control server is gone for this process.
    onLost: (listener) => process.once('disconnect', () => listener('control server went away')),
    // Queued IPC messages flush on the next turn of the loop.
    close: () => new Promise((resolve) => setImmediate(resolve)),
  };
}

class RemoteControlLink implements ControlLink {
  private readonly messageListeners: Array<(message: ToSession, socket?: Socket) => void> = [];
  private lostListener: ((why: string) => void) | null = null;
  private lostWhy: string | null = null;
  private connectionSecret: string | null = null;
  private lastHeardAt = Date.now();
  private readonly watch: NodeJS.Timeout;

  private constructor(
    private readonly control: Socket,
    private readonly listener: ReturnType<typeof createServer>,
  ) {
    readLines(control, (message) => this.receive(message as ToSession));
    control.on('error', (error) => this.lose(`control connection failed: ${errorMessage(error)}`));
    control.on('close', () => this.lose('control connection closed'));
    listener.on('upgrade', (request: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(request, socket, head));
    // Plain HTTP here is a stray client, never the control server.
    listener.on('request', (_request, response) => response.writeHead(404).end());
    this.watch = setInterval(() => {
      const silentMs = Date.now() - this.lastHeardAt;
      if (silentMs > CONTROL_SILENCE_MS) this.lose(`no heartbeat from the control server for ${Math.round(silentMs / 1000)} s`);
    }, HEARTBEAT_INTERVAL_MS);
    this.watch.unref();
  }

  /** Listens for proxied upgrades, dials the control server and registers; rejects when either fails. */
  static async dial(address: string, secret: string, listenHost: string | undefined): Promise<RemoteControlLink> {
    const separator = address.lastIndexOf(':');
    const host = address.slice(0, separator).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(separator + 1));
    if (separator <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new Error(`${REMOTE_ENV.control}=${address} is not host:port`);
    }
    const listener = createServer();
    await new Promise<void>((resolve, reject) => {
      listener.once('error', (error) => reject(new Error(`session listener on ${listenHost ?? 'all addresses'}: ${errorMessage(error)}`)));
      listener.listen(0, listenHost, resolve);
    });
    const listening = listener.address();
    const listenPort = typeof listening === 'object' && listening ? listening.port : 0;
    const control = await new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once('connect', () => resolve(socket));
      socket.once('error', (error) => reject(new Error(`dialing the control server at ${address}: ${errorMessage(error)}`)));
    }).catch((error: unknown) => {
      listener.close();
      throw error;
    });
    // Small messages, sent at once; keep-alive finds a peer that vanished while both were quiet.
    control.setNoDelay(true);
    control.setKeepAlive(true, 1000);
    const link = new RemoteControlLink(control, listener);
    // Nodes of one machine (network namespaces, containers) share a host name: Slurm's name tells them apart.
    const node = process.env.SLURMD_NODENAME || hostname();
    writeLine(control, { type: 'register', secret, port: listenPort, pid: process.pid, node } satisfies FromSession);
    return link;
  }

  send(message: FromSession): void {
    writeLine(this.control, message);
  }

  onMessage(listener: (message: ToSession, socket?: Socket) => void): void {
    this.messageListeners.push(listener);
  }

  onLost(listener: (why: string) => void): void {
    this.lostListener = listener;
    if (this.lostWhy !== null) listener(this.lostWhy);
  }

  close(): Promise<void> {
    clearInterval(this.watch);
    this.listener.close();
    return new Promise((resolve) => {
      if (this.control.destroyed) return resolve();
      // What was written last (the final stats) reaches the control server before the FIN.
      const timer = setTimeout(resolve, 1000);
      this.control.end(() => (clearTimeout(timer), resolve()));
    });
  }

  private receive(message: ToSession): void {
    this.lastHeardAt = Date.now();
    switch (message.type) {
      case 'welcome':
        this.connectionSecret = message.connectionSecret;
        return;
      case 'heartbeat':
        return;
      default:
        for (const listener of this.messageListeners) listener(message);
    }
  }

  /** A proxied tab: taken only with the connection secret, and handed on as a `connection` message. */
  private upgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const presented = request.headers[SESSION_SECRET_HEADER];
    const connectionId = Number(request.headers[CONNECTION_ID_HEADER]);
    if (this.connectionSecret === null || !tokenMatches(this.connectionSecret, presented as string | undefined) || !Number.isInteger(connectionId)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    const headers = { ...request.headers };
    delete headers[SESSION_SECRET_HEADER];
    delete headers[CONNECTION_ID_HEADER];
    const message: ConnectionMessage = { type: 'connection', connectionId, method: request.method ?? 'GET', url: request.url ?? '/', headers, head: head.toString('base64') };
    for (const listener of this.messageListeners) listener(message, socket);
  }

  private lose(why: string): void {
    if (this.lostWhy !== null) return;
    this.lostWhy = why;
    clearInterval(this.watch);
    this.lostListener?.(why);
  }
}
