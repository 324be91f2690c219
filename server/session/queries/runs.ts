import type { DuckDBValue } from '@duckdb/node-api';
import { BadParamsError } from './errors.js';

/**
 * SQL condition selecting runs. Run ids are checked against the store's own list and bound as
 * parameters, so a client value never becomes SQL text.
 */
export function runCondition(
  column: string,
  requested: readonly string[] | undefined,
  known: ReadonlySet<string>,
): { sql: string; params: Record<string, DuckDBValue> } {
  if (!requested || requested.length === 0) return { sql: 'TRUE', params: {} };
  const params: Record<string, DuckDBValue> = {};
  const placeholders = [...new Set(requested)].map((runId, i) => {
    if (!known.has(runId)) throw new BadParamsError(`unknown run "${runId}"; this dataset has ${[...known].join(', ')}`);
    params[`run_${i}`] = runId;
    return `$run_${i}`;
  });
  return { sql: `${column} IN (${placeholders.join(', ')})`, params };
}
