// The default runtime: session processes are Node child processes on this machine, started
// ahead of demand into a small warm pool, where each opens the store the last session got, so a
// new tab for that dataset pays for neither the start nor the open.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../../../shared/errors.js';
import { isFromSession, sameStoreSettings, type FromSession, type SessionAssignment, type StoreSettings, type ToSession } from '../../session/contract.js';
import { HandedOffSockets } from './handed-off-sockets.js';
import { CONTROL_ENV, endOrphans, processIdentity } from './orphans.js';
import type { ProcessExit, SessionProcess, SessionProcessEvents, SessionRuntime } from './types.js';

const SESSION_ENTRY = fileURLToPath(new URL('../../session/main.js', import.meta.url));
const PAGE_SIZE = 4096;

export interface LocalProcessRuntimeOptions {
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
  /** Extra environment for session processes. */
  env?: NodeJS.ProcessEnv;
  onLog?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

class LocalSessionProcess implements SessionProcess {
  readonly exited: Promise<ProcessExit>;
  readonly warm: Promise<void>;
  lastHeardAt = Date.now();
  /** Told to the browsers still connected when the process is gone (terminate's closeReason). */
  private closeReason: string | null = null;
  private readonly events = new EventEmitter();
  private exit: ProcessExit | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private readyWaiter: { resolve: (preopened: boolean) => void; reject: (error: Error) => void } | null = null;
  private readonly sockets = new HandedOffSockets();
  private terminationRequested = false;

  constructor(
    private readonly child: ChildProcess,
    /** Told the store of each assignment that opened, so the pool can open it ahead for the next tab. */
    private readonly onAssign: (store: StoreSettings) => void,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        if (this.killTimer) clearTimeout(this.killTimer);
        this.sockets.closeAll(this.closeReason ?? (this.terminationRequested ? null : `session process crashed (${describeExit(this.exit)})`));
        this.readyWaiter?.reject(new Error(`session process exited before it was ready (${describeExit(this.exit)})`));
        this.readyWaiter = null;
        resolve(this.exit);
      });
    });
    this.warm = new Promise((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if (isFromSession(message) && message.type === 'warm') {
          child.off('message', onMessage);
          resolve();
        }
      };
      child.on('message', onMessage);
      void this.exited.then((exit) => reject(new Error(`session process exited while warming up (${describeExit(exit)})`)));
    });
    child.on('message', (message) => this.onMessage(message));
    // An IPC write to a process that just died raises here; the exit handler reports it.
    child.on('error', (error) => this.events.emit('log', 'warn', 'session process error', { pid: child.pid, error: errorMessage(error) }));
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  on<E extends keyof SessionProcessEvents>(event: E, listener: SessionProcessEvents[E]): void {
    this.events.on(event, listener);
  }

  /** Opens `store` ahead of an assignment while the process waits in the pool (contract.ts). */
  preopen(store: StoreSettings): void {
    this.send({ type: 'preopen', store });
  }

  assign(assignment: SessionAssignment, timeoutMs: number): Promise<{ storePreopened: boolean }> {
    if (this.exit) return Promise.reject(new Error(`session process already exited (${describeExit(this.exit)})`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiter = null;
        reject(new Error(`session process did not open its store within ${timeoutMs} ms`));
      }, timeoutMs);
      this.readyWaiter = {
        resolve: (storePreopened) => {
          clearTimeout(timer);
          // Only a store that opened is worth opening ahead for the next tab.
          const { storePath, memoryLimit, threads, answerCache } = assignment;
          this.onAssign({ storePath, memoryLimit, threads, ...(answerCache ? { answerCache } : {}) });
          resolve({ storePreopened });
        },
        reject: (error) => (clearTimeout(timer), reject(error)),
      };
      this.send({ type: 'assign', assignment });
    });
  }

  handOff(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const tcp = socket as Socket;
    detachFromServer(tcp);
    const connectionId = this.sockets.add(tcp);
    const message: ToSession = {
      type: 'connection',
      connectionId,
      method: request.method ?? 'GET',
      url: request.url ?? '/',
      headers: request.headers,
      head: head.toString('base64'),
    };
    // The session process reads and writes the connection from now on. This process keeps a
    // paused duplicate only to say why, should the session process die (handed-off-sockets.ts).
    this.child.send(message, tcp, { keepOpen: true }, (error) => {
      if (!error) return;
      this.events.emit('log', 'warn', 'handing a connection to the session process failed', { connectionId, error: errorMessage(error) });
      this.sockets.release(connectionId);
    });
  }

  terminate(graceMs: number, closeReason?: string): void {
    this.terminationRequested = true;
    if (closeReason) this.closeReason ??= closeReason;
    if (this.exit || this.killTimer) return;
    this.child.kill('SIGTERM');
    this.killTimer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    this.killTimer.unref();
  }

  rssBytes(): number | null {
    if (this.exit || !this.child.pid) return null;
    try {
      const resident = Number(readFileSync(`/proc/${this.child.pid}/statm`, 'utf8').split(' ')[1]);
      return Number.isFinite(resident) ? resident * PAGE_SIZE : null;
    } catch {
      // The process exited between the check and the read: it has no resident size to report.
      return null;
    }
  }

  private send(message: ToSession): void {
    if (this.child.connected) this.child.send(message);
  }

  private onMessage(message: unknown): void {
    if (!isFromSession(message)) return;
    this.lastHeardAt = Date.now();
    const m: FromSession = message;
    switch (m.type) {
      case 'ready':
        this.readyWaiter?.resolve(m.preopened);
        this.readyWaiter = null;
        break;
      case 'startup-failed':
        this.readyWaiter?.reject(new Error(m.message));
        this.readyWaiter = null;
        break;
      case 'connections':
        this.events.emit('connections', m.count);
        break;
      case 'connection-closed':
        this.sockets.release(m.connectionId);
        break;
      case 'stats':
        this.events.emit('stats', m.stats);
        break;
      case 'log':
        this.events.emit('log', m.level, m.message, m.fields);
        break;
      case 'warm':
      case 'heartbeat':
        break;
    }
  }
}

