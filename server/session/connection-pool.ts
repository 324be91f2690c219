// The session's DuckDB connections. Each request in flight holds one of its own, so that a cancel
// interrupts exactly its query (DuckDB's interrupt is per connection) while the others go on; at
// most `max` are open (the session's DuckDB threads), handed out first come, first served.
// Besides that queue, the pool knows three things the query runner asks of it:
// - a connection lent at once when one is free and nobody waits (acquireIfFree: look-ups side by
//   side, query-runner.ts lookupConnections), and look-ups that take a connection released while
//   no request waits for one (onRelease);
// - one request at a time that runs alone (alone(): a request out of memory beside others runs
//   again with the session's memory to itself), during which connections go to nobody else;
// - each connection's prepared statements (prepare): a scroll or a zoom repeats the same SQL.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DuckDBConnection, DuckDBInstance, DuckDBPreparedStatement } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { CancelledError, reasonOf, throwIfCancelled } from './cancelled.js';

/** Prepared statements kept per connection: a scroll or a zoom repeats the same SQL text. */
const STATEMENT_CACHE_SIZE = 64;

interface Waiter {
  resolve: (connection: DuckDBConnection) => void;
  reject: (error: Error) => void;
  /** The request that runs alone: a connection it frees comes back to it first. */
  alone: boolean;
}

export interface PoolStats {
  /** Connections open (idle + busy). */
  open: number;
  idle: number;
  /** Requests waiting for a connection. */
  waiting: number;
}

export class ConnectionPool {
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiters: Waiter[] = [];
  /** Takers of a released connection nobody waits for (onRelease); each says whether it took it. */
  private readonly releaseTakers: ((connection: DuckDBConnection) => boolean)[] = [];
  private open = 0;
  private closed = false;
  private readonly statements = new WeakMap<DuckDBConnection, Map<string, DuckDBPreparedStatement>>();
  /** Requests run alone (alone()), one after another. */
  private aloneChain: Promise<void> = Promise.resolve();
  /** While set, a request runs alone: connections go to nobody else (takeFree, release). */
  private aloneNow: { untilIdle: (() => void) | null } | null = null;
  /** Marks the work of the request that runs alone, through its awaits and look-ups. */
  private readonly aloneWork = new AsyncLocalStorage<true>();

  constructor(
    private instance: DuckDBInstance,
    private readonly max: number,
  ) {}

  get stats(): PoolStats {
    return { open: this.open, idle: this.idle.length, waiting: this.waiters.length };
  }

  /** Connections held by requests (or being opened for them). */
  inUse(): number {
    return this.open - this.idle.length;
  }

  /** Requests waiting for a connection. */
  waiting(): number {
    return this.waiters.length;
  }

