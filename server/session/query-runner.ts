// Runs one request at a time per DuckDB connection and streams its result as Arrow IPC batches.
// Each in-flight request holds its own connection so that a cancel can interrupt exactly its
// query (DuckDB's interrupt is per connection) while the others go on. A request is planned on
// that connection too: a planner may run small look-ups (a count, a histogram of ranks) before
// the statements it streams, and a cancel interrupts those as well.
import { AsyncLocalStorage } from 'node:async_hooks';
import { DuckDBTypeId, type DuckDBConnection, type DuckDBDataChunk, type DuckDBInstance, type DuckDBPreparedStatement } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { PART_METADATA_KEY } from '../../shared/frame.js';
import type { Timings } from '../../shared/messages.js';
import { MAX_KEPT_ANSWER_BYTES, type AnswerCache } from './answer-cache.js';
import { ArrowBatchEncoder } from './arrow-encoder.js';
import { ColumnCollector, encodeColumns } from './compute.js';
import { arrowColumns } from './download-table.js';
import type { ColumnLookup, Lookup, Planner, QueryPlan } from './queries/plan.js';
import { sqlIdent, sqlString } from '../sql/text.js';

export interface QueryOutcome {
  rows: number;
  batches: number;
  bytes: number;
  timings: Timings;
  total?: number;
  source: string;
  notes: string[];
  approximate: boolean;
  /** Read from the store's shared answer cache (answer-cache.ts), not computed. */
  cached?: boolean;
}

export interface RunQueryOptions {
  planner: Planner;
  /**
   * The request's answerKey (answer-cache.ts): its answer is looked for in, and kept in, the
   * runner's shared answer cache when it has one.
   */
  cacheKey?: string;
  signal: AbortSignal;
  /** Called for each encoded batch; awaiting it is the backpressure. */
  onBatch: (ipc: Uint8Array, batchIndex: number) => Promise<void>;
  /** Called after each batch with the running counts. */
  onProgress?: (progress: { rows: number; batches: number; bytes: number }) => void;
  /** Rows per Arrow batch; a large answer becomes several frames. */
  batchRows?: number;
}

/** What a download's file holds. */
export interface FileOutcome {
  rows: number;
  source: string;
  notes: string[];
}

export class CancelledError extends Error {
  constructor(message = 'request was cancelled', options?: ErrorOptions) {
    super(message, options);
    this.name = 'CancelledError';
  }
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
/** Prepared statements kept per connection: a scroll or a zoom repeats the same SQL text. */
const STATEMENT_CACHE_SIZE = 64;
/**
 * Look-up answers kept per session. The store is read-only for the session's life, so the same
 * SQL and parameters give the same rows: going back to a view, or a sort of the same range,
 * skips its look-ups (whole-range risk's concentration is 300 ms on `large`). Bounded in bytes
 * (estimated: lookupBytes), so an idle session stays within its memory budget: a bound in rows
 * did not hold once a look-up answered in one row of long texts (rundiff's, ~1 MB of ids and
 * P&L on two sweep runs).
 */
const LOOKUP_CACHE_BYTES = 4 * 1024 * 1024;
export const LOOKUP_CACHE_MAX_BYTES = 1024 * 1024;

export interface RunnerStats {
  /** Connections open (idle + busy). */
  open: number;
  idle: number;
  /** Requests waiting for a connection. */
  waiting: number;
  /** DuckDB chunks pulled so far, over every request: a slow client must stop this growing. */
  chunksPulled: number;
  /** Requests run again alone after running out of DuckDB's memory beside others (compute). */
  outOfMemoryRetries: number;
  /** Look-ups answered from the session's look-up cache. */
  lookupHits: number;
  /** Look-ups answered by an identical one another request was running (sharedLookup). */
  sharedLookups: number;
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
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiters: { resolve: (connection: DuckDBConnection) => void; reject: (error: Error) => void; signal: AbortSignal; alone: boolean }[] = [];
  /**
   * Look-ups queued behind their request's own connection that take a connection released while
   * they wait, when no request waits for one (lookupConnections); each says whether it took it.
   */
  private readonly lendWaiters: ((connection: DuckDBConnection) => boolean)[] = [];
  private open = 0;
  private closed = false;
  private chunksPulled = 0;
  private readonly statements = new WeakMap<DuckDBConnection, Map<string, DuckDBPreparedStatement>>();
  /** Look-up answers by SQL and parameters, least recently used first (see lookupKey). */
  private readonly lookups = new Map<string, { rows: unknown[][]; bytes: number }>();
  private lookupBytes = 0;
  private lookupHits = 0;
  /** Look-ups running now, by lookupKey (columns ones apart): an identical one asked meanwhile waits for it (sharedLookup). */
  private readonly inFlight = new Map<string, { result: Promise<unknown>; signal: AbortSignal }>();
  private sharedLookups = 0;
  private lookupsOnReleased = 0;
  private outOfMemoryRetries = 0;
  /** Names the temporary tables of downloads apart. */
  private downloads = 0;
  /** Requests run again alone (alone()), one after another. */
  private aloneChain: Promise<void> = Promise.resolve();
  /** While set, a request runs alone: connections go to nobody else (takeFree, release). */
  private aloneNow: { untilIdle: (() => void) | null } | null = null;
  /** Marks the work of the request that runs alone, through its awaits and look-ups. */
  private readonly aloneWork = new AsyncLocalStorage<true>();

