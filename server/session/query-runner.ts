// Runs one query at a time per DuckDB connection and streams its result as Arrow IPC batches.
// Each in-flight request holds its own connection so that a cancel can interrupt exactly its
// query (DuckDB's interrupt is per connection) while the others go on.
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import type { Timings } from '../../shared/protocol.js';
import { ArrowBatchEncoder } from './arrow-encoder.js';

export interface QueryOutcome {
  rows: number;
  batches: number;
  bytes: number;
  timings: Timings;
}

export interface RunQueryOptions {
  sql: string;
  params: Record<string, DuckDBValue>;
  signal: AbortSignal;
  /** Called for each encoded batch; awaiting it is the backpressure. */
  onBatch: (ipc: Uint8Array, batchIndex: number) => Promise<void>;
  /** Rows per Arrow batch; a large answer becomes several frames. */
  batchRows?: number;
}

export class CancelledError extends Error {
  constructor() {
    super('request was cancelled');
    this.name = 'CancelledError';
  }
}

const DEFAULT_BATCH_ROWS = 64 * 1024;

export class QueryRunner {
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiters: ((connection: DuckDBConnection) => void)[] = [];
  private open = 0;
  private closed = false;

  constructor(
    private readonly instance: DuckDBInstance,
    private readonly maxConnections: number,
  ) {}

  async run({ sql, params, signal, onBatch, batchRows = DEFAULT_BATCH_ROWS }: RunQueryOptions): Promise<QueryOutcome> {
    const connection = await this.acquire();
    const interrupt = () => connection.interrupt();
    signal.addEventListener('abort', interrupt, { once: true });
    try {
      if (signal.aborted) throw new CancelledError();
      const started = performance.now();
      const result = await connection.stream(sql, params);
      const planMs = performance.now() - started;
      const encoder = new ArrowBatchEncoder(result.columnNames(), result.columnTypes());
      let executeMs = 0;
      let encodeMs = 0;
      let rows = 0;
      let batches = 0;
      let bytes = 0;
      const emit = async () => {
        const t = performance.now();
        const ipc = encoder.flush();
        encodeMs += performance.now() - t;
        bytes += ipc.byteLength;
        await onBatch(ipc, batches++);
      };
      for (;;) {
        const t = performance.now();
        const chunk = await result.fetchChunk();
        executeMs += performance.now() - t;
        if (signal.aborted) throw new CancelledError();
        if (!chunk || chunk.rowCount === 0) break;
        const e = performance.now();
        encoder.append(chunk);
        encodeMs += performance.now() - e;
        rows += chunk.rowCount;
        if (encoder.rows >= batchRows) await emit();
      }
      // Always at least one frame, so an empty answer still tells the client its schema.
      if (encoder.rows > 0 || batches === 0) await emit();
      return { rows, batches, bytes, timings: { planMs, executeMs, encodeMs } };
    } catch (error) {
      if (signal.aborted) throw new CancelledError();
      throw error;
    } finally {
      signal.removeEventListener('abort', interrupt);
      this.release(connection);
    }
  }

  close(): void {
    this.closed = true;
    for (const connection of this.idle.splice(0)) connection.closeSync();
  }

  private async acquire(): Promise<DuckDBConnection> {
    if (this.closed) throw new Error('query runner is closed');
    const idle = this.idle.pop();
    if (idle) return idle;
    if (this.open < this.maxConnections) {
      this.open++;
      try {
        return await this.instance.connect();
      } catch (error) {
        this.open--;
        throw error;
      }
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(connection: DuckDBConnection): void {
    const waiter = this.waiters.shift();
    if (waiter) return waiter(connection);
    if (this.closed) {
      connection.closeSync();
      this.open--;
      return;
    }
    this.idle.push(connection);
  }
}
