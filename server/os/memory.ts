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

/**
 * Physical memory available to this process: the machine's, or the lowest memory limit of its
 * cgroup and the cgroup's ancestors when lower (a container, a systemd slice, a Slurm job).
 */
export function availableMemoryBytes(): number {
  const limit = cgroupMemoryLimit(readOrNull('/proc/self/cgroup') ?? '', readOrNull);
  return Math.min(totalmem(), limit ?? Number.POSITIVE_INFINITY);
}

/**
 * The lowest memory limit on the path of the cgroups listed in `procSelfCgroup` (the text of
 * /proc/self/cgroup), read through `read` from /sys/fs/cgroup: cgroup v2's memory.max ("max" is
 * none) and v1's memory.limit_in_bytes (a huge number is none) of the process's own cgroup and
 * each ancestor. In a container's cgroup namespace the path is "/", the container's own root,
 * whose limit is the container's. Null when no limit is set or none can be read.
 */
export function cgroupMemoryLimit(procSelfCgroup: string, read: (file: string) => string | null): number | null {
  let lowest: number | null = null;
  for (const line of procSelfCgroup.split('\n')) {
    const [, controllers, cgroupPath] = /^\d+:([^:]*):(.*)$/.exec(line.trim()) ?? [];
    if (cgroupPath === undefined) continue;
    const file =
      controllers === '' ? (dir: string) => `/sys/fs/cgroup${dir}/memory.max`
      : controllers!.split(',').includes('memory') ? (dir: string) => `/sys/fs/cgroup/memory${dir}/memory.limit_in_bytes`
      : null;
    if (!file) continue;
    const parts = cgroupPath.split('/').filter(Boolean);
    for (let depth = parts.length; depth >= 0; depth--) {
      const text = read(file(depth === 0 ? '' : `/${parts.slice(0, depth).join('/')}`))?.trim();
      const bytes = Number(text);
      // v1 writes "no limit" as the largest page-aligned 63-bit number.
      if (text && text !== 'max' && Number.isSafeInteger(bytes) && bytes > 0) lowest = Math.min(lowest ?? bytes, bytes);
    }
  }
  return lowest;
}

/** A small file's text, or null when it cannot be read (not this cgroup layout, not Linux). */
function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
