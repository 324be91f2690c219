// Where session processes come from. The control server only talks to this interface, so a
// pod-per-session runtime (Kubernetes, Plane) can replace the local child processes without
// touching the session manager. The process side of the contract is server/session/contract.ts.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SessionAssignment, SessionStats } from '../../session/contract.js';

export interface ProcessExit {
  code: number | null;
  signal: string | null;
}

export function describeExit(exit: ProcessExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

export interface SessionProcessEvents {
  connections: (count: number) => void;
  stats: (stats: SessionStats) => void;
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface SessionProcess {
  readonly pid: number | null;
  /** Date.now() when the process was last heard from (a heartbeat or any other message). */
  readonly lastHeardAt: number;
  /** Resolves when the process has exited, however it exited. */
  readonly exited: Promise<ProcessExit>;
  /**
   * Opens the store; resolves once the process says ready (telling whether the store had been
   * opened ahead, while the process waited in the pool), rejects with its reason.
   */
  assign(assignment: SessionAssignment, timeoutMs: number): Promise<{ storePreopened: boolean }>;
  /** Gives the process an authenticated WebSocket upgrade to complete. */
  handOff(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * SIGTERM, then SIGKILL after `graceMs`. Idempotent. With `closeReason`, the browsers still
   * connected when the process is gone get a close frame (1011) that says it, as after a crash.
   */
  terminate(graceMs: number, closeReason?: string): void;
  /** Resident set size now, or null when it cannot be read. */
  rssBytes(): number | null;
  on<E extends keyof SessionProcessEvents>(event: E, listener: SessionProcessEvents[E]): void;
}

export interface SessionRuntime {
  /**
   * A process that has loaded DuckDB and waits for an assignment (from the warm pool if any).
   * It may wait: a runtime never runs more processes than its limit (counted until they have
   * exited), and starts only a few at once.
   */
  acquire(): Promise<SessionProcess>;
  /** Processes waiting in the pool (or warming up); they count toward the session limit. */
  readonly warmCount: number;
  /**
   * How many warm processes the runtime may keep now (never more than its pool size): the
   * session manager lowers it as sessions take the slots, and the runtime ends the surplus.
   */
  setWarmLimit(limit: number): void;
  /** Ends the pool's idle processes; processes already acquired are their owners' to end. */
  close(): Promise<void>;
}
