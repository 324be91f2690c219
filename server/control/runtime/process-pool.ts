// The warm pool every runtime shares: processes started ahead of demand, each opening the store
// the last session got, so a new tab for that dataset pays for neither the start nor the open.
// How a process is started (a local child, a job on a cluster) is the runtime's; counting,
// limits, liveness of pooled processes and back-off are here, once.
import { availableParallelism, loadavg } from 'node:os';
import { errorMessage } from '../../../shared/errors.js';
import { sameStoreSettings, type StoreSettings } from '../../session/contract.js';
import type { SessionProcess, SessionRuntime } from './types.js';

/** A process as the pool holds it: it says when it is warm, and can open a store ahead. */
export interface PooledProcess extends SessionProcess {
  /** Resolves once the process has loaded DuckDB and waits for work; rejects if it exits first. */
  readonly warm: Promise<void>;
  /** Opens `store` ahead of an assignment while the process waits in the pool (contract.ts). */
  preopen(store: StoreSettings): void;
}

export interface ProcessPoolOptions {
  /** Warm processes kept ready; 0 disables the pool. */
  poolSize: number;
  /**
   * A process that has not said `warm` this long after it was started is killed. Counted from
   * the process's start (a request that waited for a slot does not eat into it), and stretched
   * by the machine's load (load average per core, up to 4x): a cold start on two busy cores
   * takes several times what it takes on idle ones.
   */
  warmTimeoutMs: number;
  /**
   * Most processes alive at once, however they are used (warming, pooled, assigned, exiting):
   * counted until each has exited, so a burst can never run more. Default: no limit.
   */
  maxProcesses?: number;
  /** Most processes starting (loading DuckDB) at once; default one per core. */
  spawnConcurrency?: number;
  /** A pooled process silent this long is ended and replaced; default 15 s. */
  heartbeatTimeoutMs?: number;
  /**
   * When a tab takes a pooled process and another stays warm, its replacement starts this much
   * later (ms; default 0: at once). With none left warm, the pool refills at once. The local
   * runtime defers it by LOCAL_REFILL_DELAY_MS (local-process-runtime.ts).
   */
  refillDelayMs?: number;
  onLog?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export class ProcessPool implements SessionRuntime {
  private readonly pool: PooledProcess[] = [];
  /** Warming up for the pool. */
  private readonly starting = new Set<PooledProcess>();
  /** Every process started and not yet exited: what `maxProcesses` bounds. */
  private readonly alive = new Set<PooledProcess>();
  /** Warming up, for the pool or for an `acquire`: what `spawnConcurrency` bounds. */
  private warming = 0;
  /** `acquire` calls waiting for a pooled process or for room to start one, woken on every change. */
  private waiters: Array<() => void> = [];
  private readonly maxProcesses: number;
  private readonly spawnConcurrency: number;
  private readonly heartbeatTimeoutMs: number;
  private readonly poolWatch: NodeJS.Timeout;
  private readonly refillDelayMs: number;
  /** A deferred refill, until it runs. */
  private refillTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private consecutiveFailures = 0;
  /** The store of the last assignment: what pooled processes open ahead for the next tab. */
  private expected: StoreSettings | null = null;
  private warmLimit: number;

  constructor(
    private readonly options: ProcessPoolOptions,
    /** Starts one process; it calls `onAssign` with the store of each assignment that opened. */
    private readonly startProcess: (onAssign: (store: StoreSettings) => void) => PooledProcess,
  ) {
    this.warmLimit = options.poolSize;
    this.maxProcesses = options.maxProcesses ?? Number.POSITIVE_INFINITY;
    this.spawnConcurrency = Math.max(1, options.spawnConcurrency ?? availableParallelism());
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 15_000;
    this.refillDelayMs = options.refillDelayMs ?? 0;
    this.poolWatch = setInterval(() => this.endSilentPooled(), 1000);
    this.poolWatch.unref();
    this.refill();
  }

  get warmCount(): number {
    return this.pool.length + this.starting.size;
  }

  setWarmLimit(limit: number): void {
    this.warmLimit = Math.max(0, Math.min(limit, this.options.poolSize));
    // Over the limit (the slots are wanted by sessions): end the surplus idle processes.
    while (this.pool.length > 0 && this.warmCount > this.warmLimit) this.pool.pop()!.terminate(0);
    this.refillUnlessDeferred();
  }

  async acquire(): Promise<SessionProcess> {
    for (;;) {
      if (this.closed) throw new Error('session runtime is closed');
      const pooled = this.takePooled();
      if (pooled) {
        // With none left warm, the next tab would wait for a start: no deferring then.
        if (this.warmCount > 0) this.refillLater();
        else this.refill();
        return pooled;
      }
      if (this.canSpawn()) {
        const fresh = this.spawn();
        await this.whenWarm(fresh);
        return fresh;
      }
      // No pooled process and no room to start one: wait for an exit, a warm process, a free start.
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poolWatch);
    if (this.refillTimer) clearTimeout(this.refillTimer);
    this.wake();
    const idle = [...this.pool, ...this.starting];
    this.pool.length = 0;
    for (const process of idle) process.terminate(1000);
    await Promise.all(idle.map((process) => process.exited));
  }

  private canSpawn(): boolean {
    return this.alive.size < this.maxProcesses && this.warming < this.spawnConcurrency;
  }

  /** The first pooled process that is still heard from; silent ones are ended on the way. */
  private takePooled(): PooledProcess | undefined {
    for (let process = this.pool.shift(); process; process = this.pool.shift()) {
      if (Date.now() - process.lastHeardAt <= this.heartbeatTimeoutMs) return process;
      this.endSilent(process);
    }
    return undefined;
  }

  private endSilentPooled(): void {
    for (const process of [...this.pool]) {
      if (Date.now() - process.lastHeardAt > this.heartbeatTimeoutMs) {
        this.pool.splice(this.pool.indexOf(process), 1);
        this.endSilent(process);
      }
    }
  }

  private endSilent(process: PooledProcess): void {
    this.options.onLog?.('warn', 'ended a pooled session process that stopped sending heartbeats', { pid: process.pid });
    process.terminate(0);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private spawn(): PooledProcess {
    const spawned = this.startProcess((store) => this.expect(store));
    this.alive.add(spawned);
    void spawned.exited.then(() => {
      this.alive.delete(spawned);
      this.wake();
      this.refillUnlessDeferred();
    });
    return spawned;
  }

  private async whenWarm(process: PooledProcess): Promise<void> {
    this.warming++;
    const timeoutMs = Math.round(this.options.warmTimeoutMs * loadFactor());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`session process did not load within ${timeoutMs} ms of its start`)), timeoutMs);
    });
    try {
      await Promise.race([process.warm, timeout]);
    } catch (error) {
      process.terminate(0);
      throw error;
    } finally {
      clearTimeout(timer);
      this.warming--;
      this.wake();
    }
  }

  /**
   * The next tab most likely wants the store the last one got (one dataset served, or the one in
   * use): every pooled process opens it ahead, so a tab only waits for the hand-over.
   */
  private expect(store: StoreSettings): void {
    if (this.expected && sameStoreSettings(this.expected, store)) return;
    this.expected = store;
    for (const process of this.pool) process.preopen(store);
  }

  /** refill() in refillDelayMs, once for however many tabs take a process meanwhile. */
  private refillLater(): void {
    if (this.refillDelayMs <= 0) return this.refill();
    if (this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = null;
      this.refill();
    }, this.refillDelayMs);
    this.refillTimer.unref();
  }

  /**
   * refill(), unless a tab's take deferred it: the deferred one reads the pool and the limit as
   * they are when it runs. (A take is followed at once by the session manager's new warm limit,
   * and often by the exit of the session the tab before it left: either refilled at once before.)
   */
  private refillUnlessDeferred(): void {
    if (!this.refillTimer) this.refill();
  }

  /**
   * Keeps `poolSize` processes warm or warming, within the process limit; an `acquire` waiting
   * for room goes first. Backs off when processes keep failing to start.
   */
  private refill(): void {
    while (!this.closed && this.warmCount < this.warmLimit && this.waiters.length === 0 && this.canSpawn()) {
      const process = this.spawn();
      this.starting.add(process);
      this.whenWarm(process).then(
        () => {
          this.starting.delete(process);
          this.consecutiveFailures = 0;
          // Sessions took the slots meanwhile (and nobody waits for this one): it goes.
          if (this.closed || (this.warmCount >= this.warmLimit && this.waiters.length === 0)) return process.terminate(0);
          this.pool.push(process);
          if (this.expected) process.preopen(this.expected);
          this.wake();
          // A pooled process that dies (OOM killer, a bug) leaves the pool and is replaced.
          void process.exited.then(() => {
            const index = this.pool.indexOf(process);
            if (index >= 0) {
              this.pool.splice(index, 1);
              this.refillUnlessDeferred();
            }
          });
        },
        (error: unknown) => {
          this.starting.delete(process);
          if (this.closed) return;
          this.consecutiveFailures++;
          this.options.onLog?.('error', 'warm session process failed to start', { pid: process.pid, error: errorMessage(error) });
          const delay = Math.min(30_000, 100 * 2 ** this.consecutiveFailures);
          setTimeout(() => this.refill(), delay).unref();
        },
      );
      if (this.consecutiveFailures > 0) break;
    }
  }
}

/** Load average per core, between 1 and 4: how much longer than usual a start may take now. */
function loadFactor(): number {
  const perCore = loadavg()[0]! / availableParallelism();
  return Math.min(4, Math.max(1, perCore));
}

