// The default runtime: session processes are Node child processes on this machine, kept warm by
// the pool (process-pool.ts), each handed its tabs' sockets over IPC.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';
import { errorMessage } from '../../../shared/errors.js';
import { isFromSession, SESSION_NODE_FLAGS, sessionEnvironment, type FromSession, type SessionAssignment, type StoreSettings, type ToSession } from '../../session/contract.js';
import { HandedOffSockets } from './handed-off-sockets.js';
import { CONTROL_ENV, endOrphans, processIdentity } from './orphans.js';
import { sessionEntry, warnIfUnbundled } from './session-entry.js';
import { ProcessPool, type PooledProcess, type ProcessPoolOptions } from './process-pool.js';
import { PendingAssignment } from './pending-assignment.js';
import { describeExit, type ProcessExit, type SessionProcessEvents } from './types.js';

const PAGE_SIZE = 4096;

export interface LocalProcessRuntimeOptions extends ProcessPoolOptions {
  /** Extra environment for session processes. */
  env?: NodeJS.ProcessEnv;
}

class LocalSessionProcess implements PooledProcess {
  readonly exited: Promise<ProcessExit>;
  readonly warm: Promise<void>;
  lastHeardAt = Date.now();
  /** Told to the browsers still connected when the process is gone (terminate's closeReason). */
  private closeReason: string | null = null;
  private readonly events = new EventEmitter();
  private exit: ProcessExit | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private readonly assignment = new PendingAssignment();
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
        this.assignment.fail(new Error(`session process exited before it was ready (${describeExit(this.exit)})`));
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

  preopen(store: StoreSettings): void {
    this.send({ type: 'preopen', store });
  }

  assign(assignment: SessionAssignment, timeoutMs: number): Promise<{ storePreopened: boolean }> {
    if (this.exit) return Promise.reject(new Error(`session process already exited (${describeExit(this.exit)})`));
    return this.assignment.start(assignment, timeoutMs, () => this.send({ type: 'assign', assignment }), this.onAssign);
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
        this.assignment.ready(m.preopened);
        break;
      case 'startup-failed':
        this.assignment.fail(new Error(m.message));
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

/**
 * How long after a tab takes a warm process its replacement starts (ProcessPoolOptions). A start
 * (node, DuckDB, the store's open, a sweep's default pin) is ~0.3 s of a core, on the machine
 * where the tab's own start runs: its session, and with a local browser its page, worker and
 * Chromium, keep two cores busy, and the replacement took a fifth of that CPU. On the 200-run
 * sweep with shared answers (2 cores), tab open -> first chart p50 600 ms with it, 509-521 ms with
 * it 0.4 s later, when the first chart is drawn. A pool of two still keeps up with a tab every
 * 0.7 s (bench:sessions' spawns: p50 63 -> 12 ms: the replacement no longer competes with the next
 * request either). A remote runtime defers only past the tab's reply (REMOTE_REFILL_DELAY_MS): its
 * replacement starts on a node, through a scheduler that takes seconds (in bench:sessions' cluster
 * of namespaces on one machine, deferring it by 1.5 s made the next tab's start later: 820 ->
 * 1,002 ms).
 */
export const LOCAL_REFILL_DELAY_MS = 400;

/** Session processes as children of this one, handed their sockets over IPC. */
export class LocalProcessRuntime extends ProcessPool {
  constructor(options: LocalProcessRuntimeOptions) {
    for (const orphan of endOrphans()) {
      options.onLog?.('warn', 'ended a session process left by a previous control server', { ...orphan });
    }
    warnIfUnbundled(options.onLog);
    const controlIdentity = processIdentity(process.pid) ?? `${process.pid}:unknown`;
    super({ refillDelayMs: LOCAL_REFILL_DELAY_MS, ...options }, (onAssign) => forkSessionProcess({ ...options.env, [CONTROL_ENV]: controlIdentity }, onAssign));
  }
}

function forkSessionProcess(env: NodeJS.ProcessEnv, onAssign: (store: StoreSettings) => void): LocalSessionProcess {
  const child = fork(sessionEntry().path, [], {
    execArgv: [...process.execArgv, ...SESSION_NODE_FLAGS],
    env: sessionEnvironment(env),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'json',
    // Its own process group: a terminal's Ctrl-C reaches the control server alone, which ends
    // its sessions in order (close()) instead of racing them. A child whose control server is
    // gone ends itself on the IPC disconnect (server/session/main.ts).
    detached: true,
  });
  return new LocalSessionProcess(child, onAssign);
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
