// Gives memory back when a session goes idle (issue 6: an idle session on the large store must stay
// under 150 MB RSS; #17: under 120 MiB).
//
// While the tab is in use, DuckDB's buffer pool keeps the blocks its queries read (up to the
// session's memory_limit) and its allocator (a bundled jemalloc, told not to decay: SESSION_ENV in
// contract.ts) keeps freed pages for the next query: both are what keeps the next zoom fast. Once
// no request has been in flight for a quiet period (IDLE_QUIET_MS), the session has no use for
// them, so it shrinks (steps 1-3). After a much longer quiet (REOPEN_QUIET_MS) it shrinks deeper,
// with step 0 first:
//
// 0. the store is opened again on a new DuckDB instance (`reopen`, given by main.ts), the runner
//    moves to it and the old instance is closed. What DuckDB keeps of each table it has read (the
//    row groups' and column segments' metadata, statistics: loaded on first read, never evicted)
//    goes only with its instance. On `large` after a 40-step drill-down, idle RSS 150 -> 128 MiB
//    (anonymous memory 72 -> 50 MiB). The cost is the first requests after it reading that
//    metadata again (measured: 0-18 ms per request on average, a symbol's series +50-70 ms), on top
//    of what step 2 already costs them: too much for an analyst's pause between clicks, so only
//    after minutes of quiet;
// 1. a full V8 collection, when the process runs with --expose-gc: frees the Arrow batches already
//    sent and the rest of the requests' garbage, so that step 3 returns their memory as well. The
//    deep shrink collects DEEP_COLLECTIONS times: V8 drops a function's bytecode (and, with
//    --flush-baseline-code, its baseline code) once it has gone unrun through --bytecode-old-age
//    (5) full collections, and the planners, encoders and validators a drill-down ran are most of
//    the session's JS heap. On `large` after a 40-step drill-down: idle RSS 132.7 -> 126.4-129.1
//    MiB; the next 10 steps took 1.29-1.33 s against 1.13 s after a single collection (what they
//    run is compiled again), one more reason for the deep shrink to wait for minutes of quiet;
// 2. `SET memory_limit` to a tiny value: DuckDB evicts cached blocks until it is under it. The store
//    is opened READ_ONLY, so every cached block is a clean copy of the file: evicting only drops it
//    (nothing is written to a temp file), and the next query reads it back from the OS page cache;
// 3. `SET memory_limit` back to the configured value. After a successful change of the limit
//    DuckDB flushes its allocator (BufferPool::SetLimit -> Allocator::FlushAll: purges every
//    jemalloc arena, then glibc's malloc_trim(0), which also returns what steps 0 and 1 freed).
//
// Every request goes through enter()/leave() (QueryRunner). A request that arrives while a shrink
// runs waits for it to finish (tens of ms), so no query ever runs under the lowered limit; if the
// limit could not be put back, the request tries again itself before it runs.
//
// DuckDB's allocator settings were considered and are left alone: allocator_flush_threshold and
// allocator_bulk_deallocation_flush_threshold flush after a task or a bulk free above a size, i.e.
// while the tab is in use, which costs latency and does nothing for a session that has gone quiet;
// allocator_background_threads adds a purging thread to every session process, where a one-off
// flush when it goes quiet does the same job.
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { sqlString } from '../sql/text.js';
import type { RequestActivity } from './query-runner.js';

/**
 * How long no request may be in flight before the session shrinks.
 * - Longer than an analyst's pause between clicks: after a shrink, the first queries re-read their
 *   blocks from the OS page cache (measured on the large store: up to ~70 ms more for a query).
 *   At 5 s every click after a look at a chart paid that: bench:queries with the baseline
 *   interleaved (the session sits idle while the baseline answers) went from p95 41 ms to 66-70
 *   ms for trades and series. 30 s spares a user at work and still gives memory back long before
 *   a closed tab's idle countdown (60 s by default) ends its session.
 * - A full V8 collection after some quiet also releases heap pages that one right after a burst
 *   keeps (measured: RSS 115 MiB after a shrink at 5 s, 130 MiB at 3 s; V8 shrinks its heap once
 *   the allocation rate has been low for a while).
 */
export const IDLE_QUIET_MS = 30_000;

/**
 * How long no request may be in flight before the session also opens its store again (step 0).
 * At 30 s, with the shrink, bench:queries' p95 rose by 15-25 ms (attribution 84 -> 109 ms, series
 * 95 -> 147): the session sat idle while the baseline answered, and each pause cost its next
 * requests the tables' metadata. Two minutes without a click is a tab left open while its analyst
 * is elsewhere, which is what the idle budget is about.
 */
export const REOPEN_QUIET_MS = 120_000;

/**
 * Full collections in a deep shrink: one more than V8's --bytecode-old-age (5 in Node 20), so that
 * the bytecode of every function not run since is flushed by the last of them.
 */
export const DEEP_COLLECTIONS = 6;

