// Progress of a preparation: phases weighted by their expected share of the time, the fraction
// done within the current one (DuckDB's own query progress for long statements), and an estimate
// of the time left.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { HeldLock } from './lock.js';

export interface PrepareProgress {
  /** What is being done, e.g. 'sorting bars'; 'waiting for pid N: <their phase>' when another
   * preparation of the same dataset is running. */
  phase: string;
  /** 0..1 over the whole preparation. */
  fraction: number;
  /** Rows of the current phase done so far, and its total (null when not counted). */
  rows: number | null;
  totalRows: number | null;
  /** Estimated seconds left for the whole preparation (null until there is a basis). */
  etaSeconds: number | null;
  /** The file or folder being read, when there is one. */
  source?: string;
}

/** The progress of one preparation, reported to `emit` at every change. */
export class Progress {
  private readonly started = Date.now();
  private done = 0;
  private total = 1;
  private current = { phase: 'checking inputs', weight: 0, rows: null as number | null, totalRows: null as number | null, source: undefined as string | undefined };
  private within = 0;

  constructor(private readonly emit: (p: PrepareProgress) => void) {}

  setTotal(total: number): void {
    this.total = Math.max(total, 1e-9);
  }

  begin(phase: string, weight: number, totalRows: number | null, source?: string): void {
    this.done += this.current.weight;
    this.current = { phase, weight, rows: totalRows === null ? null : 0, totalRows, source };
    this.within = 0;
    this.report();
  }

  /** Fraction of the current phase done (0..1). */
  update(within: number, rows?: number): void {
    this.within = Math.min(1, Math.max(this.within, within));
    if (rows !== undefined) this.current.rows = this.current.totalRows !== null ? Math.min(rows, this.current.totalRows) : rows;
    else if (this.current.totalRows !== null) this.current.rows = Math.round(this.within * this.current.totalRows);
    this.report();
  }

  fraction(): number {
    return Math.min(0.999, (this.done + this.current.weight * this.within) / this.total);
  }

  report(): void {
    const f = this.fraction();
    const elapsed = (Date.now() - this.started) / 1000;
    const eta = f > 0.02 && elapsed > 2 ? Math.round((elapsed * (1 - f)) / f) : null;
    this.emit({
      phase: this.current.phase,
      fraction: f,
      rows: this.current.rows,
      totalRows: this.current.totalRows,
      etaSeconds: eta,
      ...(this.current.source ? { source: this.current.source } : {}),
    });
  }
}

/** Runs one statement while polling DuckDB's query progress into the current phase. */
export async function runTracked(con: DuckDBConnection, sql: string, progress: Progress, share = 0.9): Promise<void> {
  const timer = setInterval(() => {
    try {
      const p = con.progress;
      // rows_processed counts the rows the statement's scans have read so far.
      if (p.percentage >= 0) progress.update((share * p.percentage) / 100, p.rows_processed > 0n ? Number(p.rows_processed) : undefined);
    } catch {
      // Progress is best effort: a failed poll leaves the bar where it was, and the statement
      // reports its own failure.
    }
  }, 500);
  try {
    await con.run(sql);
  } finally {
    clearInterval(timer);
  }
}

/**
 * A build's Progress: told to `emit`, and written to the lock's progress file at most twice a
 * second, for the processes waiting on the lock (a write that fails only leaves their view a step
 * behind).
 */
export function progressSharedThrough(lock: Pick<HeldLock, 'writeProgress'>, emit: (p: PrepareProgress) => void): Progress {
  let lastWrite = 0;
  return new Progress((p) => {
    emit(p);
    const now = Date.now();
    if (now - lastWrite > 500) {
      lastWrite = now;
      void lock.writeProgress(p).catch(() => {});
    }
  });
}
