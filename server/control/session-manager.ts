// Sessions: one process per key of an owner, get-or-create, keep-alive by connection count with
// an idle countdown, liveness by heartbeat, and admission control with a bounded queue. What one
// session is (its forward-only states and their history) is session.ts.
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorMessage } from '../../shared/errors.js';
import type { SessionInfo, TerminationReason } from '../../shared/http-api.js';
import type { SessionAssignment } from '../session/contract.js';
import type { DatasetCatalog } from './dataset-catalog.js';
import { controlErrors } from './errors.js';
import type { SessionProcess, SessionRuntime } from './runtime/types.js';
import { AdmissionQueue } from './admission-queue.js';
import { Session } from './session.js';
import { ownerLabel } from './access/owner.js';

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
  /** Requests that may wait for a free slot (beyond them: 503); default QUEUE_LENGTH. */
  queueLength?: number;
  /** A session process not heard from this long is ended as `unresponsive`; default 15 s. */
  heartbeatTimeoutMs?: number;
  /** WebSocket ping interval of session processes towards browsers; default 10 s. */
  pingIntervalMs?: number;
  /** The answers the sessions of a store share (SessionAssignment.answerCache); absent: off. */
  answerCache?: SessionAssignment['answerCache'];
}

export const QUEUE_LENGTH = 50;
export const HEARTBEAT_TIMEOUT_MS = 15_000;
const PING_INTERVAL_MS = 10_000;
/** A queued request's POST is answered (202, with its place) after at most this long; the tab asks again. */
export const QUEUE_REPLY_MS = 1000;
/** A place in the queue nobody has asked about for this long is given up (the tab went away). */
const QUEUE_ABANDON_MS = 10_000;
/** How often heartbeats and abandoned queue places are checked. */
const WATCH_INTERVAL_MS = 1000;

/** Who is asking: an owner, or an operator (who sees and may end every session). */
export interface Viewer {
  owner: string | null;
  admin: boolean;
}

export type LifecycleLog = (event: string, fields: Record<string, unknown>) => void;

const KEPT_TERMINATED = 50;

