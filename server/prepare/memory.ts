// The preparation's memory budget: DuckDB's memory_limit, spilling to a temp folder beyond it.
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

/** Default share of the machine's memory (or of the cgroup limit, when smaller) for one preparation. */
export const DEFAULT_MEMORY_FRACTION = 0.25;
const MIN_BYTES = 512 * 2 ** 20;

/** Physical memory available to this process: the machine's, or the cgroup's limit when lower. */
export function availableMemoryBytes(): number {
  let total = totalmem();
  for (const f of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const v = readFileSync(f, 'utf8').trim();
      const n = Number(v);
      if (v !== 'max' && Number.isFinite(n) && n > 0 && n < total) total = n;
    } catch {
      // not in a cgroup (or not v1/v2 layout)
    }
  }
  return total;
}

/** Parses '6GB', '512MB', '1.5GiB', '2048' (bytes) into bytes; null if unreadable. */
export function parseSize(s: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)?\s*$/i.exec(s);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toUpperCase().replace('IB', 'B');
  const mult: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, KB: 2 ** 10, M: 2 ** 20, MB: 2 ** 20, G: 2 ** 30, GB: 2 ** 30, T: 2 ** 40, TB: 2 ** 40 };
  const f = mult[unit];
  return f === undefined ? null : Math.round(n * f);
}

export function formatSize(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)}GB` : `${Math.round(bytes / 2 ** 20)}MB`;
}

/**
 * The memory limit used when none is given: TICKSCOPE_PREPARE_MEMORY if set, else a quarter of
 * the machine (at least 512MB), as a DuckDB size string in MB.
 */
export function defaultMemoryLimit(): string {
  const env = process.env['TICKSCOPE_PREPARE_MEMORY'];
  if (env && parseSize(env) !== null) return env;
  const bytes = Math.max(MIN_BYTES, Math.floor(availableMemoryBytes() * DEFAULT_MEMORY_FRACTION));
  return `${Math.floor(bytes / 2 ** 20)}MB`;
}

/** Share of the preparation's memory budget given to DuckDB's memory_limit. DuckDB's limit covers
 * its buffer manager only; the process also holds Node's heap, DuckDB allocations outside the
 * buffer pool and allocator slack (measured on the large fixture: peak RSS about 6% over
 * memory_limit during the sort), so DuckDB is given less than the whole budget. */
export const DUCKDB_SHARE = 0.8;
const NODE_OVERHEAD_BYTES = 200 * 2 ** 20;

/** DuckDB's memory_limit for a preparation whose whole process must stay within `limit`. */
export function duckdbMemoryLimit(limit: string): string {
  const bytes = parseSize(limit);
  if (bytes === null) return limit; // let DuckDB say what is wrong with it
  const duck = Math.max(128 * 2 ** 20, Math.floor(bytes * DUCKDB_SHARE - NODE_OVERHEAD_BYTES));
  return `${Math.floor(duck / 2 ** 20)}MB`;
}
