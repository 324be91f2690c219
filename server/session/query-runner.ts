// Answers a session's requests: from the store's shared answer cache when it holds one, else on
// a DuckDB connection of the request's own (connection-pool.ts), where its planner's look-ups run
// (kept and shared: lookup-cache.ts) before the plan is streamed as Arrow IPC batches
// (plan-stream.ts). A cancel interrupts the request's DuckDB work, look-ups included; a request
// out of memory beside others runs once more alone.
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { DuckDBTypeId } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { MAX_KEPT_ANSWER_BYTES, type AnswerCache } from './answer-cache.js';
import { CancelledError, reasonOf, throwIfCancelled } from './cancelled.js';
import { ColumnCollector } from './compute.js';
import { ConnectionPool, type PoolStats } from './connection-pool.js';
import { arrowColumns } from './download-table.js';
import { LookupCache, lookupKey, type LookupStats } from './lookup-cache.js';
import type { QueryOutcome } from './query-outcome.js';
import { streamPlan, type StreamedPlan, type StreamTarget } from './plan-stream.js';
import type { ColumnLookup, Lookup, Planner, QueryPlan } from './queries/plan.js';
import { sqlIdent, sqlString } from '../sql/text.js';

/** A request to answer: its planner, cache key and cancel, and where its batches go (StreamTarget; batchRows has a default). */
export interface RunQueryOptions extends Omit<StreamTarget, 'batchRows'> {
  planner: Planner;
  /**
   * The request's answerKey (answer-cache.ts): its answer is looked for in, and kept in, the
   * runner's shared answer cache when it has one.
   */
  cacheKey?: string;
  signal: AbortSignal;
  /** Rows per Arrow batch (DEFAULT_BATCH_ROWS when not given). */
  batchRows?: number;
}

/** What a download's file holds. */
export interface FileOutcome {
  rows: number;
  source: string;
  notes: string[];
}

/**
 * DuckDB could not get memory under its memory_limit (to pin a block or to allocate). Under a
 * small limit (20 sessions in 6 GiB: 67 MiB each) a request can hit it only because the tab's
 * other requests hold memory at that moment; compute() then runs it again alone.
 */
export function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('Out of Memory Error');
}

const DEFAULT_BATCH_ROWS = 64 * 1024;

export interface RunnerStats extends PoolStats, LookupStats {
  /** DuckDB chunks pulled so far, over every request: a slow client must stop this growing. */
  chunksPulled: number;
  /** Requests run again alone after running out of DuckDB's memory beside others (compute). */
  outOfMemoryRetries: number;
  /** Look-ups that waited behind their request's own connection and ran on one released meanwhile. */
  lookupsOnReleased: number;
  /** Requests answered from, and answers written to, the store's shared answer cache. */
  answerHits: number;
  answersKept: number;
}

/**
 * Told when each request starts and ends; its start may wait. idle-memory.ts counts requests in
 * flight this way, and holds a new one back while it puts DuckDB's memory limit back.
 */
export interface RequestActivity {
  enter(): Promise<void>;
  leave(): void;
}

/** A request's work on its connection; `waitMs`: how long it waited for the connection (onConnection). */
type ConnectionWork<T> = (connection: DuckDBConnection, lookup: Lookup, lookupColumns: ColumnLookup, waitMs: number) => Promise<T>;

export class QueryRunner {
  private readonly pool: ConnectionPool;
  private readonly lookups = new LookupCache();
  private chunksPulled = 0;
  private lookupsOnReleased = 0;
  private outOfMemoryRetries = 0;
  /** Names the temporary tables of downloads apart. */
  private downloads = 0;

  private readonly activity: RequestActivity | undefined;
  private readonly answers: AnswerCache | null;
  private readonly sideBySideLookups: boolean;

  constructor(
    instance: DuckDBInstance,
    maxConnections: number,
    options: {
      activity?: RequestActivity;
      answers?: AnswerCache | null;
      /**
       * Look-ups awaited together may run on a lent connection (lookupConnections). Worth it only
       * with a DuckDB thread for each: with one, they would only share it, and hold more of a
       * small memory_limit at once (in bench:sessions' crowd, 67 MiB and one thread a session, a
       * breakdown then failed to pin a block).
       */
      sideBySideLookups?: boolean;
    } = {},
  ) {
    this.pool = new ConnectionPool(instance, maxConnections);
    this.activity = options.activity;
    this.answers = options.answers ?? null;
    this.sideBySideLookups = options.sideBySideLookups ?? false;
  }

  get stats(): RunnerStats {
    return {
      ...this.pool.stats,
      chunksPulled: this.chunksPulled,
      outOfMemoryRetries: this.outOfMemoryRetries,
      ...this.lookups.stats,
      lookupsOnReleased: this.lookupsOnReleased,
      answerHits: this.answers?.stats.hits ?? 0,
      answersKept: this.answers?.stats.writes ?? 0,
    };
  }