/** Keys are the owner's: logs carry a digest, so an operator's log never hands one to someone else. */
function keyDigest(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

export class SessionManager {
  private readonly byId = new Map<string, Session>();
  /** Live (queued, starting, ready) sessions by owner and key. */
  private readonly liveByKey = new Map<string, Session>();
  /**
   * Sessions holding one of the `maxSessions` slots: from admission until their process has
   * exited (not merely until they start draining), so that a burst of ends and starts can never
   * run more processes than the limit.
   */
  private readonly slotHolders = new Set<Session>();
  private readonly queue: AdmissionQueue<Session>;
  private readonly terminated: Session[] = [];
  private readonly heartbeatTimeoutMs: number;
  private readonly watch: NodeJS.Timeout;
  private lastWatchAt = Date.now();
  private shuttingDown = false;

  constructor(
    private readonly runtime: SessionRuntime,
    private readonly datasets: DatasetCatalog,
    private readonly limits: SessionLimits,
    private readonly log: LifecycleLog,
  ) {
    this.queue = new AdmissionQueue(limits.queueLength ?? QUEUE_LENGTH);
    this.heartbeatTimeoutMs = limits.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
    this.watch = setInterval(() => this.watchSessions(), WATCH_INTERVAL_MS);
    this.watch.unref();
    // The tabs of a dataset that gained runs hear of them on their status stream ('runs' events).
    datasets.onRunsAdded(({ dataset }) => {
      for (const session of this.byId.values()) {
        if (session.datasetId === dataset && session.state !== 'terminated') this.offerNewRuns(session);
      }
    });
  }

  /** Emits 'runs' on the session's events when its dataset has runs its store lacks. */
  offerNewRuns(session: Session): void {
    if (session.storeRevision === null) return;
    const revision = this.datasets.revision(session.datasetId);
    if (revision <= session.storeRevision) return;
    session.events.emit('runs', { revision, runs: this.datasets.runsAddedSince(session.datasetId, session.storeRevision) });
  }

  /**
   * The live session of the owner's `key`, or a new one: started at once when a slot is free,
   * queued when none is (its place in `queuePosition`), refused (controlErrors.queueFull) when the
   * queue is full too. The session is registered under its key before anything is awaited, so
   * simultaneous requests with one key spawn exactly once. Another owner's key is another session.
   */
  getOrCreate(request: { owner: string; key?: string; dataset?: string }): { session: Session; spawned: boolean } {
    if (this.shuttingDown) throw controlErrors.shuttingDown();
    let existing = request.key ? this.liveByKey.get(ownedKey(request.owner, request.key)) : undefined;
    if (existing?.storeRevision != null && existing.storeRevision < this.datasets.revision(existing.datasetId)) {
      // Its tab asks again (a reload) after runs were added: a new session opens the new store.
      this.end(existing, 'dataset-grown');
      existing = undefined;
    }
    if (existing) {
      existing.lastAskedAt = Date.now();
      return { session: existing, spawned: false };
    }
    const datasetId = this.datasets.resolve(request.dataset);
    const free = this.slotHolders.size < this.limits.maxSessions && this.queue.length === 0;
    if (!free && this.queue.full) {
      const eta = this.queue.etaSeconds(this.queue.length + 1);
      this.log('session.refused', { owner: ownerLabel(request.owner), reason: 'queue-full', maxSessions: this.limits.maxSessions, queued: this.queue.length });
      throw controlErrors.queueFull(this.limits.maxSessions, this.queue.length, eta === null ? 5 : Math.min(60, Math.max(1, Math.ceil(eta))));
    }
    const session = new Session(request.owner, request.key ?? randomUUID(), datasetId);
    this.byId.set(session.id, session);
    this.liveByKey.set(ownedKey(session.owner, session.key), session);
    const fields = { sessionId: session.id, owner: ownerLabel(session.owner), keyDigest: keyDigest(session.key), dataset: datasetId };
    if (free) {
      this.log('session.starting', fields);
      this.admit(session);
    } else {
      session.queued = true;
      this.queue.push(session);
      this.log('session.queued', { ...fields, position: this.queue.length });
    }
    return { session, spawned: true };
  }

  /**
   * Waits until the session is ready (rejects if it fails to start), or, while it is queued, for
   * at most `holdMs`: then resolves 'queued' and the caller answers with the place. A queued
   * place is kept while someone asks about it.
   */
  async whenReadyOrQueued(session: Session, holdMs = QUEUE_REPLY_MS): Promise<'ready' | 'queued'> {
    session.asking++;
    session.lastAskedAt = Date.now();
    try {
      if (session.queued) {
        let timer: NodeJS.Timeout | undefined;
        let onAdmitted: (() => void) | undefined;
        const admitted = await Promise.race([
          new Promise<boolean>((resolve) => session.events.once('admitted', (onAdmitted = () => resolve(true)))),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), holdMs))),
          // Ended while queued (abandoned, deleted, shutdown): the ready promise says why.
          session.ready.then(() => true, () => true),
        ]);
        clearTimeout(timer);
        // A tab polls its queued place every few seconds: each ask's listener goes with it.
        session.events.off('admitted', onAdmitted!);
        if (!admitted && session.queued) return 'queued';
      }
      await session.ready;
      return 'ready';
    } finally {
      session.asking--;
      session.lastAskedAt = Date.now();
    }
  }

  /** Its 1-based place in the admission queue, or null. */
  queuePosition(session: Session): number | null {
    return session.queued ? this.queue.positionOf(session) : null;
  }

  /** The queue's view of a queued session: its place, how many wait, and the estimated wait. */
  queueStatus(session: Session): { position: number; waiting: number; etaSeconds: number | null } | null {
    const position = this.queuePosition(session);
    if (position === null) return null;
    return { position, waiting: this.queue.length, etaSeconds: this.queue.etaSeconds(position) };
  }

  get(id: string): Session | undefined {
    return this.byId.get(id);
  }

  /** The session `id` if `viewer` may see it (its owner, or an operator), or if `token` is its own. */
  getFor(id: string, viewer: Viewer, token: string | null = null): Session | undefined {
    const session = this.byId.get(id);
    if (!session) return undefined;
    if (viewer.admin || (viewer.owner !== null && viewer.owner === session.owner) || session.checkToken(token)) return session;
    return undefined;
  }

  /** The viewer's sessions (every session for an operator); nobody sees another owner's keys. */
  list(viewer: Viewer): SessionInfo[] {
    return [...this.byId.values()]
      .filter((session) => viewer.admin || (viewer.owner !== null && session.owner === viewer.owner))
      .map((session) => session.info(this.queuePosition(session)));
  }

  /** Sessions not yet terminated (queued ones included). */
  get liveCount(): number {
    let count = 0;
    for (const session of this.byId.values()) if (session.state !== 'terminated') count++;
    return count;
  }

  /** Ends a session at a user's request. */
  delete(session: Session): boolean {
    if (session.state === 'terminated' || session.state === 'draining') return false;
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
    clearInterval(this.watch);
    const live = [...this.byId.values()].filter((session) => session.state !== 'terminated');
    for (const session of live) this.end(session, 'server-shutdown');
    await Promise.all(live.map((session) => session.process?.exited));
    await this.runtime.close();
  }

  /** Gives the session a slot and starts it. */
  private admit(session: Session): void {
    session.queued = false;
    session.admittedAt = Date.now();
    this.slotHolders.add(session);
    session.events.emit('admitted');
    void this.start(session);
  }

  /** Slots freed: the queue's oldest requests get them, first come, first served. */
  private admitFromQueue(): void {
    while (!this.shuttingDown && this.slotHolders.size < this.limits.maxSessions) {
      const next = this.queue.shift();
      if (!next) return;
      this.log('session.starting', { sessionId: next.id, owner: ownerLabel(next.owner), keyDigest: keyDigest(next.key), dataset: next.datasetId, queuedMs: Date.now() - next.startedAt.getTime() });
      this.admit(next);
    }
  }

  private async start(session: Session): Promise<void> {
    try {
      const { storePath, revision } = await this.datasets.whenReadyAt(session.datasetId);
      session.storeRevision = revision;
      const process = await this.runtime.acquire();
      session.process = process;
      // Lowered only now that a pooled process was taken: lowering it first would end a warm
      // process only to start another.
      this.updateWarmLimit();
      this.watchProcess(session, process);
      if (session.state !== 'starting') return process.terminate(this.limits.terminateGraceMs);
      // The startup timeout runs from here: the process exists and was heard from just now.
      const { storePreopened } = await process.assign(
        {
          sessionId: session.id,
          datasetId: session.datasetId,
          storePath,
          memoryLimit: this.limits.memoryLimit,
          threads: this.limits.threads,
          drainMs: this.limits.terminateGraceMs,
          pingIntervalMs: this.limits.pingIntervalMs ?? PING_INTERVAL_MS,
          ...(this.limits.answerCache ? { answerCache: this.limits.answerCache } : {}),
        },
        this.limits.startupTimeoutMs,
      );
      if (!session.advance('ready')) return;
      const ms = Date.now() - (session.admittedAt ?? session.startedAt.getTime());
      this.queue.recordStart(ms);
      this.log('session.ready', { sessionId: session.id, pid: process.pid, ms, storePreopened });
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

  private watchProcess(session: Session, process: SessionProcess): void {
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

  /**
   * Once a second: sessions whose process has gone silent are ended as unresponsive (at once, with
   * SIGKILL: a stopped process does not act on SIGTERM), and queue places nobody asks about any
   * more are given up. A tick that comes late means this process itself was stalled, and the
   * heartbeats it has not read yet are not the sessions' fault: that round is skipped.
   */
  private watchSessions(): void {
    const now = Date.now();
    const stalled = now - this.lastWatchAt > 3 * WATCH_INTERVAL_MS;
    this.lastWatchAt = now;
    if (stalled) return;
    for (const session of this.slotHolders) {
      const process = session.process;
      if (!process || (session.state !== 'starting' && session.state !== 'ready')) continue;
      const silentMs = now - process.lastHeardAt;
      if (silentMs <= this.heartbeatTimeoutMs) continue;
      const why = `session process unresponsive: no heartbeat for ${Math.round(silentMs / 1000)} s`;
      this.log('session.unresponsive', { sessionId: session.id, pid: process.pid, silentMs });
      this.end(session, 'unresponsive', why, 0);
    }
    for (const session of [...this.queue.items()]) {
      if (session.asking === 0 && now - session.lastAskedAt > QUEUE_ABANDON_MS) {
        this.end(session, 'idle', `gave up its place in the queue: nobody asked for it for ${QUEUE_ABANDON_MS / 1000} s`);
      }
    }
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

  /**
   * Starts ending a session: no new connections, SIGTERM, SIGKILL after the grace period (or
   * after `graceMs`; the browsers are then told `message` when the process is gone).
   */
  private end(session: Session, reason: TerminationReason, message: string | null = null, graceMs?: number): void {
    if (session.state === 'draining' || session.state === 'terminated') return;
    session.reason ??= reason;
    session.failure ??= message;
    this.release(session);
    this.log('session.draining', { sessionId: session.id, reason: session.reason });
    if (!session.process) {
      // Never got a process (queued, the dataset failed to prepare, or the pool could not start one).
      session.advance('terminated', session.failure);
      this.freeSlot(session);
      this.retire(session);
      return;
    }
    session.advance('draining', session.failure);
    if (graceMs === undefined) session.process.terminate(this.limits.terminateGraceMs);
    else session.process.terminate(graceMs, message ?? undefined);
  }

  private finish(session: Session): void {
    this.release(session);
    this.freeSlot(session);
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

  /**
   * Warm processes count toward the session limit: the pool only keeps what sessions' processes
   * leave free (a session still waiting for its store to be prepared will take a pooled one).
   */
  private updateWarmLimit(): void {
    let processes = 0;
    for (const session of this.slotHolders) if (session.process) processes++;
    this.runtime.setWarmLimit(this.limits.maxSessions - processes);
  }

  /** Frees the key (a new request with it gets a new session), leaves the queue, stops the timers. */
  private release(session: Session): void {
    const key = ownedKey(session.owner, session.key);
    if (this.liveByKey.get(key) === session) this.liveByKey.delete(key);
    if (this.queue.remove(session)) session.queued = false;
    this.stopIdleCountdown(session);
    if (session.lifetimeTimer) clearTimeout(session.lifetimeTimer);
  }

  /** The session's process is gone (or it never had one): its slot goes to the queue. */
  private freeSlot(session: Session): void {
    if (!this.slotHolders.delete(session)) return;
    this.queue.recordRelease();
    this.updateWarmLimit();
    this.admitFromQueue();
  }

  /** Keeps the last few terminated sessions visible for status queries, then forgets them. */
  private retire(session: Session): void {
    this.terminated.push(session);
    while (this.terminated.length > KEPT_TERMINATED) this.byId.delete(this.terminated.shift()!.id);
  }
}

/** Keys are per owner: the map key of an owner's key (a newline is in neither). */
function ownedKey(owner: string, key: string): string {
  return `${owner}\n${key}`;
}
