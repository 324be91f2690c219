// What Linux's /proc says of a process, for the benchmarks' memory figures.
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

/** VmRSS and VmHWM (the kernel's peak RSS) of a process in bytes, or null once it has exited. */
export function processMemory(pid: number): { rss: number; hwm: number } | null {
  const status = procText(pid, 'status');
  if (status === null) return null;
  const kB = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kB('VmRSS'), hwm: kB('VmHWM') };
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
