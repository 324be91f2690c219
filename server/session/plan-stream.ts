// A planned answer streamed as Arrow IPC batches: what the query runner does on a request's
// connection once the planner has made its plan (queries/plan.ts).
import type { DuckDBConnection, DuckDBDataChunk, DuckDBPreparedStatement } from '@duckdb/node-api';
import { PART_METADATA_KEY } from '../../shared/frame.js';
import type { Timings } from '../../shared/messages.js';
import { ArrowBatchEncoder } from './arrow-encoder.js';
import { throwIfCancelled } from './cancelled.js';
import { ColumnCollector, encodeColumns } from './compute.js';
import type { QueryPlan } from './queries/plan.js';

/** Where the batches go. */
export interface StreamTarget {
  /** Called for each encoded batch; awaiting it is the backpressure. */
  onBatch: (ipc: Uint8Array, batchIndex: number) => Promise<void>;
  /** Called after each batch with the running counts. */
  onProgress?: (progress: { rows: number; batches: number; bytes: number }) => void;
  /** Rows per Arrow batch; a large answer becomes several frames. */
  batchRows: number;
}

/** What the stream needs of the runner. */
export interface StreamSupport {
  /** The connection's prepared statement for a SQL text (ConnectionPool.prepare). */
  prepare: (connection: DuckDBConnection, sql: string) => Promise<DuckDBPreparedStatement>;
  /** Told of every DuckDB chunk pulled (the runner's count: a slow client must stop it growing). */
  onChunk: () => void;
}

export interface StreamedPlan {
  rows: number;
  batches: number;
  bytes: number;
  timings: Timings;
  total: number | undefined;
}

/**
 * Streams a plan's statements as Arrow IPC batches (`onBatch`), in order, on `connection`: each
 * statement prepared there (`prepare`, the pool's statement cache), its chunks pulled one ahead
 * and encoded, or collected for the statement's `compute`.
 */
export async function streamPlan(
  connection: DuckDBConnection,
  plan: QueryPlan,
  signal: AbortSignal,
  { onBatch, onProgress, batchRows }: StreamTarget,
  { prepare, onChunk }: StreamSupport,
): Promise<StreamedPlan> {
  let planMs = 0;
  let executeMs = 0;
  let encodeMs = 0;
  let rows = 0;
  let batches = 0;
  let bytes = 0;
  let total = plan.total;
  for (const statement of plan.statements) {
    throwIfCancelled(signal);
    // Planning is DuckDB's prepare (parse, bind, optimize); starting the stream is execution.
    const t0 = performance.now();
    const prepared = await prepare(connection, statement.sql);
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
      onChunk();
      const more = chunk !== null && chunk.rowCount > 0;
      ahead = more ? fetchAhead() : null;
      throwIfCancelled(signal);
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

