// The preparation's memory budget: DuckDB's memory_limit, spilling to a temp folder beyond it.
import { availableMemoryBytes, parseSize } from '../os/memory.js';

/** Default share of the machine's memory (or of the cgroup limit, when smaller) for one preparation. */
export const DEFAULT_MEMORY_FRACTION = 0.25;
const MIN_BYTES = 512 * 2 ** 20;

/**
 * The memory limit used when none is given: TICKSCOPE_PREPARE_MEMORY if set (an unreadable one is
 * an error, not ignored), else a quarter of the machine (at least 512 MiB), in MiB.
 */
export function defaultMemoryLimit(): string {
  const env = process.env['TICKSCOPE_PREPARE_MEMORY'];
  if (env) {
    parseSize(env, 'TICKSCOPE_PREPARE_MEMORY');
    return env;
  }
  const bytes = Math.max(MIN_BYTES, Math.floor(availableMemoryBytes() * DEFAULT_MEMORY_FRACTION));
  return `${Math.floor(bytes / 2 ** 20)}MiB`;
}

/** Share of the preparation's memory budget given to DuckDB's memory_limit. DuckDB's limit covers
 * its buffer manager only; the process also holds Node's heap, DuckDB allocations outside the
 * buffer pool and allocator slack (measured on the large fixture: peak RSS about 6% over
 * memory_limit during the sort), so DuckDB is given less than the whole budget. */
export const DUCKDB_SHARE = 0.8;
const NODE_OVERHEAD_BYTES = 200 * 2 ** 20;

/** DuckDB's memory_limit for a preparation whose whole process must stay within `limit`. */
export function duckdbMemoryLimit(limit: string): string {
  const bytes = parseSize(limit, 'the preparation memory limit');
  const duck = Math.max(128 * 2 ** 20, Math.floor(bytes * DUCKDB_SHARE - NODE_OVERHEAD_BYTES));
  return `${Math.floor(duck / 2 ** 20)}MiB`;
}
