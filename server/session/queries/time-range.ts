import type { DuckDBValue } from '@duckdb/node-api';
import { BadParamsError } from './errors.js';

/**
 * SQL condition on a TIMESTAMP column for an optional [from, to] range in epoch ms, inclusive,
 * with the bounds bound as parameters (`$from_us`, `$to_us`).
 */
export function timeRangeCondition(
  column: string,
  from: number | undefined,
  to: number | undefined,
): { sql: string; params: Record<string, DuckDBValue> } {
  if (from !== undefined && to !== undefined && from > to) {
    throw new BadParamsError(`time range is reversed: from ${from} is after to ${to}`);
  }
  const parts: string[] = [];
  const params: Record<string, DuckDBValue> = {};
  if (from !== undefined) {
    parts.push(`${column} >= make_timestamp($from_us::BIGINT)`);
    params.from_us = BigInt(Math.round(from * 1000));
  }
  if (to !== undefined) {
    parts.push(`${column} <= make_timestamp($to_us::BIGINT)`);
    params.to_us = BigInt(Math.round(to * 1000));
  }
  return { sql: parts.length ? parts.join(' AND ') : 'TRUE', params };
}
