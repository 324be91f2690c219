// What Linux says of a process (/proc) and of a file's pages in memory, for the benchmarks' figures.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { errorMessage } from '../../shared/errors.js';

/** Text of /proc/<pid>/<file>, or null if the process has exited. */
export function procText(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw new Error(`reading /proc/${pid}/${file}: ${errorMessage(error)}`, { cause: error });
  }
}

/** The value of a "<field>:   <n> kB" line of a /proc file, in bytes; null if it has no such line. */
function kBytes(text: string, field: string): number | null {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : null;
}

/** VmRSS and VmHWM (the kernel's peak RSS) of a process in bytes, or null once it has exited. */
export function processMemory(pid: number): { rss: number; hwm: number } | null {
  const status = procText(pid, 'status');
  if (status === null) return null;
  return { rss: kBytes(status, 'VmRSS') ?? 0, hwm: kBytes(status, 'VmHWM') ?? 0 };
}

/**
 * What a process's resident set is made of (/proc/<pid>/smaps_rollup), in bytes, or null once it
 * has exited. `fileBacked` is mapped files' pages (the node binary's and libduckdb's code, mostly):
 * the same page-cache pages in every process that maps them, counted in full in each one's RSS.
 * `pss` shares each page among the processes that map it: what one more process costs the machine.
 */
export function residentSet(pid: number): { rss: number; pss: number; anonymous: number; fileBacked: number } | null {
  const rollup = procText(pid, 'smaps_rollup');
  if (rollup === null) return null;
  const kB = (field: string) => {
    const bytes = kBytes(rollup, field);
    if (bytes === null) throw new Error(`/proc/${pid}/smaps_rollup has no ${field} line`);
    return bytes;
  };
  const rss = kB('Rss');
  const anonymous = kB('Anonymous');
  return { rss, pss: kB('Pss'), anonymous, fileBacked: rss - anonymous };
}

/** VmRSS of a process in bytes, 0 once it has exited (it may exit between a listing and the read). */
export function processRss(pid: number): number {
  return processMemory(pid)?.rss ?? 0;
}

/** Busy and total jiffies of every core (/proc/stat's cpu line): busy = all but idle and iowait. */
export function cpuTimes(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[3]! - (fields[4] ?? 0), total };
}

/**
 * How much of a file the kernel holds in its page cache (util-linux `fincore`), or null where
 * fincore is missing. The store's first reads by a session come from there or from disk, which is
 * most of what a new session's latency is on a machine whose page cache is reclaimed (DAMON here),
 * so the benchmarks print it beside their figures.
 */
export function pageCacheResidency(file: string): { cached: number; size: number } | null {
  const run = spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES,SIZE', file], { encoding: 'utf8' });
  if (run.error || run.status !== 0) return null;
  const [cached, size] = run.stdout.trim().split(/\s+/).map(Number);
  return Number.isFinite(cached) && Number.isFinite(size) ? { cached: cached!, size: size! } : null;
}

/** "7.2 of 9.5 GiB in the page cache", or why it is unknown. */
export function pageCacheText(file: string): string {
  const residency = pageCacheResidency(file);
  if (!residency) return 'page cache residency unknown (no fincore)';
  const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);
  return `${gib(residency.cached)} of ${gib(residency.size)} GiB in the page cache`;
}