  /** A connection for a request: at once when one is free, else at its turn. A cancel while it waits leaves the queue. */
  async acquire(signal: AbortSignal): Promise<DuckDBConnection> {
    if (this.closed) throw new Error('query runner is closed');
    const free = this.keptFrom() ? null : this.takeFree();
    if (free) return free;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, alone: this.aloneWork.getStore() === true };
      this.waiters.push(waiter);
      signal.addEventListener(
        'abort',
        () => {
          const at = this.waiters.indexOf(waiter);
          if (at >= 0) {
            this.waiters.splice(at, 1);
            reject(new CancelledError(reasonOf(signal)));
          }
        },
        { once: true },
      );
    });
  }

  /**
   * A connection if one is free now (idle, or a new one under the limit) and no request waits for
   * one, unless the caller is the request that runs alone; else null.
   */
  async acquireIfFree(): Promise<DuckDBConnection | null> {
    if (this.closed || this.keptFrom()) return null;
    // Others waiting do not hold back the request that runs alone: they wait for it anyway.
    if (this.waiters.length > 0 && this.aloneNow === null) return null;
    return this.takeFree();
  }

  /**
   * Offers the connections released from now on, which no request waits for, to `take` (until it
   * returns true, or the returned function withdraws it).
   */
  onRelease(take: (connection: DuckDBConnection) => boolean): () => void {
    this.releaseTakers.push(take);
    return () => {
      const at = this.releaseTakers.indexOf(take);
      if (at >= 0) this.releaseTakers.splice(at, 1);
    };
  }

  release(connection: DuckDBConnection): void {
    if (this.aloneNow && !this.closed) {
      // A request waits to run alone, or runs: nobody else gets this connection until it ends.
      const own = this.waiters.findIndex((w) => w.alone);
      if (own >= 0) return this.waiters.splice(own, 1)[0]!.resolve(connection);
      this.idle.push(connection);
      if (this.inUse() === 0) this.aloneNow.untilIdle?.();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) return waiter.resolve(connection);
    if (this.closed) {
      connection.closeSync();
      this.open--;
      return;
    }
    while (this.releaseTakers.length > 0) if (this.releaseTakers.shift()!(connection)) return;
    this.idle.push(connection);
  }

  /**
   * Runs `task` with no other request on a connection: it waits for those in flight to end (their
   * look-ups included) while newer ones queue behind it; `task`'s own connections, look-ups
   * included, are the only ones handed out until it ends. One at a time.
   */
  async alone<T>(signal: AbortSignal, task: () => Promise<T>): Promise<T> {
    const previous = this.aloneChain;
    let finished!: () => void;
    this.aloneChain = new Promise((resolve) => (finished = resolve));
    await previous;
    const turn: { untilIdle: (() => void) | null } = { untilIdle: null };
    this.aloneNow = turn;
    let onAbort: (() => void) | undefined;
    try {
      if (this.inUse() > 0) {
        await new Promise<void>((resolve, reject) => {
          turn.untilIdle = resolve;
          onAbort = () => reject(new CancelledError(reasonOf(signal)));
          signal.addEventListener('abort', onAbort, { once: true });
        });
      }
      throwIfCancelled(signal);
      return await this.aloneWork.run(true, task);
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
      this.aloneNow = null;
      finished();
      this.wakeWaiters();
    }
  }

  /**
   * The connection's prepared statement for `sql`, prepared once. Parameters are bound per run;
   * DuckDB re-plans a statement itself when new parameter values need it.
   */
  async prepare(connection: DuckDBConnection, sql: string): Promise<DuckDBPreparedStatement> {
    let cache = this.statements.get(connection);
    if (!cache) this.statements.set(connection, (cache = new Map()));
    const cached = cache.get(sql);
    if (cached) {
      cache.delete(sql);
      cache.set(sql, cached);
      cached.clearBindings();
      return cached;
    }
    const prepared = await connection.prepare(sql);
    cache.set(sql, prepared);
    if (cache.size > STATEMENT_CACHE_SIZE) {
      const [oldest, statement] = cache.entries().next().value!;
      cache.delete(oldest);
      statement.destroySync();
    }
    return prepared;
  }

  /**
   * Runs on `instance` from now on (the store opened again, idle-memory.ts): the old instance's
   * connections are closed here, the new one's opened as requests come. Only while no request
   * holds a connection.
   */
  replaceInstance(instance: DuckDBInstance): void {
    const inUse = this.inUse();
    if (inUse > 0) throw new Error(`query runner: cannot move to another DuckDB instance with ${inUse} connection(s) in use`);
    for (const connection of this.idle.splice(0)) connection.closeSync();
    this.open = 0;
    this.instance = instance;
  }

  close(): void {
    this.closed = true;
    for (const connection of this.idle.splice(0)) {
      connection.closeSync();
      this.open--;
    }
    for (const waiter of this.waiters.splice(0)) waiter.reject(new Error('query runner is closed'));
  }

  /** Whether connections are kept from this caller: another request runs alone. */
  private keptFrom(): boolean {
    return this.aloneNow !== null && this.aloneWork.getStore() !== true;
  }

  /** After a request ran alone: the connections it freed go to the requests that queued meanwhile. */
  private wakeWaiters(): void {
    while (this.waiters.length > 0 && !this.closed) {
      const free = this.takeFree();
      if (!free) return;
      const waiter = this.waiters.shift()!;
      Promise.resolve(free).then(waiter.resolve, waiter.reject);
    }
  }

  /**
   * An idle connection, or a new one while fewer than the limit are open; null when neither. Not
   * async on the way to null: acquire() queues its waiter in the same tick, before a release
   * could put a connection back idle with nobody told.
   */
  private takeFree(): DuckDBConnection | Promise<DuckDBConnection> | null {
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.open >= this.max) return null;
    this.open++;
    return this.instance.connect().catch((error: unknown) => {
      this.open--;
      throw new Error(`query runner: cannot open a DuckDB connection: ${errorMessage(error)}`, { cause: error });
    });
  }
}
