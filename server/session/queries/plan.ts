import type { DuckDBValue } from '@duckdb/node-api';
import type { Columns, OutColumn } from '../compute.js';

/**
 * The SQL of a statement whose answer its compute makes without reading (the rows it needs were
 * looked up, or are kept by the session): compute ignores the empty result.
 */
export const NOTHING_TO_READ = 'SELECT 0::INTEGER AS nothing WHERE FALSE';

/** One statement whose result is streamed as Arrow: SQL whose every client value is bound. */
export interface Statement {
  sql: string;
  params: Record<string, DuckDBValue>;
  /** Name of this part of a multi-part answer, written into each batch's Arrow schema metadata. */
  part?: string;
  /** A column carrying the answer's total (e.g. `count(*) OVER ()`): read, not sent. */
  totalColumn?: string;
  /**
   * When set, the result (DOUBLE and INTEGER columns only) is read whole into typed arrays and
   * this computes the columns actually sent (compute.ts); otherwise the result streams as is.
   */
  compute?: (columns: Columns) => OutColumn[];
}

/** A planned request. */
export interface QueryPlan {
  statements: Statement[];
  /** Store tables that answer it, e.g. "portfolio_day+portfolio_bar". */
  source: string;
  notes: string[];
  approximate?: boolean;
  /** Total rows before windowing, when the planner already knows it. */
  total?: number;
  /** How to get the total when the window came back empty (so no row carried it). */
  totalIfEmpty?: (lookup: Lookup) => Promise<number>;
}

/**
 * Runs a small query on the request's own connection (so a cancel interrupts it too). Its rows are
 * kept in the session's look-up cache unless `keep` is false: for rows that are the answer itself
 * (a symbol's trades), which would push out the look-ups a view asks again.
 */
export type Lookup = (sql: string, params: Record<string, DuckDBValue>, options?: { keep?: boolean }) => Promise<unknown[][]>;

/**
 * A look-up read whole into typed columns (DOUBLE and INTEGER, as compute.ts reads them), on the
 * request's connection: for tens of thousands of values, which as row objects or text cost more
 * to build and parse than the query costs. Not kept in the session's look-up cache.
 */
export type ColumnLookup = (sql: string, params: Record<string, DuckDBValue>) => Promise<Columns>;

/**
 * Fails unless the planner was given a column look-up (the session always gives one; `what` says
 * what the planner reads as columns, for a caller that gave only `lookup`).
 */
export function assertColumnLookup(lookupColumns: ColumnLookup | undefined, what: string): asserts lookupColumns is ColumnLookup {
  if (!lookupColumns) throw new Error(`${what} as columns: the planner needs a ColumnLookup`);
}

/**
 * Plans a request; may run look-ups first. The session always gives both kinds of look-up; tests
 * of a planner that reads no columns give the first only.
 */
export type Planner = (lookup: Lookup, lookupColumns?: ColumnLookup) => QueryPlan | Promise<QueryPlan>;

/** Joins source table names for the done message. */
export function sourceOf(...tables: (string | string[])[]): string {
  return [...new Set(tables.flat())].join('+');
}
