// Timestamps written as text in the forms spreadsheets, brokers and in-house reports write them,
// which DuckDB's cast does not read (it reads ISO 8601, and year/month/day with slashes):
//   - month/day/year or day/month/year, with slashes, dots or dashes (01/02/2024, 2.1.2024),
//     with or without a time (24-hour, or 12-hour with AM/PM, as Excel exports them);
//   - year.month.day (MetaTrader's reports: 2024.01.02 09:35:00);
//   - yyyymmdd (Interactive Brokers' and many feeds': 20240102 09:35:00).
// Which of month and day comes first is a property of the column, never of one value: read from
// the data (a first number above 12 is a day, a second above 12 is too), else the description's
// `dateOrder`, else day first for dates with dots and month first otherwise, and the store's
// timezone note says which and why. A column whose
// values fit none of the forms is left to the ISO cast, whose failures checks.ts reports by value.
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlIdent, sqlString } from '../sql/text.js';
import { familyOf, type ColumnInfo } from './column-types.js';
import type { DateOrder } from './description.js';
import type { TableKind } from './inputs/index.js';
import { COLUMNS } from './mapping.js';
import type { TableInput } from './table-input-shape.js';

/** How a text timestamp column is read: strptime formats tried in order, and what to say of it. */
export type TextDateReading = NonNullable<ColumnInfo['textDate']>;

/**
 * How a missing time is written as text: empty, or the spellings pandas and others give a missing
 * value. Such text is a NULL like any other (a trade without an exit time is open), not a bad row.
 */
export const MISSING_TIME_TEXT = ['', 'nat', 'nan', 'none', 'null', 'na', 'n/a'];

/** Values looked at (the first non-null ones) to tell whether a column is one of these forms at all. */
const SAMPLE_ROWS = 1000;

/** Each form: a pattern its values start with, and its date part as a strptime format per order. */
const DAY_MONTH = /^(\d{1,2})([/.-])(\d{1,2})\2\d{4}(?:$|[ T])/;
const YEAR_DOTS = /^\d{4}\.\d{1,2}\.\d{1,2}(?:$|[ T])/;
const COMPACT = /^\d{8}(?:$|[ T-])/;

/** The time parts a date may be followed by, most precise first (DuckDB's strptime takes a list). */
const TIMES = ['%H:%M:%S.%f', '%H:%M:%S', '%H:%M', '%I:%M:%S %p', '%I:%M %p'];

function withTimes(date: string, separators: readonly string[]): string[] {
  return [...separators.flatMap((s) => TIMES.map((t) => `${date}${s}${t}`)), date];
}

/** `text` (SQL of a trimmed text value) read in `reading`'s forms, as a naive TIMESTAMP; NULL where none fits. */
export function textDateSql(text: string, reading: TextDateReading): string {
  return `TRY_STRPTIME(${text}, [${reading.formats.map(sqlString).join(', ')}])`;
}

/**
 * The reading of each text timestamp column of `t` that is in one of the forms above, by column
 * name. `order`: the description's dateOrder, for a column whose data cannot tell.
 */
export async function textDateReadings(con: DuckDBConnection, t: TableInput, order: DateOrder | undefined): Promise<Map<string, TextDateReading>> {
  return textDateReadingsOf(con, t.relation, timestampTextColumns(t.source.kind, t.resolved), order);
}

/**
 * The reading of each of `columns` (text timestamps of one tool's `relation`) that is in one of
 * the forms above, by column name: textDateReadings, for a table or for an adapter's file.
 */