/**
 * The memory_limit set for a moment to make DuckDB evict: eviction stops once DuckDB holds less.
 * It must be above what an idle session keeps pinned, or DuckDB refuses the change (having evicted
 * what it could): the meta table's primary-key index, 0.5 MiB. What stays cached under it is at
 * most this much, the most recently used blocks.
 */
export const SHRINK_MEMORY_LIMIT = '2MiB';

export interface IdleMemoryOptions {
  /** The session's memory_limit, as given to DuckDBInstance.create; put back after every shrink. */
  memoryLimit: string;
  /** Quiet before a shrink: IDLE_QUIET_MS by default. */
  quietMs?: number;
  /** Quiet before a shrink with `reopen`: REOPEN_QUIET_MS by default; counted from the last request too. */
  reopenQuietMs?: number;
  shrinkLimit?: string;
  /** A full V8 collection: `globalThis.gc` when the process runs with --expose-gc. */
  collectGarbage?: () => void;
  /**
   * Opens the store again on a new DuckDB instance, moves the session onto it and closes the old
   * one; run first in a deep shrink (reopenNow(), or after reopenQuietMs), while no request is in
   * flight (the rest of the shrink then runs on the new instance). What DuckDB keeps of the tables
   * it has read (their row groups' and segments' metadata, loaded on first read and never evicted)
   * goes only with its instance: on `large`, after a drill-down, ~22 MiB of RSS.
   */
  reopen?: () => Promise<void>;
  /** Told what each shrink gave back. */
  onShrink?: (report: ShrinkReport) => void;
  /** Told when a shrink started by the quiet timer fails (no caller to throw to). */
  onError: (error: Error) => void;
}

export interface ShrinkReport {
  ms: number;
  /** DuckDB's own account of its memory (sum of duckdb_memory()), before and after. */
  duckdbBytesBefore: number;
  duckdbBytesAfter: number;
  /** The process's resident set, before and after. */
  rssBefore: number;
  rssAfter: number;
  /** Whether the V8 heap was collected (only when the process runs with --expose-gc). */
  heapCollected: boolean;
  /** Whether the store was opened again on a new instance (`reopen`). */
  reopened: boolean;
  /**
   * Set when DuckDB could not get under the shrink limit: it holds more than that pinned (e.g. a
   * result a cancelled request left behind). What could be evicted was, and the allocator was
   * still flushed when the limit was put back.
   */
  partial?: string;
}

export class IdleMemory implements RequestActivity {
  private inFlight = 0;
  /** whenQuiet() callers waiting for the requests in flight to end. */
  private readonly quietWaiters: (() => void)[] = [];
  private timers: NodeJS.Timeout[] = [];
  /** Shrinks and restores run one at a time, in order; a request waits for what is queued. */
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  /** The memory_limit is (or may still be) below the configured one. */
  private lowered = false;
  private closed = false;
  private readonly quietMs: number;
  private readonly reopenQuietMs: number;
  private readonly shrinkLimit: string;

  /** Starts counting the quiet period at once: a session that never gets a request shrinks too. */
  constructor(
    /** The session's DuckDB instance; a getter, since `reopen` replaces it. */
    private readonly instance: () => Pick<DuckDBInstance, 'connect'>,
    private readonly options: IdleMemoryOptions,
  ) {
    this.quietMs = options.quietMs ?? IDLE_QUIET_MS;
    this.reopenQuietMs = options.reopenQuietMs ?? REOPEN_QUIET_MS;
    this.shrinkLimit = options.shrinkLimit ?? SHRINK_MEMORY_LIMIT;
    this.arm();
  }

  /** A request starts: no shrink until it ends; resolves once the configured limit is in force. */
  async enter(): Promise<void> {
    this.inFlight++;
    this.disarm();
    if (this.queued === 0 && !this.lowered) return;
    try {
      await this.exclusive(() => this.restore());
    } catch (error) {
      this.leave();
      throw error;
    }
  }

