import type { DuckDBValue } from '@duckdb/node-api';

/** A query ready to run: SQL whose every client value is a bound parameter. */
export interface QueryPlan {
  sql: string;
  params: Record<string, DuckDBValue>;
}
