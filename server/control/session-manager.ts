// Sessions: one process per key, get-or-create, forward-only states, keep-alive by connection
// count with an idle countdown, admission control, and a history of state events per session.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorMessage } from '../../shared/errors.js';
import type { SessionInfo, SessionState, SessionStateEvent, TerminationReason } from '../../shared/http-api.js';
import type { SessionStats } from '../session/contract.js';
import type { DatasetCatalog } from './dataset-catalog.js';
import { controlErrors } from './errors.js';
import type { SessionProcess, SessionRuntime } from './runtime/types.js';
import { newToken, tokenMatches } from './token.js';

export interface SessionLimits {
  /** Live sessions (starting, ready or draining) allowed at once. */
  maxSessions: number;
  idleTimeoutMs: number;
  /** Optional cap on a session's whole life; 0 = none. */
  lifetimeMs: number;
  startupTimeoutMs: number;
  /** SIGTERM -> SIGKILL grace period. */
  terminateGraceMs: number;
  /** DuckDB limits given to every session process. */
  memoryLimit: string;
  threads: number;
  /** Bytes all sessions together may use (checked against maxSessions x memoryLimit at start). */
  memoryBudgetBytes: number;
}

export type LifecycleLog = (event: string, fields: Record<string, unknown>) => void;

const STATE_ORDER: Record<SessionState, number> = { starting: 0, ready: 1, draining: 2, terminated: 3 };
const KEPT_TERMINATED = 50;

export class Session {
  readonly id = randomUUID();
  readonly token = newToken();
  readonly startedAt = new Date();
  readonly history: SessionStateEvent[] = [];
  readonly events = new EventEmitter();
  state: SessionState = 'starting';
  reason: TerminationReason | null = null;
  exitCode: number | null = null;
  exitSignal: string | null = null;
  /** Why it failed to start, when it did; reported with the terminated state. */
  failure: string | null = null;
  /** What was thrown when it failed to start: the cause of the error its `ready` rejects with. */
  failureCause: unknown = undefined;
  process: SessionProcess | null = null;
  connections = 0;
  idleSince: Date | null = null;
  stats: SessionStats = { queriesServed: 0, bytesSent: 0, cpuMicros: 0 };
  /** Settles when the session is ready or has failed to start. */
  readonly ready: Promise<void>;
  idleTimer: NodeJS.Timeout | null = null;
  lifetimeTimer: NodeJS.Timeout | null = null;
  private settleReady!: { resolve: () => void; reject: (error: Error) => void };

  constructor(
    readonly key: string,
    readonly datasetId: string,
  ) {
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    // Nobody may be awaiting yet; the rejection is still delivered to those who await later.
    this.ready.catch(() => undefined);
    this.record(null);
  }

  /** Moves the state forward; a backward or repeated move is ignored. */
  advance(state: SessionState, message: string | null = null): boolean {
    if (STATE_ORDER[state] <= STATE_ORDER[this.state]) return false;
    this.state = state;
    if (state === 'ready') this.settleReady.resolve();
    if (state === 'terminated') {
      this.settleReady.reject(controlErrors.sessionFailed(message ?? `session ended (${this.reason})`, this.failureCause));
    }
    this.record(message);
    return true;
  }

  checkToken(presented: string | null): boolean {
    return tokenMatches(this.token, presented);
  }

  info(): SessionInfo {
    return {
      id: this.id,
      key: this.key,
      dataset: this.datasetId,
      pid: this.state === 'terminated' ? null : (this.process?.pid ?? null),
      status: this.state,
      reason: this.reason,
      exitCode: this.exitCode,
      exitSignal: this.exitSignal,
      connections: this.connections,
      rssBytes: this.state === 'terminated' ? null : (this.process?.rssBytes() ?? null),
      cpuSeconds: this.stats.cpuMicros / 1e6,
      queriesServed: this.stats.queriesServed,
      bytesSent: this.stats.bytesSent,
      startedAt: this.startedAt.toISOString(),
      idleSince: this.idleSince?.toISOString() ?? null,
    };
  }

  private record(message: string | null): void {
    const event: SessionStateEvent = {
      state: this.state,
      at: new Date().toISOString(),
      reason: this.reason,
      exitCode: this.exitCode,
      exitSignal: this.exitSignal,
      message,
    };
    this.history.push(event);
    this.events.emit('state', event);
  }
}

export class SessionManager {
  private readonly byId = new Map<string, Session>();
  private readonly liveByKey = new Map<string, Session>();
  private readonly terminated: Session[] = [];
  private shuttingDown = false;

  constructor(
    private readonly runtime: SessionRuntime,
    private readonly datasets: DatasetCatalog,
    private readonly limits: SessionLimits,
    private readonly log: LifecycleLog,
  ) {}

  /**
   * The live session of `key`, or a new one. The session is registered under its key before
   * anything is awaited, so simultaneous requests with one key spawn exactly once.
   */
  getOrCreate(request: { key?: string; dataset?: string }): { session: Session; spawned: boolean } {
    if (this.shuttingDown) throw controlErrors.shuttingDown();
    const existing = request.key ? this.liveByKey.get(request.key) : undefined;
    if (existing) return { session: existing, spawned: false };
    const datasetId = this.datasets.resolve(request.dataset);
    if (this.liveByKey.size >= this.limits.maxSessions) {
      this.log('session.refused', { key: request.key ?? null, reason: 'max-sessions', maxSessions: this.limits.maxSessions });
      throw controlErrors.noFreeSlot(this.limits.maxSessions);
    }
    const session = new Session(request.key ?? randomUUID(), datasetId);
    this.byId.set(session.id, session);
    this.liveByKey.set(session.key, session);
    this.log('session.starting', { sessionId: session.id, key: session.key, dataset: datasetId });
    void this.start(session);
    return { session, spawned: true };
  }

