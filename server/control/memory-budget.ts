// Admission by memory: every session may use its DuckDB memory_limit plus what a Node process
// with DuckDB loaded needs besides; all sessions at once must fit the budget, or the server refuses
// to start rather than let the OOM killer choose a victim.
import { availableMemoryBytes, parseSize } from '../os/memory.js';

/**
 * Resident memory of a busy session process beyond its DuckDB buffer pool, measured on the large
 * store after bench:queries' drill-down: ~135 MiB for the process with DuckDB loaded and the store
 * open (73 MiB of it node's and libduckdb's file pages), ~20 MiB of JS heap growth, and ~50-80 MiB
 * that DuckDB's allocator keeps after freeing it (given back when the session goes idle:
 * server/session/idle-memory.ts). It was 150 MiB, from an idle process: 20 busy sessions then
 * overran the budget they had been admitted under. Since the allocator keeps what a session
 * freed until it goes idle (SESSION_ENV, server/session/contract.ts), bench:sessions' crowd (20
 * sessions of 67 MiB at work) peaked at 291 MiB a session, its limit plus 224 MiB (248 MiB with
 * DuckDB's own 1 s decay, in the same hour).
 */
export const SESSION_BASE_BYTES = 240 * 2 ** 20;

/** `tickscope serve --max-sessions` unless told otherwise, on a machine whose budget holds them. */
export const DEFAULT_MAX_SESSIONS = 20;

/** The least DuckDB memory_limit a session is given by default. */
export const MIN_SESSION_MEMORY_BYTES = 64 * 2 ** 20;

/**
 * 75% of the memory this process may use: the machine's, or its cgroup's limit when that is
 * lower (a container). With the machine's alone, a server in a 4 GiB container on a 64 GiB host
 * admitted sessions for a 48 GiB budget, and the OOM killer chose among them.
 */
export function defaultMemoryBudget(): number {
  return Math.floor(availableMemoryBytes() * 0.75);
}

/**
 * `--max-sessions` unless told: DEFAULT_MAX_SESSIONS, or fewer when the budget cannot hold that
 * many sessions at the least memory each (a small container: 3 GiB holds 10), at least one. A
 * default that the server's own budget check then refuses would make `tickscope serve` fail to
 * start in a small container with no flag given; an explicit --max-sessions is still checked.
 */
export function defaultMaxSessions(budgetBytes: number): number {
  const fits = Math.floor(budgetBytes / (SESSION_BASE_BYTES + MIN_SESSION_MEMORY_BYTES));
  return Math.max(1, Math.min(DEFAULT_MAX_SESSIONS, fits));
}

/**
 * The DuckDB memory_limit a session gets unless told: the budget shared by `maxSessions`, less
 * each process's base, between 64 MiB and 1 GiB, so that `maxSessions` busy sessions fit the
 * budget by construction. DuckDB reads the store into each process's own buffer pool (pread, not
 * a shared mapping), so a busy session's RSS grows towards its limit plus the base. On the large
 * store a drill-down's working set (trade_list alone is ~190 MB) overflows 256 MB and re-reads
 * evicted blocks: bench:queries' p95 went from 47-49 ms at 256 MB to 33-34 ms at 753 MiB-1 GB;
 * beyond 1 GiB nothing measured got faster. An idle session gives its buffers back
 * (server/session/idle-memory.ts), so a generous limit costs memory only while a tab is busy.
 */
export function defaultSessionMemory(maxSessions: number, budgetBytes: number): string {
  const share = budgetBytes / Math.max(1, maxSessions) - SESSION_BASE_BYTES;
  const mib = Math.floor(Math.min(2 ** 30, Math.max(MIN_SESSION_MEMORY_BYTES, share)) / 2 ** 20);
  return `${mib}MiB`;
}

/** Throws a message a person can act on when `maxSessions` sessions could not all fit. */
export function checkMemoryBudget(maxSessions: number, sessionMemory: string, budgetBytes: number): void {
  const perSession = parseSize(sessionMemory, '--session-memory') + SESSION_BASE_BYTES;
  const needed = maxSessions * perSession;
  if (needed > budgetBytes) {
    const gb = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
    throw new Error(
      `${maxSessions} sessions x (${sessionMemory} DuckDB memory + ${gb(SESSION_BASE_BYTES)} per process) = ${gb(needed)}, ` +
        `more than the memory budget of ${gb(budgetBytes)}; lower --max-sessions or --session-memory, or raise --memory-budget`,
    );
  }
}