  /**
   * Answers a request: from the store's shared answer cache when it holds the request's answer
   * (no DuckDB work, no connection), else computed and streamed, and kept there for every other
   * session of the store when it was worth it (AnswerCache.worthKeeping).
   */
  async run(options: RunQueryOptions): Promise<QueryOutcome> {
    const { cacheKey, signal, onBatch } = options;
    const answers = cacheKey === undefined ? null : this.answers;
    if (!answers) return this.compute(options);
    const started = performance.now();
    const kept = await answers.get(cacheKey!);
    if (kept) {
      throwIfCancelled(signal);
      const readMs = performance.now() - started;
      for (const [i, batch] of kept.batches.entries()) await onBatch(batch, i);
      return { ...kept.outcome, timings: { planMs: 0, executeMs: readMs, encodeMs: 0 }, cached: true };
    }
    const batches: Uint8Array[] = [];
    let bytes = 0;
    const outcome = await this.compute({
      ...options,
      onBatch: (ipc, index) => {
        // Past the size worth keeping, the batches are not held on to.
        bytes += ipc.byteLength;
        if (bytes <= MAX_KEPT_ANSWER_BYTES) batches.push(ipc);
        return onBatch(ipc, index);
      },
    });
    // Written after the answer went out, off its path; a failed write is logged by the cache.
    if (answers.worthKeeping(outcome) && batches.length === outcome.batches) void answers.put(cacheKey!, { outcome, batches });
    return outcome;
  }

  /**
   * Computes and streams the answer. A request that ran out of DuckDB's memory before it sent a
   * batch, while other requests of the session held connections, runs once more alone: after
   * the others end, and before any other starts. Out of memory alone too, its error says so.
   */
  private async compute(options: RunQueryOptions): Promise<QueryOutcome> {
    let sent = 0;
    const counted: RunQueryOptions = {
      ...options,
      onBatch: (ipc, index) => {
        sent++;
        return options.onBatch(ipc, index);
      },
    };
    let company = false;
    try {
      return await this.computeOnce(counted, () => (company ||= this.pool.inUse() > 1));
    } catch (error) {
      company ||= this.pool.inUse() > 0 || this.pool.waiting() > 0;
      if (!isOutOfMemory(error) || sent > 0 || !company || options.signal.aborted) throw error;
    }
    this.outOfMemoryRetries++;
    try {
      return await this.pool.alone(options.signal, () => this.computeOnce(counted));
    } catch (error) {
      if (!isOutOfMemory(error)) throw error;
      throw new Error(
        `${errorMessage(error).split('\n')[0]} (the request ran out of the session's DuckDB memory_limit beside the tab's other requests, ` +
          `and again alone: its answer needs a larger --session-memory)`,
        { cause: error },
      );
    }
  }

  private async computeOnce({ planner, signal, onBatch, onProgress, batchRows = DEFAULT_BATCH_ROWS }: RunQueryOptions, onStart?: () => void): Promise<QueryOutcome> {
    return this.onConnection(signal, async (connection, lookup, lookupColumns, waitMs) => {
      onStart?.();
      const started = performance.now();
      const plan = await planner(lookup, lookupColumns);
      const planMs = performance.now() - started;
      const streamed = await this.stream(connection, plan, signal, { onBatch, ...(onProgress ? { onProgress } : {}), batchRows });
      let total = streamed.total;
      if (plan.totalIfEmpty && total === undefined) total = await plan.totalIfEmpty(lookup);
      return {
        rows: streamed.rows,
        batches: streamed.batches,
        bytes: streamed.bytes,
        timings: { ...streamed.timings, planMs: planMs + streamed.timings.planMs, waitMs },
        ...(total !== undefined ? { total } : {}),
        source: plan.source,
        notes: plan.notes,
        approximate: plan.approximate ?? false,
      };
    });
  }