  get(id: string): Session | undefined {
    return this.byId.get(id);
  }

  list(): SessionInfo[] {
    return [...this.byId.values()].map((session) => session.info());
  }

  /** Ends a session at a user's request. */
  delete(id: string): boolean {
    const session = this.byId.get(id);
    if (!session || session.state === 'terminated') return false;
    this.end(session, 'deleted');
    return true;
  }

  /** Hands an authenticated WebSocket upgrade to the session's process. */
  connect(session: Session, request: IncomingMessage, socket: Duplex, head: Buffer): void {
    session.process!.handOff(request, socket, head);
  }

  /** Ends every session (reason server-shutdown) and waits until their processes are gone. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    const live = [...this.byId.values()].filter((session) => session.state !== 'terminated');
    for (const session of live) this.end(session, 'server-shutdown');
    await Promise.all(live.map((session) => session.process?.exited));
    await this.runtime.close();
  }

  private async start(session: Session): Promise<void> {
    try {
      const storePath = await this.datasets.whenReady(session.datasetId);
      const process = await this.runtime.acquire();
      session.process = process;
      this.updateWarmLimit();
      this.watch(session, process);
      if (session.state !== 'starting') return process.terminate(this.limits.terminateGraceMs);
      const { storePreopened } = await process.assign(
        {
          sessionId: session.id,
          datasetId: session.datasetId,
          storePath,
          memoryLimit: this.limits.memoryLimit,
          threads: this.limits.threads,
          drainMs: this.limits.terminateGraceMs,
        },
        this.limits.startupTimeoutMs,
      );
      if (!session.advance('ready')) return;
      this.log('session.ready', { sessionId: session.id, pid: process.pid, ms: Date.now() - session.startedAt.getTime(), storePreopened });
      this.startIdleCountdown(session);
      if (this.limits.lifetimeMs > 0) {
        session.lifetimeTimer = setTimeout(() => this.end(session, 'lifetime'), this.limits.lifetimeMs);
      }
    } catch (error) {
      const message = errorMessage(error);
      this.log('session.startup-failed', { sessionId: session.id, error: message });
      session.failureCause ??= error;
      this.end(session, 'startup-failed', message);
    }
  }

  private watch(session: Session, process: SessionProcess): void {
    process.on('connections', (count) => {
      session.connections = count;
      if (count > 0) {
        this.stopIdleCountdown(session);
      } else if (session.state === 'ready') {
        this.startIdleCountdown(session);
      }
    });
    process.on('stats', (stats) => (session.stats = stats));
    process.on('log', (level, message, fields) =>
      this.log(`session.${level}`, { sessionId: session.id, message, ...fields }),
    );
    void process.exited.then((exit) => {
      // An exit nobody asked for is a crash, whatever the code.
      if (!session.reason) session.reason = 'crashed';
      session.exitCode = exit.code;
      session.exitSignal = exit.signal;
      this.finish(session);
    });
  }

  private startIdleCountdown(session: Session): void {
    if (session.connections > 0 || session.idleTimer) return;
    session.idleSince = new Date();
    session.idleTimer = setTimeout(() => this.end(session, 'idle'), this.limits.idleTimeoutMs);
  }

  private stopIdleCountdown(session: Session): void {
    session.idleSince = null;
    if (session.idleTimer) clearTimeout(session.idleTimer);
    session.idleTimer = null;
  }

  /** Starts ending a session: no new connections, SIGTERM, SIGKILL after the grace period. */
  private end(session: Session, reason: TerminationReason, message: string | null = null): void {
    if (session.state === 'draining' || session.state === 'terminated') return;
    session.reason ??= reason;
    session.failure ??= message;
    this.release(session);
    this.log('session.draining', { sessionId: session.id, reason: session.reason });
    if (!session.process) {
      // Never got a process (the dataset failed to prepare, or the pool could not start one).
      session.advance('terminated', session.failure);
      this.retire(session);
      return;
    }
    session.advance('draining', session.failure);
    session.process.terminate(this.limits.terminateGraceMs);
  }

  private finish(session: Session): void {
    this.release(session);
    if (session.advance('terminated', session.failure)) {
      this.log('session.terminated', {
        sessionId: session.id,
        reason: session.reason,
        exitCode: session.exitCode,
        exitSignal: session.exitSignal,
      });
      this.retire(session);
    }
  }

  /** Warm processes count toward the session limit: the pool only keeps what sessions leave free. */
  private updateWarmLimit(): void {
    this.runtime.setWarmLimit(this.limits.maxSessions - this.liveByKey.size);
  }

  /** Frees the key (a new request with it gets a new session) and stops the timers. */
  private release(session: Session): void {
    if (this.liveByKey.get(session.key) === session) {
      this.liveByKey.delete(session.key);
      this.updateWarmLimit();
    }
    this.stopIdleCountdown(session);
    if (session.lifetimeTimer) clearTimeout(session.lifetimeTimer);
  }

  /** Keeps the last few terminated sessions visible for status queries, then forgets them. */
  private retire(session: Session): void {
    this.terminated.push(session);
    while (this.terminated.length > KEPT_TERMINATED) this.byId.delete(this.terminated.shift()!.id);
  }
}
