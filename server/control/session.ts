// One session as the control server knows it: its identity and owner, its token, its state,
// moved forward only (starting, ready, draining, terminated), with a history of state events, its
// process once started, and its counters. The session manager (session-manager.ts) decides what
// happens to it.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { SessionInfo, SessionState, SessionStateEvent, TerminationReason } from '../../shared/http-api.js';
import type { SessionStats } from '../session/contract.js';
import { newToken, tokenMatches } from '../os/secrets.js';
import { ownerLabel } from './access/owner.js';
import { ControlError, controlErrors } from './errors.js';
import type { SessionProcess } from './runtime/types.js';

const STATE_ORDER: Record<SessionState, number> = { starting: 0, ready: 1, draining: 2, terminated: 3 };
export class Session {
  readonly id = randomUUID();
  readonly token = newToken();
  readonly startedAt = new Date();
  readonly history: SessionStateEvent[] = [];
  /** 'state' on every state change; 'admitted' when it leaves the queue for a slot. */
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
  /** The revision of its dataset's store it opened (DatasetCatalog.revision); null until assigned. */
  storeRevision: number | null = null;
  idleSince: Date | null = null;
  stats: SessionStats = { queriesServed: 0, bytesSent: 0, cpuMicros: 0 };
  /** Waiting in the admission queue (state `starting`, no slot yet). */
  queued = false;
  /** When a POST for this session last arrived or was answered (queued places expire without one). */
  lastAskedAt = Date.now();
  /** POSTs for this session being held right now. */
  asking = 0;
  /** When it got its slot (out of the queue). */
  admittedAt: number | null = null;
  /** Settles when the session is ready or has failed to start. */
  readonly ready: Promise<void>;
  idleTimer: NodeJS.Timeout | null = null;
  lifetimeTimer: NodeJS.Timeout | null = null;
  private settleReady!: { resolve: () => void; reject: (error: Error) => void };

  constructor(
    readonly owner: string,
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
      // A refusal from the catalogue (the cluster is full) reaches the tab as it is: its status
      // and Retry-After say more than "failed".
      const cause = this.failureCause;
      this.settleReady.reject(cause instanceof ControlError ? cause : controlErrors.sessionFailed(message ?? `session ended (${this.reason})`, cause));
    }
    this.record(message);
    return true;
  }

  checkToken(presented: string | null): boolean {
    return tokenMatches(this.token, presented);
  }

  /** `queuePosition`: its place in the admission queue, when it waits there. */
  info(queuePosition: number | null = null): SessionInfo {
    return {
      id: this.id,
      key: this.key,
      owner: ownerLabel(this.owner),
      dataset: this.datasetId,
      queuePosition,
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
      outOfMemoryRetries: this.stats.outOfMemoryRetries ?? 0,
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