  /**
   * Writes a planned answer to a file (download.ts): CSV (with a header) or Parquet by DuckDB's
   * COPY. An answer of one SQL statement is copied straight from it; one computed in the session
   * (or of several statements) is streamed as Arrow first and copied from a temporary table
   * appended from it (download-table.ts). Times sent as epoch ms (`ts`, `*_ts`) are written as timestamps; a total
   * column is left out.
   */
  async copyToFile(options: { planner: Planner; signal: AbortSignal; path: string; format: 'csv' | 'parquet' }): Promise<FileOutcome> {
    return this.onConnection(options.signal, async (connection, lookup, lookupColumns) => {
      const plan = await options.planner(lookup, lookupColumns);
      const [only, ...more] = plan.statements;
      const target = `TO ${sqlString(options.path)} (FORMAT ${options.format === 'csv' ? 'csv, HEADER' : 'parquet'})`;
      if (only && more.length === 0 && !only.compute) {
        // The result's columns: a prepared statement knows them only once its parameters' types are.
        const shape = await this.pool.prepare(connection, `SELECT * FROM (${only.sql}) LIMIT 0`);
        shape.bind(only.params);
        const empty = await shape.run();
        const columns = empty.columnNames().map((name, i) => ({ name, typeId: empty.columnTypes()[i]!.typeId }));
        const copy = await connection.prepare(`COPY (SELECT ${fileColumns(columns, only.totalColumn)} FROM (${only.sql})) ${target}`);
        try {
          copy.bind(only.params);
          const rows = Number((await copy.runAndReadAll()).getRows()[0]?.[0] ?? 0);
          return { rows, source: plan.source, notes: plan.notes };
        } finally {
          copy.destroySync();
        }
      }
      const batches: Uint8Array[] = [];
      await this.stream(connection, plan, options.signal, { onBatch: async (ipc) => void batches.push(ipc), batchRows: DEFAULT_BATCH_ROWS });
      const table = arrowColumns(batches);
      const name = `download_${++this.downloads}`;
      await connection.run(`CREATE TEMP TABLE ${name} (${table.columns.map((c) => `${sqlIdent(c.name)} ${c.sqlType}`).join(', ')})`);
      try {
        const appender = await connection.createAppender(name, 'main', 'temp');
        try {
          for (let row = 0; row < table.rows; row++) {
            for (const column of table.columns) column.append(appender, row);
            appender.endRow();
          }
          appender.flushSync();
        } finally {
          appender.closeSync();
        }
        await connection.run(`COPY (SELECT ${fileColumns(table.columns)} FROM temp.${name}) ${target}`);
        return { rows: table.rows, source: plan.source, notes: plan.notes };
      } finally {
        await connection.run(`DROP TABLE IF EXISTS temp.${name}`);
      }
    });
  }

  /**
   * Runs `fn` on a connection of its own: a cancel interrupts its DuckDB work, the planner's
   * look-ups (`lookup`, cached per session) included. From before it waits for a connection to
   * after `fn` has sent its last batch, the request counts as in flight (`activity`): a session
   * streaming to a slow reader is not idle. `fn` is told how long the request waited before it
   * (for an idle shrink or reopen to end, then for a connection).
   */
  private async onConnection<T>(signal: AbortSignal, fn: ConnectionWork<T>): Promise<T> {
    const asked = performance.now();
    await this.activity?.enter();
    try {
      return await this.onConnectionEntered(signal, fn, asked);
    } finally {
      this.activity?.leave();
    }
  }