export async function textDateReadingsOf(
  con: DuckDBConnection,
  relation: string,
  columns: readonly ColumnInfo[],
  order: DateOrder | undefined,
): Promise<Map<string, TextDateReading>> {
  const readings = new Map<string, TextDateReading>();
  /** Columns of day and month, by their separator: their order is decided for all of them at once. */
  const dayMonth = new Map<string, string>();
  for (const c of columns) {
    const col = sqlIdent(c.name);
    // The first values that the ISO cast does not read: none, and the column is ISO text.
    const sample = (
      await con.runAndReadAll(
        `SELECT v FROM (SELECT trim(${col}::VARCHAR) AS v FROM ${relation} WHERE ${col} IS NOT NULL LIMIT ${SAMPLE_ROWS})
         WHERE lower(v) NOT IN (${MISSING_TIME_TEXT.map(sqlString).join(', ')}) AND TRY_CAST(v AS TIMESTAMP) IS NULL`,
      )
    ).getRowsJson().map((r) => String(r[0]));
    if (sample.length === 0) continue;
    if (sample.every((v) => YEAR_DOTS.test(v))) readings.set(c.name, { formats: withTimes('%Y.%m.%d', [' ', 'T']), says: 'year.month.day' });
    else if (sample.every((v) => COMPACT.test(v))) readings.set(c.name, { formats: withTimes('%Y%m%d', [' ', 'T', '-']), says: 'yyyymmdd' });
    else {
      const separators = new Set(sample.map((v) => DAY_MONTH.exec(v)?.[2] ?? null));
      if (separators.size === 1 && !separators.has(null)) dayMonth.set(c.name, [...separators][0]!);
    }
  }
  if (dayMonth.size === 0) return readings;
  const chosen = await dayMonthOrder(con, relation, [...dayMonth.keys()], order, [...dayMonth.values()].every((sep) => sep === '.'));
  if (!chosen) return readings;
  for (const [name, sep] of dayMonth) {
    const date = chosen.order === 'mdy' ? `%m${sep}%d${sep}%Y` : `%d${sep}%m${sep}%Y`;
    readings.set(name, { formats: withTimes(date, [' ', 'T']), says: `${chosen.order === 'mdy' ? 'month/day/year' : 'day/month/year'} (${chosen.why})` });
  }
  return readings;
}

/**
 * Reads the form of each text timestamp column of `t` (textDateReadings) into its resolved
 * columns, where expressions.ts finds it.
 */
export async function readTextDates(con: DuckDBConnection, t: TableInput, order: DateOrder | undefined): Promise<void> {
  const readings = await textDateReadings(con, t, order);
  if (readings.size === 0) return;
  for (const [canon, c] of t.resolved) {
    const textDate = readings.get(c.name);
    if (textDate) t.resolved.set(canon, { ...c, textDate });
  }
}

/** The resolved timestamp columns of a table that are text. */
function timestampTextColumns(kind: TableKind, resolved: ReadonlyMap<string, ColumnInfo>): ColumnInfo[] {
  const out = new Map<string, ColumnInfo>();
  for (const [canon, c] of resolved) if (COLUMNS[kind][canon]?.kind === 'timestamp' && familyOf(c) === 'string') out.set(c.name, c);
  return [...out.values()];
}

/**
 * Month or day first, from the largest first and second numbers over every value of the columns
 * (one tool wrote them all): above 12, a number is a day. Null when both are (the columns mix the
 * two orders: left to the cast, whose failures checks.ts reports by value).
 */
async function dayMonthOrder(
  con: DuckDBConnection,
  relation: string,
  columns: readonly string[],
  stated: DateOrder | undefined,
  dotted: boolean,
): Promise<{ order: DateOrder; why: string } | null> {
  const part = (name: string, i: number) => `TRY_CAST(regexp_extract(trim(${sqlIdent(name)}::VARCHAR), '^(\\d{1,2})[/.-](\\d{1,2})[/.-]\\d{4}', ${i}) AS INTEGER)`;
  const greatest = (i: number) => (columns.length === 1 ? `max(${part(columns[0]!, i)})` : `greatest(${columns.map((c) => `max(${part(c, i)})`).join(', ')})`);
  const [row] = (await con.runAndReadAll(`SELECT ${greatest(1)}, ${greatest(2)} FROM ${relation}`)).getRowsJson();
  const first = Number(row?.[0] ?? 0);
  const second = Number(row?.[1] ?? 0);
  if (first > 12 && second > 12) return null;
  if (first > 12) return { order: 'dmy', why: `a first number of ${first}: days come first` };
  if (second > 12) return { order: 'mdy', why: `a second number of ${second}: months come first` };
  if (stated) return { order: stated, why: 'as the dataset description\'s "dateOrder" says' };
  // With dots the day comes first wherever dates are written so (18.01.2024); with slashes or
  // dashes, month first is the US habit, and the more common in backtest exports.
  if (dotted) return { order: 'dmy', why: 'no number above 12 tells; dates with dots are day first: say "dateOrder": "mdy" in tickscope.json if not' };
  return { order: 'mdy', why: 'no number above 12 tells; month first by default: say "dateOrder": "dmy" in tickscope.json if the days come first' };
}
