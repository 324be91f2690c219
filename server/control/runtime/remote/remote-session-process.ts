// A session process on another host, as the pool and the session manager see every process
// (types.ts): it is launched (launcher.ts), dials back and registers (session-listener.ts), then
// takes the same messages as a local child, over its control connection instead of IPC. Tabs
// reach it through the proxy (proxied-sockets.ts). Nobody can signal it: `terminate` asks it to
// drain, and the launcher kills it (scancel) when the grace is over.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import { errorMessage } from '../../../../shared/errors.js';
import { newToken } from '../../../os/secrets.js';
import { HEARTBEAT_INTERVAL_MS, type FromSession, type SessionAssignment, type SessionStats, type StoreSettings, type ToSession } from '../../../session/contract.js';
import { writeLine } from '../../../session/json-lines.js';
import type { PooledProcess } from '../process-pool.js';
import { PendingAssignment } from '../pending-assignment.js';
import type { ProcessExit, SessionProcessEvents } from '../types.js';
import type { LaunchedSession } from './launcher.js';
import { ProxiedSockets } from './proxied-sockets.js';
import type { SessionLink } from './session-listener.js';

export class RemoteSessionProcess implements PooledProcess {
  readonly exited: Promise<ProcessExit>;
  readonly warm: Promise<void>;
  lastHeardAt = Date.now();
  private link: SessionLink | null = null;
  /** Every proxied upgrade carries it; the session learns it over the control connection only. */
  private readonly connectionSecret = newToken();
  private readonly events = new EventEmitter();
  private readonly proxies: ProxiedSockets;
  private readonly heartbeat: NodeJS.Timeout;
  private resolveExit!: (exit: ProcessExit) => void;
  private exit: ProcessExit | null = null;
  private readonly assignment = new PendingAssignment();
  private killTimer: NodeJS.Timeout | null = null;
  private terminationRequested = false;
  private closeReason: string | null = null;
  private stats: SessionStats | null = null;
  /** Why it exited (null while it runs), for errors and the tabs. */
  private exitWhy: string | null = null;
  /** What kept it from starting, passed on to whoever waits for it (a cluster-full error, say). */
  private startFailure: unknown = null;

  constructor(
    private readonly launched: LaunchedSession,
    registered: Promise<SessionLink>,
    private readonly onAssign: (store: StoreSettings) => void,
    /** Told the node of a session lost without being asked to end (launcher.ts, nodeSuspect). */
    private readonly onNodeSuspect: (node: string) => void = () => undefined,
  ) {
    this.proxies = new ProxiedSockets((message, fields) => this.events.emit('log', 'warn', message, { job: launched.id, ...fields }));
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.heartbeat = setInterval(() => this.send({ type: 'heartbeat' }), HEARTBEAT_INTERVAL_MS);
    this.heartbeat.unref();
    // Ended before it registered (it could not start, or crashed while loading): it is gone.
    void launched.ended.then(() => {
      if (!this.link) this.finish({ code: null, signal: null }, `session job ${launched.id} ended before it registered`);
    });
    launched.started.catch((error: unknown) => this.finish({ code: null, signal: null }, errorMessage(error), error));
    this.warm = new Promise((resolve, reject) => {
      void this.exited.then(() => reject(this.startFailure ?? new Error(`session process ${launched.id} exited while warming up (${this.exitWhy})`)));
      void registered.then((link) => {
        if (this.exit) return link.socket.destroy();
        this.attach(link, resolve);
      });
    });
    this.warm.catch(() => undefined);
  }

  /** It has dialed back and registered (until then it is only a launched job). */
  get registered(): boolean {
    return this.link !== null;
  }

  /** The node it was launched on, as far as known. */
  get node(): string | null {
    return this.link?.registration.node ?? this.launched.node;
  }

  get pid(): number | null {
    return this.link?.registration.pid ?? null;
  }

  /** Where it runs, for logs: host name and job. */
  get where(): string {
    return `${this.link?.registration.node ?? '(not registered)'} (${this.launched.id})`;
  }

