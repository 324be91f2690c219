// Sizes of memory as DuckDB reads them, and how much memory this process may use. Every memory
// option (the preparation's limit, the sessions' budget and memory_limit) goes through parseSize:
// the strings are handed to DuckDB too, so they mean what they mean to DuckDB.
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

/** DuckDB's units: KB, MB, ... are powers of 1000, KiB, MiB, ... powers of 1024; no unit is bytes. */
const UNITS: Record<string, number> = {
  '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40,
};

/**
 * Bytes of a size such as '256MB', '1.5GiB', '512 MB' or '2048'. Throws on anything else, naming
 * `what` (the option or variable the text came from) and the text.
 */
export function parseSize(text: string, what = 'size'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B)?\s*$/i.exec(text);
  const unit = match ? UNITS[(match[2] ?? '').toUpperCase()] : undefined;
  if (!match || unit === undefined) throw new Error(`${what}: "${text}" is not a size such as 256MB or 2GiB`);
  return Math.round(Number(match[1]) * unit);
}

/** A size for people (and for DuckDB: MiB and GiB are its units too). */
export function formatSize(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)}GiB` : `${Math.round(bytes / 2 ** 20)}MiB`;
}

/** Physical memory available to this process: the machine's, or its cgroup's limit when lower. */
export function availableMemoryBytes(): number {
  let total = totalmem();
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      continue; // not this cgroup layout, or not in a cgroup
    }
    const limit = Number(text);
    if (text !== 'max' && Number.isFinite(limit) && limit > 0 && limit < total) total = limit;
  }
  return total;
}
