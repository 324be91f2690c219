// Admission by memory: every session may use its DuckDB memory_limit plus what a Node process
// with DuckDB loaded needs besides (measured ~120 MB idle here); all sessions at once must fit
// the budget, or the server refuses to start rather than let the OOM killer choose a victim.
import { totalmem } from 'node:os';

/** Resident memory of a session process beyond its DuckDB buffer pool. */
export const SESSION_BASE_BYTES = 150 * 2 ** 20;

const UNITS: Record<string, number> = {
  B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40,
};

/** Parses a DuckDB-style size ('256MB', '1.5GiB', '512 MB') into bytes. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B)\s*$/i.exec(text);
  const unit = match ? UNITS[match[2]!.toUpperCase()] : undefined;
  if (!match || unit === undefined) throw new Error(`"${text}" is not a size such as 256MB or 2GiB`);
  return Number(match[1]) * unit;
}

export function defaultMemoryBudget(): number {
  return Math.floor(totalmem() * 0.75);
}

/** Throws a message a person can act on when `maxSessions` sessions could not all fit. */
export function checkMemoryBudget(maxSessions: number, sessionMemory: string, budgetBytes: number): void {
  const perSession = parseSize(sessionMemory) + SESSION_BASE_BYTES;
  const needed = maxSessions * perSession;
  if (needed > budgetBytes) {
    const gb = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
    throw new Error(
      `${maxSessions} sessions x (${sessionMemory} DuckDB memory + ${gb(SESSION_BASE_BYTES)} per process) = ${gb(needed)}, ` +
        `more than the memory budget of ${gb(budgetBytes)}; lower --max-sessions or --session-memory, or raise --memory-budget`,
    );
  }
}