  on<E extends keyof SessionProcessEvents>(event: E, listener: SessionProcessEvents[E]): void {
    this.events.on(event, listener);
  }

  preopen(store: StoreSettings): void {
    this.send({ type: 'preopen', store });
  }

  assign(assignment: SessionAssignment, timeoutMs: number): Promise<{ storePreopened: boolean }> {
    if (this.exit) return Promise.reject(new Error(`session process already exited (${this.exitWhy})`));
    return this.assignment.start(assignment, timeoutMs, () => this.send({ type: 'assign', assignment }), this.onAssign, `session process on ${this.where}`);
  }

  handOff(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const link = this.link;
    if (!link) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    this.proxies.add({ host: link.address, port: link.registration.port, secret: this.connectionSecret }, request, socket, head);
  }

  terminate(graceMs: number, closeReason?: string): void {
    this.terminationRequested = true;
    if (closeReason) this.closeReason ??= closeReason;
    if (this.exit || this.killTimer) return;
    if (!this.link) return this.kill('SIGKILL');
    this.send({ type: 'terminate' });
    this.killTimer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    this.killTimer.unref();
  }

  rssBytes(): number | null {
    return this.exit ? null : (this.stats?.rssBytes ?? null);
  }

  private attach(link: SessionLink, onWarm: () => void): void {
    this.link = link;
    this.lastHeardAt = Date.now();
    writeLine(link.socket, { type: 'welcome', connectionSecret: this.connectionSecret } satisfies ToSession);
    link.onMessage((message) => this.onMessage(message, onWarm));
    link.socket.once('close', () => {
      // A crash, or its node died with it (a node's sockets reset when it goes down but its
      // network card still answers): this side cannot tell which.
      if (!this.terminationRequested && !this.exit) this.onNodeSuspect(link.registration.node);
      this.finish(
        this.terminationRequested ? { code: 0, signal: null } : { code: null, signal: null },
        this.terminationRequested ? 'ended' : `its control connection from ${this.where} closed`,
      );
    });
  }

  /** Ends it now, by the launcher: the grace is over, or it never registered. */
  private kill(signal: 'SIGKILL'): void {
    // Killed after heartbeats stopped: its node, not just the process, may be gone.
    if (this.link && !this.exit && Date.now() - this.lastHeardAt > 2 * HEARTBEAT_INTERVAL_MS) this.onNodeSuspect(this.link.registration.node);
    this.launched.kill();
    this.link?.socket.destroy();
    this.finish({ code: null, signal }, `killed (${signal})`);
  }

  private finish(exit: ProcessExit, why: string, cause?: unknown): void {
    if (this.exit) return;
    this.exit = exit;
    this.exitWhy = why;
    if (cause !== undefined) this.startFailure = cause;
    clearInterval(this.heartbeat);
    if (this.killTimer) clearTimeout(this.killTimer);
    this.link?.socket.destroy();
    // A job outlives its process by a little (its batch step winds down); end it either way.
    this.launched.kill();
    this.proxies.closeAll(this.closeReason ?? (this.terminationRequested ? null : `session process crashed: ${why}`));
    this.assignment.fail(new Error(`session process exited before it was ready (${why})`));
    this.resolveExit(exit);
  }

  private send(message: ToSession): void {
    if (this.link && !this.exit) writeLine(this.link.socket, message);
  }

  private onMessage(message: FromSession, onWarm: () => void): void {
    this.lastHeardAt = Date.now();
    switch (message.type) {
      case 'warm':
        onWarm();
        break;
      case 'ready':
        this.assignment.ready(message.preopened);
        break;
      case 'startup-failed':
        this.assignment.fail(new Error(message.message));
        break;
      case 'connections':
        this.events.emit('connections', message.count);
        break;
      case 'stats':
        this.stats = message.stats;
        this.events.emit('stats', message.stats);
        break;
      case 'log':
        this.events.emit('log', message.level, message.message, { host: this.link?.registration.node, ...message.fields });
        break;
      case 'connection-closed':
      case 'heartbeat':
      case 'register':
        break;
    }
  }
}
