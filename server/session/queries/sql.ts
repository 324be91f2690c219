// Small helpers for building SQL whose every client value is a bound parameter. Identifiers are
// never taken from the client: they are literals of this code, chosen from allow-lists. (Quoted
// literals, server/sql/text.ts, are for what cannot be bound; a planner has no use for them.)
import type { DuckDBValue } from '@duckdb/node-api';

/** Collects bound parameters; `bind` returns the placeholder to write into the SQL text. */
export class Binder {
  readonly params: Record<string, DuckDBValue> = {};
  private next = 0;

  bind(value: DuckDBValue): string {
    const name = `p${this.next++}`;
    this.params[name] = value;
    return `$${name}`;
  }

  /**
   * A DOUBLE parameter, exact for every finite double. Bound as its shortest round-trip decimal
   * text, which DuckDB parses back to the same double: @duckdb/node-api infers the type of a JS
   * number from its value (INTEGER, BIGINT when integral, DOUBLE otherwise), so an integral bound
   * of magnitude 2^63 or more (1e19, 1e300) failed with "bigint out of int64 range" before DuckDB
   * saw it. The parameter is now always VARCHAR (one type, so a cached statement is never
   * re-bound for a change of type) and the cast makes it that exact DOUBLE again.
   */
  number(value: number): string {
    if (!Number.isFinite(value)) throw new RangeError(`a bound parameter must be a finite number, not ${value}`);
    return `${this.bind(String(value))}::DOUBLE`;
  }

  /** An integer parameter. */
  integer(value: number): string {
    return `${this.bind(BigInt(Math.trunc(value)))}::BIGINT`;
  }

  /** A UBIGINT parameter (0 .. 2^64 - 1), bound as its decimal text: a JS bigint binds as BIGINT. */
  unsigned(value: bigint): string {
    if (value < 0n || value >= 1n << 64n) throw new RangeError(`a UBIGINT parameter must be in [0, 2^64), not ${value}`);
    return `${this.bind(String(value))}::UBIGINT`;
  }

  /** A TIMESTAMP from epoch milliseconds (bound as epoch microseconds). */
  timestampMs(ms: number): string {
    return `make_timestamp(${this.bind(BigInt(Math.round(ms * 1000)))}::BIGINT)`;
  }

  /** A TIMESTAMP from epoch microseconds. */
  timestampUs(us: bigint): string {
    return `make_timestamp(${this.bind(us)}::BIGINT)`;
  }

  /** A DATE from an ISO date string computed by the server. */
  date(iso: string): string {
    return `${this.bind(iso)}::DATE`;
  }

  /** `column IN ($a, $b, ...)`, or FALSE for an empty list. */
  in(column: string, values: readonly string[]): string {
    if (values.length === 0) return 'FALSE';
    return `${column} IN (${values.map((v) => this.bind(v)).join(', ')})`;
  }
}

/** AND of conditions, TRUE if none. */
export function and(...conditions: (string | null | undefined | false)[]): string {
  const kept = conditions.filter((c): c is string => typeof c === 'string' && c !== '' && c !== 'TRUE');
  return kept.length === 0 ? 'TRUE' : kept.map((c) => `(${c})`).join(' AND ');
}

/** OR of conditions, FALSE if none. */
export function or(conditions: readonly string[]): string {
  return conditions.length === 0 ? 'FALSE' : conditions.map((c) => `(${c})`).join(' OR ');
}

/** Epoch milliseconds (DOUBLE) of a TIMESTAMP or DATE expression. */
export function ms(expr: string): string {
  return `epoch_ms((${expr})::TIMESTAMP)::DOUBLE`;
}

/** How a planner writes times: epoch ms (the protocol's) or as stored, TIMESTAMP in UTC (files). */
export type TimeFormat = 'epoch-ms' | 'timestamp';

/** A stored time column, selected under its own name in `times`. */
export function timeColumn(column: string, times: TimeFormat): string {
  return times === 'epoch-ms' ? `${ms(column)} AS ${column}` : column;
}