  /** Resolves when no request is in flight: at once, or when the last one in flight ends. */
  whenQuiet(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.quietWaiters.push(resolve));
  }

  /** A request ended (answered, failed or cancelled). */
  leave(): void {
    if (this.inFlight === 0) throw new Error('idle memory: leave() without a matching enter()');
    this.inFlight--;
    if (this.inFlight > 0) return;
    this.arm();
    for (const resolve of this.quietWaiters.splice(0)) resolve();
  }

  /**
   * Shrinks now (steps 1-3), after whatever shrink or restore is under way. Resolves null, having
   * done nothing, when a request is in flight. Throws (with the limit put back if at all possible)
   * on failure.
   */
  shrinkNow(): Promise<ShrinkReport | null> {
    return this.exclusive(() => this.shrink());
  }

  /**
   * Opens the store again (`reopen`) and shrinks on the new instance; as shrinkNow() without
   * `reopen`. A failed reopen leaves the session on its instance, whose cache is still given back,
   * and throws.
   */
  reopenNow(): Promise<ShrinkReport | null> {
    return this.exclusive(async () => {
      if (!this.options.reopen || this.inFlight > 0 || this.closed) return this.shrink(DEEP_COLLECTIONS);
      const started = performance.now();
      const rssBefore = process.memoryUsage.rss();
      let reopening: unknown;
      try {
        await this.options.reopen();
      } catch (error) {
        reopening = error;
      }
      // Then the usual shrink, on the new instance: its allocator flush also returns what the old
      // instance freed when it closed (and its JS wrappers and unused bytecode, collected first).
      const report = await this.shrink(DEEP_COLLECTIONS);
      if (reopening !== undefined) {
        throw new Error(`idle shrink: opening the store again failed; the session stays on its DuckDB instance (its cache was evicted): ${errorMessage(reopening)}`, { cause: reopening });
      }
      return report && { ...report, reopened: true, rssBefore, ms: performance.now() - started };
    });
  }

  /** No more shrinks; one under way finishes. */
  close(): void {
    this.closed = true;
    this.disarm();
  }

  private arm(): void {
    if (this.closed) return;
    this.disarm();
    this.timers.push(this.after(this.quietMs, () => this.shrinkNow()));
    if (this.options.reopen) this.timers.push(this.after(this.reopenQuietMs, () => this.reopenNow()));
  }

  private after(ms: number, task: () => Promise<ShrinkReport | null>): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers = this.timers.filter((t) => t !== timer);
      task().then(
        (report) => report && this.options.onShrink?.(report),
        (error: Error) => this.options.onError(error),
      );
    }, ms);
    // A quiet session must not keep the process alive for its own sake.
    timer.unref();
    return timer;
  }

  private disarm(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    this.queued++;
    const result = this.chain.then(task);
    // The chain only orders the tasks: each task's failure goes to its own caller through `result`.
    this.chain = result.then(
      () => void this.queued--,
      () => void this.queued--,
    );
    return result;
  }

  private async shrink(collections = 1): Promise<ShrinkReport | null> {
    if (this.inFlight > 0 || this.closed) return null;
    const started = performance.now();
    const rssBefore = process.memoryUsage.rss();
    const connection = await this.connect();
    try {
      const duckdbBytesBefore = await duckdbBytes(connection);
      // A request that came in meanwhile is waiting for this task: let it have the warm cache.
      if (this.inFlight > 0 || this.closed) return null;
      for (let i = 0; this.options.collectGarbage && i < collections; i++) this.options.collectGarbage();
      let lowering: Error | undefined;
      this.lowered = true;
      try {
        await connection.run(`SET memory_limit = ${sqlString(this.shrinkLimit)}`);
      } catch (error) {
        lowering = new Error(`idle shrink: SET memory_limit = '${this.shrinkLimit}' failed: ${errorMessage(error)}`, { cause: error });
      }
      try {
        await this.restore(connection);
      } catch (error) {
        throw lowering ? new Error(`${errorMessage(error)}; before that, ${lowering.message}`, { cause: error }) : error;
      }
      // Out of memory: DuckDB holds more than the shrink limit pinned. It evicted all it could
      // before refusing, so the shrink did its job, in part. Anything else is a failure.
      const partial = lowering && /Out of Memory Error/.test(lowering.message) ? lowering.message.split('\n')[0] : undefined;
      if (lowering && partial === undefined) throw lowering;
      return {
        ms: performance.now() - started,
        duckdbBytesBefore,
        duckdbBytesAfter: await duckdbBytes(connection),
        rssBefore,
        rssAfter: process.memoryUsage.rss(),
        heapCollected: this.options.collectGarbage !== undefined,
        reopened: false,
        ...(partial !== undefined ? { partial } : {}),
      };
    } finally {
      connection.closeSync();
    }
  }

  /** Puts the configured memory_limit back, if it is not in force. */
  private async restore(connection?: DuckDBConnection): Promise<void> {
    if (!this.lowered) return;
    const own = connection ?? (await this.connect());
    try {
      await own.run(`SET memory_limit = ${sqlString(this.options.memoryLimit)}`);
      this.lowered = false;
    } catch (error) {
      throw new Error(
        `could not put DuckDB's memory_limit back to ${this.options.memoryLimit} after an idle shrink ` +
          `(the next request tries again): ${errorMessage(error)}`,
        { cause: error },
      );
    } finally {
      if (!connection) own.closeSync();
    }
  }

  private async connect(): Promise<DuckDBConnection> {
    try {
      return await this.instance().connect();
    } catch (error) {
      throw new Error(`idle memory: cannot open a DuckDB connection: ${errorMessage(error)}`, { cause: error });
    }
  }
}

/** What DuckDB accounts for: its buffer pool, by tag, summed. */
async function duckdbBytes(connection: DuckDBConnection): Promise<number> {
  try {
    const reader = await connection.runAndReadAll('SELECT sum(memory_usage_bytes)::DOUBLE FROM duckdb_memory()');
    return Number(reader.getRows()[0]?.[0] ?? 0);
  } catch (error) {
    throw new Error(`idle shrink: cannot read duckdb_memory(): ${errorMessage(error)}`, { cause: error });
  }
}
