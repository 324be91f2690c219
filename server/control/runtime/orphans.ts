// Finds session processes left behind by a control server that is no longer running and ends
// them. A session process normally exits by itself when its IPC channel closes; this is the
// net for the rare one that could not (stuck in native code, stopped with SIGSTOP, ...).
//
// Every session process is started with TICKSCOPE_CONTROL=<pid>:<start time> of its control
// server; a session process whose control server is not that same process any more is an orphan.
// Linux only (reads /proc); elsewhere it finds nothing.
import { readdirSync, readFileSync } from 'node:fs';
import { runsSessionEntry } from './session-entry.js';

export const CONTROL_ENV = 'TICKSCOPE_CONTROL';

/** `<pid>:<start time in clock ticks since boot>` of a process, or null if it is gone. */
export function processIdentity(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return null;
    return `${pid}:${fields[19]}`;
  } catch {
    // No /proc entry: the process is gone (or this is not Linux, where nothing is found anyway).
    return null;
  }
}

export interface Orphan {
  pid: number;
  control: string;
}

/** Session processes (by their entry script: session-entry.ts) whose recorded control server is gone. */
export function findOrphans(): Orphan[] {
  let pids: number[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
  } catch {
    // No /proc (not Linux): orphans cannot be found here, as the header says.
    return [];
  }
  const orphans: Orphan[] = [];
  for (const pid of pids) {
    if (pid === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!runsSessionEntry(argv)) continue;
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const control = env.find((entry) => entry.startsWith(`${CONTROL_ENV}=`))?.slice(CONTROL_ENV.length + 1);
      if (!control) continue;
      const controlPid = Number(control.split(':')[0]);
      if (processIdentity(controlPid) !== control && processIdentity(pid) !== null) orphans.push({ pid, control });
    } catch {
      // The process ended while we looked, or is not ours to read.
    }
  }
  return orphans;
}

/** SIGKILLs every orphan; returns those it ended. */
export function endOrphans(): Orphan[] {
  const ended: Orphan[] = [];
  for (const orphan of findOrphans()) {
    try {
      process.kill(orphan.pid, 'SIGKILL');
      ended.push(orphan);
    } catch {
      // Already gone.
    }
  }
  return ended;
}
