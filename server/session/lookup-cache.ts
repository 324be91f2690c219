// The session's look-ups (the small reads a planner makes before its statements: trade statistics,
// a ranking, matched trade ids), kept and shared. The store is read-only for the session's life,
// so the same SQL and parameters give the same rows: going back to a view, or a sort of the same
// range, skips its look-ups (whole-range risk's concentration is 300 ms on `large`). And a
// look-up asked while an identical one runs waits for that one (share).
import { CancelledError, reasonOf } from './cancelled.js';

/**
 * What the kept look-ups may hold in all, by an estimate of their size (lookupBytes), so that an
 * idle session stays within its memory budget: a bound in rows did not hold once a look-up
 * answered in one row of long texts (rundiff's, ~1 MB of ids and P&L on two sweep runs).
 */
const LOOKUP_CACHE_BYTES = 4 * 1024 * 1024;
/** A look-up answer larger than this is never kept. */
export const LOOKUP_CACHE_MAX_BYTES = 1024 * 1024;

export interface LookupStats {
  /** Look-ups answered from the kept ones. */
  lookupHits: number;
  /** Look-ups answered by an identical one another request was running (share). */
  sharedLookups: number;
}

export class LookupCache {
  /** Look-up answers by lookupKey, least recently used first. */
  private readonly kept = new Map<string, { rows: unknown[][]; bytes: number }>();
  private keptBytes = 0;
  /** Look-ups running now, by key: an identical one asked meanwhile waits for it. */
  private readonly running = new Map<string, { result: Promise<unknown>; signal: AbortSignal }>();
  private hits = 0;
  private shared = 0;

  get stats(): LookupStats {
    return { lookupHits: this.hits, sharedLookups: this.shared };
  }

  /** The kept answer of `key` (a copy of its row list: callers may sort it), or undefined. */
  get(key: string): unknown[][] | undefined {
    const entry = this.kept.get(key);
    if (!entry) return undefined;
    this.hits++;
    this.kept.delete(key);
    this.kept.set(key, entry);
    return entry.rows.slice();
  }

  /** Keeps `rows` as the answer of `key` unless it is over LOOKUP_CACHE_MAX_BYTES; the least recently used go first. */
  keep(key: string, rows: unknown[][]): void {
    if (this.kept.has(key)) return; // two requests asked at once
    const bytes = lookupBytes(rows);
    if (bytes > LOOKUP_CACHE_MAX_BYTES) return;
    this.kept.set(key, { rows, bytes });
    this.keptBytes += bytes;
    for (const [oldest, entry] of this.kept) {
      if (this.keptBytes <= LOOKUP_CACHE_BYTES) break;
      this.kept.delete(oldest);
      this.keptBytes -= entry.bytes;
    }
  }

  /**
   * Runs a look-up once for the requests in flight that ask it at once: a zoom asks summary, risk
   * and benchmark together, and all three read the range's daily rows (run-kpis.ts,
   * dailyRowsWithBenchmark). A request asking while an identical look-up runs waits for that one's
   * result (shared as it is: look-up results are read, never changed). Should the request running
   * it be cancelled, the look-up fails with it: a waiter not cancelled itself runs its own.
   */
  async share<T>(key: string, signal: AbortSignal, run: () => Promise<T>): Promise<T> {
    const running = this.running.get(key);
    if (running) {
      try {
        const result = (await running.result) as T;
        this.shared++;
        if (signal.aborted) throw new CancelledError(reasonOf(signal));
        return result;
      } catch (error) {
        if (signal.aborted || !running.signal.aborted) throw error;
      }
    }
    const result = run();
    const entry = { result, signal };
    this.running.set(key, entry);
    try {
      return await result;
    } finally {
      if (this.running.get(key) === entry) this.running.delete(key);
    }
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

/** The key of a look-up: its SQL and its parameters (bigints and DuckDB values included). */
export function lookupKey(sql: string, params: Record<string, unknown>): string {
  return `${sql}\u0000${JSON.stringify(params, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`;
}