  private readonly activity: RequestActivity | undefined;
  private readonly answers: AnswerCache | null;
  private readonly sideBySideLookups: boolean;

  constructor(
    private instance: DuckDBInstance,
    private readonly maxConnections: number,
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
    this.activity = options.activity;
    this.answers = options.answers ?? null;
    this.sideBySideLookups = options.sideBySideLookups ?? false;
  }

  get stats(): RunnerStats {
    return {
      open: this.open,
      idle: this.idle.length,
      waiting: this.waiters.length,
      chunksPulled: this.chunksPulled,
      outOfMemoryRetries: this.outOfMemoryRetries,
      lookupHits: this.lookupHits,
      sharedLookups: this.sharedLookups,
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
      if (signal.aborted) throw new CancelledError(reasonOf(signal));
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
      return await this.computeOnce(counted, () => (company ||= this.inUse() > 1));
    } catch (error) {
      company ||= this.inUse() > 0 || this.waiters.length > 0;
      if (!isOutOfMemory(error) || sent > 0 || !company || options.signal.aborted) throw error;
    }
    this.outOfMemoryRetries++;
    try {
      return await this.alone(options.signal, () => this.computeOnce(counted));
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
      const streamed = await this.streamPlan(connection, plan, signal, { onBatch, ...(onProgress ? { onProgress } : {}), batchRows });
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
        const shape = await this.prepare(connection, `SELECT * FROM (${only.sql}) LIMIT 0`);
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
      await this.streamPlan(connection, plan, options.signal, { onBatch: async (ipc) => void batches.push(ipc), batchRows: DEFAULT_BATCH_ROWS });
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
    const connection = await this.acquire(signal);
    const waitMs = performance.now() - asked;
    const interrupt = () => connection.interrupt();
    signal.addEventListener('abort', interrupt, { once: true });
    const lookups = this.lookupConnections(connection, signal);
    try {
      if (signal.aborted) throw new CancelledError(reasonOf(signal));
      const lookup: Lookup = async (sql, params, options) => {
        if (signal.aborted) throw new CancelledError(reasonOf(signal));
        const key = lookupKey(sql, params);
        const kept = this.lookups.get(key);
        if (kept) {
          this.lookupHits++;
          this.lookups.delete(key);
          this.lookups.set(key, kept);
          return kept.rows.slice();
        }
        const rows = await this.sharedLookup(key, signal, () =>
          lookups.run(async (on) => {
            const prepared = await this.prepare(on, sql);
            prepared.bind(params);
            return (await prepared.runAndReadAll()).getRows();
          }),
        );
        if (options?.keep !== false) {
          const bytes = lookupBytes(rows);
          if (bytes <= LOOKUP_CACHE_MAX_BYTES) this.keepLookup(key, rows, bytes);
        }
        return rows.slice();
      };
      const lookupColumns: ColumnLookup = async (sql, params) => {
        if (signal.aborted) throw new CancelledError(reasonOf(signal));
        return this.sharedLookup(`columns\u0000${lookupKey(sql, params)}`, signal, () => lookups.run(async (on) => {
          const prepared = await this.prepare(on, sql);
          prepared.bind(params);
          const result = await prepared.stream();
          const collector = new ColumnCollector(result.columnNames(), result.columnTypes());
          for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
            if (signal.aborted) throw new CancelledError(reasonOf(signal));
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
      this.release(connection);
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
        if (signal.aborted) throw new CancelledError(reasonOf(signal));
        return await task(lent);
      } finally {
        signal.removeEventListener('abort', interrupt);
        this.release(lent);
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
        if (orReleased) this.lendWaiters.push(take);
        // The queue only orders the look-ups (it never rejects): each one's outcome goes to its own caller.
        ownQueue = ownQueue.then(async () => {
          if (started) return;
          started = true;
          const at = this.lendWaiters.indexOf(take);
          if (at >= 0) this.lendWaiters.splice(at, 1);
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
      const lent = sideBySide ? await this.acquireIfFree() : null;
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

  /** Streams a plan's statements as Arrow IPC batches (onBatch), in order. */
  private async streamPlan(
    connection: DuckDBConnection,
    plan: QueryPlan,
    signal: AbortSignal,
    { onBatch, onProgress, batchRows }: Pick<RunQueryOptions, 'onBatch' | 'onProgress'> & { batchRows: number },
  ): Promise<{ rows: number; batches: number; bytes: number; timings: Timings; total: number | undefined }> {
    let planMs = 0;
    let executeMs = 0;
    let encodeMs = 0;
    let rows = 0;
    let batches = 0;
    let bytes = 0;
    let total = plan.total;
    for (const statement of plan.statements) {
      if (signal.aborted) throw new CancelledError(reasonOf(signal));
      // Planning is DuckDB's prepare (parse, bind, optimize); starting the stream is execution.
      const t0 = performance.now();
      const prepared = await this.prepare(connection, statement.sql);
      prepared.bind(statement.params);
      const t1 = performance.now();
      planMs += t1 - t0;
      const result = await prepared.stream();
      executeMs += performance.now() - t1;
      const names = result.columnNames();
      // One chunk ahead: DuckDB fills the next chunk on its thread while this one is encoded and
      // sent (export of 5M bar rows: the session's side 1.7 -> 1.3-1.4 s). Never more than one,
      // so a stalled reader stops the pulling (sendBatch's backpressure) one chunk later.
      const fetchAhead = () => {
        const fetching = result.fetchChunk();
        // Handled here so that a fetch failing while the runner awaits the socket is not an
        // unhandled rejection (which ends the process); its error is thrown where it is awaited.
        fetching.catch(() => undefined);
        return fetching;
      };
      let ahead: Promise<DuckDBDataChunk | null> | null = fetchAhead();
      /** The next chunk of the result (null at its end), the one after it asked for at once. */
      const nextChunk = async () => {
        const t = performance.now();
        const chunk = await ahead!;
        executeMs += performance.now() - t;
        this.chunksPulled++;
        const more = chunk !== null && chunk.rowCount > 0;
        ahead = more ? fetchAhead() : null;
        if (signal.aborted) throw new CancelledError(reasonOf(signal));
        return more ? chunk : null;
      };
      try {
        if (statement.compute) {
          // Pulled chunk by chunk like any answer (a materialized run kept the whole result in
          // DuckDB besides the copy here: +13 MiB per busy session in bench:sessions' crowd).
          const collector = new ColumnCollector(names, result.columnTypes());
          for (let chunk = await nextChunk(); chunk; chunk = await nextChunk()) {
            const e = performance.now();
            collector.append(chunk);
            encodeMs += performance.now() - e;
          }
          const e = performance.now();
          const columns = statement.compute(collector.columns());
          const ipc = encodeColumns(columns, statement.part ? new Map([[PART_METADATA_KEY, statement.part]]) : undefined);
          encodeMs += performance.now() - e;
          rows += columns.length === 0 ? 0 : columns[0]!.kind === 'utf8' ? columns[0]!.index.length : columns[0]!.values.length;
          bytes += ipc.byteLength;
          await onBatch(ipc, batches++);
          onProgress?.({ rows, batches, bytes });
          continue;
        }
        const omit = new Set(statement.totalColumn ? [statement.totalColumn] : []);
        const totalIndex = statement.totalColumn ? names.indexOf(statement.totalColumn) : -1;
        const encoder = new ArrowBatchEncoder(names, result.columnTypes(), {
          ...(statement.part ? { metadata: new Map([[PART_METADATA_KEY, statement.part]]) } : {}),
          omit,
        });
        let emitted = 0;
        const emit = async () => {
          const t = performance.now();
          const ipc = encoder.flush();
          encodeMs += performance.now() - t;
          bytes += ipc.byteLength;
          emitted++;
          await onBatch(ipc, batches++);
          onProgress?.({ rows, batches, bytes });
        };
        for (let chunk = await nextChunk(); chunk; chunk = await nextChunk()) {
          if (totalIndex >= 0 && total === undefined) total = Number(chunk.getColumnVector(totalIndex).getItem(0));
          const e = performance.now();
          encoder.append(chunk);
          encodeMs += performance.now() - e;
          rows += chunk.rowCount;
          if (encoder.rows >= batchRows) await emit();
        }
        // Always at least one frame per statement, so an empty answer still tells its schema.
        if (encoder.rows > 0 || emitted === 0) await emit();
      } finally {
        // A fetch still running when the answer stops (cancelled, the socket closed) ends before
        // the connection goes back to the pool; its outcome is nobody's any more.
        if (ahead) await ahead.catch(() => undefined);
      }
    }
    return { rows, batches, bytes, timings: { planMs, executeMs, encodeMs }, total };
  }

  /**
   * The connection's prepared statement for `sql`, prepared once. Parameters are bound per run;
   * DuckDB re-plans a statement itself when new parameter values need it.
   */
  private async prepare(connection: DuckDBConnection, sql: string): Promise<DuckDBPreparedStatement> {
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
   * Runs a look-up once for the requests in flight that ask it at once: a zoom asks summary, risk
   * and benchmark together, and all three read the range's daily rows (run-kpis.ts,
   * dailyRowsWithBenchmark). A request asking while an identical look-up runs waits for that one's
   * result (shared as it is: look-up results are read, never changed). Should the request running
   * it be cancelled, the look-up fails with it: a waiter not cancelled itself runs its own.
   */
  private async sharedLookup<T>(key: string, signal: AbortSignal, run: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) {
      try {
        const result = (await running.result) as T;
        this.sharedLookups++;
        if (signal.aborted) throw new CancelledError(reasonOf(signal));
        return result;
      } catch (error) {
        if (signal.aborted || !running.signal.aborted) throw error;
      }
    }
    const result = run();
    const entry = { result, signal };
    this.inFlight.set(key, entry);
    try {
      return await result;
    } finally {
      if (this.inFlight.get(key) === entry) this.inFlight.delete(key);
    }
  }

  private keepLookup(key: string, rows: unknown[][], bytes: number): void {
    if (this.lookups.has(key)) return; // two requests asked at once
    this.lookups.set(key, { rows, bytes });
    this.lookupBytes += bytes;
    for (const [oldest, kept] of this.lookups) {
      if (this.lookupBytes <= LOOKUP_CACHE_BYTES) break;
      this.lookups.delete(oldest);
      this.lookupBytes -= kept.bytes;
    }
  }

  /**
   * Runs `task` with no other request of the session on a connection: it waits for those in
   * flight to end (their look-ups included) while newer ones queue behind it; `task`'s own
   * connections, look-ups included, are the only ones handed out until it ends. One at a time.
   */
  private async alone<T>(signal: AbortSignal, task: () => Promise<T>): Promise<T> {
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
      if (signal.aborted) throw new CancelledError(reasonOf(signal));
      return await this.aloneWork.run(true, task);
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
      this.aloneNow = null;
      finished();
      this.wakeWaiters();
    }
  }

  /** Connections held by requests (or being opened for them). */
  private inUse(): number {
    return this.open - this.idle.length;
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
   * Runs on `instance` from now on (the store opened again, idle-memory.ts): the old instance's
   * connections are closed here, the new one's opened as requests come. Only while no request
   * holds a connection. The kept look-ups stay: they are as right on the new instance, and
   * dropping them (3.5 MiB of RSS on `large`) cost a whole-range risk after the reopen its
   * look-ups again, 110-130 ms on warm data (it took 535 ms in a bench:queries run).
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

  private async acquire(signal: AbortSignal): Promise<DuckDBConnection> {
    if (this.closed) throw new Error('query runner is closed');
    const free = this.keptFrom() ? null : this.takeFree();
    if (free) return free;
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject, signal, alone: this.aloneWork.getStore() === true };
      this.waiters.push(waiter);
      // A request cancelled while it waits for a connection leaves the queue at once.
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
  private async acquireIfFree(): Promise<DuckDBConnection | null> {
    if (this.closed || this.keptFrom()) return null;
    // Others waiting do not hold back the request that runs alone: they wait for it anyway.
    if (this.waiters.length > 0 && this.aloneNow === null) return null;
    return this.takeFree();
  }

  /**
   * An idle connection, or a new one while fewer than the limit are open; null when neither. Not
   * async on the way to null: acquire() queues its waiter in the same tick, before a release
   * could put a connection back idle with nobody told.
   */
  private takeFree(): DuckDBConnection | Promise<DuckDBConnection> | null {
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.open >= this.maxConnections) return null;
    this.open++;
    return this.instance.connect().catch((error: unknown) => {
      this.open--;
      throw new Error(`query runner: cannot open a DuckDB connection: ${errorMessage(error)}`, { cause: error });
    });
  }

  private release(connection: DuckDBConnection): void {
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
    while (this.lendWaiters.length > 0) if (this.lendWaiters.shift()!(connection)) return;
    this.idle.push(connection);
  }
}

/** A look-up answer's memory, roughly: V8's two bytes a character for text, a slot for anything else. */
export function lookupBytes(rows: readonly unknown[][]): number {
  let bytes = 0;
  for (const row of rows) {
    bytes += 32;
    for (const value of row) bytes += typeof value === 'string' ? 24 + 2 * value.length : 16;
  }
  return bytes;
}

/** The cache key of a look-up: its SQL and its parameters (bigints and DuckDB values included). */
export function lookupKey(sql: string, params: Record<string, unknown>): string {
  return `${sql}\u0000${JSON.stringify(params, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`;
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

function reasonOf(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? signal.reason : 'request was cancelled';
}