  private async onConnectionEntered<T>(signal: AbortSignal, fn: ConnectionWork<T>, asked: number): Promise<T> {
    const connection = await this.pool.acquire(signal);
    const waitMs = performance.now() - asked;
    const interrupt = () => connection.interrupt();
    signal.addEventListener('abort', interrupt, { once: true });
    const lookups = this.lookupConnections(connection, signal);
    try {
      throwIfCancelled(signal);
      const lookup: Lookup = async (sql, params, options) => {
        throwIfCancelled(signal);
        const key = lookupKey(sql, params);
        const kept = this.lookups.get(key);
        if (kept) return kept;
        const rows = await this.lookups.share(key, signal, () =>
          lookups.run(async (on) => {
            const prepared = await this.pool.prepare(on, sql);
            prepared.bind(params);
            return (await prepared.runAndReadAll()).getRows();
          }),
        );
        if (options?.keep !== false) this.lookups.keep(key, rows);
        return rows.slice();
      };
      const lookupColumns: ColumnLookup = async (sql, params) => {
        throwIfCancelled(signal);
        return this.lookups.share(`columns\u0000${lookupKey(sql, params)}`, signal, () => lookups.run(async (on) => {
          const prepared = await this.pool.prepare(on, sql);
          prepared.bind(params);
          const result = await prepared.stream();
          const collector = new ColumnCollector(result.columnNames(), result.columnTypes());
          for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
            throwIfCancelled(signal);
            collector.append(chunk);
          }
          return collector.columns();
        }));
      };
      return await fn(connection, lookup, lookupColumns, waitMs);
    } catch (error) {
      // DuckDB's own error for an interrupted query says less than the reason of the cancel.
      if (signal.aborted) throw error instanceof CancelledError ? error : new CancelledError(reasonOf(signal), { cause: error });
      throw error;
    } finally {
      await lookups.settled();
      signal.removeEventListener('abort', interrupt);
      this.pool.release(connection);
    }
  }

  /**
   * Where a request's look-ups run: on its own connection, one at a time; except that, with
   * sideBySideLookups, a look-up asked while another is running (a planner's independent look-ups,
   * awaited together) gets a connection of its own when one is free at once (idle, or a new one
   * under the limit, and no other request waiting for one); it never waits for one. DuckDB runs a
   * small query on one thread, so two of them side by side use the session's two threads: risk's
   * best trades and best symbols, attribution's two boundaries. One that found none free waits
   * for whichever comes first: its turn on its own connection, or a connection another request
   * releases while no request waits for one. In a zoom, risk starts while equity, summary and
   * the benchmark hold the other connections; its look-ups used to run one after another on its
   * own connection after those had finished, one core idle. A cancel interrupts a lent connection
   * too.
   */
  private lookupConnections(
    own: DuckDBConnection,
    signal: AbortSignal,
  ): { run: <T>(task: (connection: DuckDBConnection) => Promise<T>) => Promise<T>; settled: () => Promise<unknown> } {
    let ownQueue: Promise<void> = Promise.resolve();
    let ownBusy = 0;
    const running = new Set<Promise<unknown>>();
    const onLent = async <T>(lent: DuckDBConnection, task: (connection: DuckDBConnection) => Promise<T>): Promise<T> => {
      const interrupt = () => lent.interrupt();
      signal.addEventListener('abort', interrupt, { once: true });
      try {
        throwIfCancelled(signal);
        return await task(lent);
      } finally {
        signal.removeEventListener('abort', interrupt);
        this.pool.release(lent);
      }
    };
    /**
     * Queued on the own connection; with `orReleased`, run instead on a connection another request
     * releases meanwhile if that comes first.
     */
    const onOwn = <T>(task: (connection: DuckDBConnection) => Promise<T>, orReleased: boolean): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        ownBusy++;
        let started = false;
        const take = (released: DuckDBConnection): boolean => {
          if (started || signal.aborted) return false;
          started = true;
          ownBusy--;
          this.lookupsOnReleased++;
          onLent(released, task).then(resolve, reject);
          return true;
        };
        const withdraw = orReleased ? this.pool.onRelease(take) : () => undefined;
        // The queue only orders the look-ups (it never rejects): each one's outcome goes to its own caller.
        ownQueue = ownQueue.then(async () => {
          if (started) return;
          started = true;
          withdraw();
          try {
            resolve(await task(own));
          } catch (error) {
            reject(error as Error);
          } finally {
            ownBusy--;
          }
        });
      });
    const run = async <T>(task: (connection: DuckDBConnection) => Promise<T>): Promise<T> => {
      const sideBySide = ownBusy > 0 && this.sideBySideLookups;
      const lent = sideBySide ? await this.pool.acquireIfFree() : null;
      const done = lent ? onLent(lent, task) : onOwn(task, sideBySide);
      running.add(done);
      try {
        return await done;
      } finally {
        running.delete(done);
      }
    };
    // Settles when every look-up of the request has: a planner that failed while another of its
    // look-ups ran must not hand its connection back under that look-up, nor end the request (for
    // the idle shrink) while a lent connection still works for it.
    const settled = () => Promise.allSettled([...running]);
    return { run, settled };
  }

  private stream(connection: DuckDBConnection, plan: QueryPlan, signal: AbortSignal, target: StreamTarget): Promise<StreamedPlan> {
    return streamPlan(connection, plan, signal, target, { prepare: (on, sql) => this.pool.prepare(on, sql), onChunk: () => void this.chunksPulled++ });
  }

  /**
   * Runs on `instance` from now on (the store opened again, idle-memory.ts), while no request
   * holds a connection. The kept look-ups stay: they are as right on the new instance, and
   * dropping them (3.5 MiB of RSS on `large`) cost a whole-range risk after the reopen its
   * look-ups again, 110-130 ms on warm data (it took 535 ms in a bench:queries run).
   */
  replaceInstance(instance: DuckDBInstance): void {
    this.pool.replaceInstance(instance);
  }

  close(): void {
    this.pool.close();
  }
}

/**
 * The select list a file is written with: every column but the total, and the times the protocol
 * sends as epoch ms (DOUBLE `ts` and `*_ts`) as TIMESTAMP (UTC).
 */
function fileColumns(columns: readonly { name: string; typeId: DuckDBTypeId }[], totalColumn?: string): string {
  return columns
    .filter((c) => c.name !== totalColumn)
    .map((c) => {
      const id = sqlIdent(c.name);
      return c.typeId === DuckDBTypeId.DOUBLE && /(^|_)ts$/.test(c.name) ? `make_timestamp((${id} * 1000)::BIGINT) AS ${id}` : id;
    })
    .join(', ');
}