export { SESSION_ENTRY };

export class LocalProcessRuntime implements SessionRuntime {
  private readonly pool: LocalSessionProcess[] = [];
  /** Warming up for the pool. */
  private readonly starting = new Set<LocalSessionProcess>();
  /** Every process started and not yet exited: what `maxProcesses` bounds. */
  private readonly alive = new Set<LocalSessionProcess>();
  /** Warming up, for the pool or for an `acquire`: what `spawnConcurrency` bounds. */
  private warming = 0;
  /** `acquire` calls waiting for a pooled process or for room to start one, woken on every change. */
  private waiters: Array<() => void> = [];
  private readonly controlIdentity = processIdentity(process.pid) ?? `${process.pid}:unknown`;
  private readonly maxProcesses: number;
  private readonly spawnConcurrency: number;
  private readonly heartbeatTimeoutMs: number;
  private readonly poolWatch: NodeJS.Timeout;
  private closed = false;
  private consecutiveFailures = 0;
  /** The store of the last assignment: what pooled processes open ahead for the next tab. */
  private expected: StoreSettings | null = null;
  private warmLimit: number;

  constructor(private readonly options: LocalProcessRuntimeOptions) {
    this.warmLimit = options.poolSize;
    this.maxProcesses = options.maxProcesses ?? Number.POSITIVE_INFINITY;
    this.spawnConcurrency = Math.max(1, options.spawnConcurrency ?? availableParallelism());
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 15_000;
    for (const orphan of endOrphans(SESSION_ENTRY)) {
      options.onLog?.('warn', 'ended a session process left by a previous control server', { ...orphan });
    }
    this.poolWatch = setInterval(() => this.endSilentPooled(), 1000);
    this.poolWatch.unref();
    this.refill();
  }

  get warmCount(): number {
    return this.pool.length + this.starting.size;
  }

  /** Processes alive now (any state, until exited). */
  get processCount(): number {
    return this.alive.size;
  }

  setWarmLimit(limit: number): void {
    this.warmLimit = Math.max(0, Math.min(limit, this.options.poolSize));
    // Over the limit (the slots are wanted by sessions): end the surplus idle processes.
    while (this.pool.length > 0 && this.warmCount > this.warmLimit) this.pool.pop()!.terminate(0);
    this.refill();
  }

  async acquire(): Promise<SessionProcess> {
    for (;;) {
      if (this.closed) throw new Error('session runtime is closed');
      const pooled = this.takePooled();
      if (pooled) {
        this.refill();
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
  private takePooled(): LocalSessionProcess | undefined {
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

  private endSilent(process: LocalSessionProcess): void {
    this.options.onLog?.('warn', 'ended a pooled session process that stopped sending heartbeats', { pid: process.pid });
    process.terminate(0);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  private spawn(): LocalSessionProcess {
    const child = fork(SESSION_ENTRY, [], {
      // --expose-gc: a session that goes idle collects its JS heap before it gives memory back
      // (server/session/idle-memory.ts).
      execArgv: [...process.execArgv, '--expose-gc'],
      env: { ...process.env, ...this.options.env, [CONTROL_ENV]: this.controlIdentity },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
      // Its own process group: a terminal's Ctrl-C reaches the control server alone, which ends
      // its sessions in order (close()) instead of racing them. A child whose control server is
      // gone ends itself on the IPC disconnect (server/session/main.ts).
      detached: true,
    });
    const spawned = new LocalSessionProcess(child, (store) => this.expect(store));
    this.alive.add(spawned);
    void spawned.exited.then(() => {
      this.alive.delete(spawned);
      this.wake();
      this.refill();
    });
    return spawned;
  }

  private async whenWarm(process: LocalSessionProcess): Promise<void> {
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
              this.refill();
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

/**
 * Node tracks a socket sent to a child on the server it came from (when `socket.server` is set),
 * and then `server.close()` waits for that child to report it closed, forever if the child has
 * exited (seen on Node 20). This process keeps its own duplicate of the socket, which the server
 * keeps counting as an open connection (through `socket._server`) until HandedOffSockets
 * destroys it; so only the tracking is turned off here.
 */
function detachFromServer(socket: Socket): void {
  (socket as Socket & { server: unknown }).server = null;
}

function describeExit(exit: ProcessExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}
