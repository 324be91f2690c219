// SQL text: string literals, identifiers, lists, and the table functions that read input files.
//
// It sits in server/sql/ because both the preparation (server/prepare) and the session
// (server/session) write SQL text and neither should import from the other; not in shared/,
// because the browser never writes SQL. It is for what cannot be a bound parameter (DDL, SET,
// table-function arguments) and for values the server produced itself: a query planner binds
// every value a client sends (server/session/queries/sql.ts), it never quotes one.
//
// Input formats DuckDB reads itself go through fileReader, the one place that knows how a file is
// read; Arrow IPC is not one of them (no extension can be installed: server/prepare/arrow-ipc/read.ts
// stages it into a table).

/** NUL ends a string in DuckDB's parser, and a lone surrogate cannot be sent as UTF-8. */
const UNWRITABLE = /[\0\p{Surrogate}]/u;

function writable(what: string, value: string): string {
  const bad = UNWRITABLE.exec(value);
  if (bad) {
    const code = bad[0].charCodeAt(0).toString(16).padStart(4, '0');
    throw new Error(`${what} ${JSON.stringify(value)} cannot be written as SQL text: it holds U+${code.toUpperCase()}`);
  }
  return value;
}

/**
 * A string literal. Quotes are doubled; backslashes and control characters (newline, tab) stand
 * for themselves in a standard literal, so they need no escape. NUL and lone surrogates are refused.
 */
export function sqlString(value: string): string {
  return `'${writable('string', value).replaceAll("'", "''")}'`;
}

/** A quoted identifier (a column or table name as written in an input file). */
export function sqlIdent(name: string): string {
  if (name === '') throw new Error('an empty identifier cannot be written as SQL text');
  return `"${writable('identifier', name).replaceAll('"', '""')}"`;
}

/** A list literal of strings: ['a', 'b']. */
export function sqlStringList(values: readonly string[]): string {
  return `[${values.map(sqlString).join(', ')}]`;
}

/** The formats DuckDB reads with a table function of its own. */
export type ReadableFormat = 'parquet' | 'csv' | 'json';

const READERS: Record<ReadableFormat, string> = { parquet: 'read_parquet', csv: 'read_csv', json: 'read_json' };

export interface FileReadOptions {
  /** `key=value` folders in the paths become (text) columns. */
  hive: boolean;
  /** Files whose columns differ are combined by column name, a missing column read as NULL. */
  unionByName?: boolean;
  /** Adds a `filename` column: the file each row comes from. */
  filename?: boolean;
  /** For CSV: what the sniffer is overruled on (prepare's formats/candidates.ts decides it). */
  csv?: CsvReading;
}

/** How a CSV file is read beyond what DuckDB's sniffer decides. */
export interface CsvReading {
  /**
   * Columns read as text, not as the timestamps the sniffer would make of them: dates with the
   * day or the month first, whose order prepare decides for the whole column (text-dates.ts).
   */
  textColumns?: readonly string[];
  /** Numbers with a decimal comma (185,10), as in a semicolon-separated file from a European locale. */
  decimalComma?: boolean;
}

/**
 * The table function reading `paths` (all of one format) as one relation, e.g.
 * `read_parquet(['a.parquet', 'b.parquet'], hive_partitioning = true, union_by_name = true)`.
 * DuckDB takes every path as a glob pattern.
 */
export function fileReader(format: ReadableFormat, paths: readonly string[], options: FileReadOptions): string {
  if (paths.length === 0) throw new Error(`${READERS[format]}: no files to read`);
  const args = [sqlStringList(paths), `hive_partitioning = ${options.hive}`];
  if (options.unionByName) args.push('union_by_name = true');
  if (options.filename) args.push('filename = true');
  const csv = format === 'csv' ? options.csv : undefined;
  if (csv?.textColumns?.length) args.push(`types = {${csv.textColumns.map((c) => `${sqlString(c)}: 'VARCHAR'`).join(', ')}}`);
  if (csv?.decimalComma) args.push(`decimal_separator = ','`);
  return `${READERS[format]}(${args.join(', ')})`;
}
