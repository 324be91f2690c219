// Formats recognised by a fixed set of column names (vectorbt records, Nautilus reports, the lists
// MetaTrader, TradingView and AmiBroker export): which of a file's columns plays each part, and
// how each canonical column is read, in words, for `describe` (tickscope inspect).
import { sqlIdent } from '../../sql/text.js';
import { familyOf, type ColumnInfo } from '../column-types.js';
import { normalise } from '../mapping.js';
import { findColumn, type CandidateFile, type Detection } from './adapter.js';

/** The input column of each part, per file; undefined where the file has none. */
export type Columns = Record<string, ColumnInfo | undefined>;

/** The file's column for each part (names as mapping.ts normalise() gives them); null when a required part is missing. */
export function matchNamed(file: CandidateFile, names: Record<string, readonly string[]>, required: readonly string[]): Columns | null {
  const out: Columns = {};
  for (const [part, candidates] of Object.entries(names)) out[part] = findColumn(file, candidates);
  return required.every((c) => out[c]) ? out : null;
}

/** The file's column for each part, by a pattern over its normalised name ("Ex. date" is ex_date); null when a required part is missing. */
export function matchPatterns(file: CandidateFile, patterns: Record<string, RegExp>, required: readonly string[]): Columns | null {
  const parts: Columns = {};
  for (const [part, re] of Object.entries(patterns)) parts[part] = file.columns.find((c) => re.test(normalise(c.name)));
  return required.every((p) => parts[p]) ? parts : null;
}

/** A file of a tool's list and its columns by part. */
export interface ListFile {
  file: CandidateFile;
  parts: Columns;
}

/** The files whose header has every required part: a `certain` detection (the headers are the tool's own). */
export function detectLists(files: readonly CandidateFile[], patterns: Record<string, RegExp>, required: readonly string[]): Detection<{ files: ListFile[] }> | null {
  const found: ListFile[] = [];
  for (const file of files) {
    const parts = matchPatterns(file, patterns, required);
    if (parts) found.push({ file, parts });
  }
  return found.length === 0 ? null : { files: found.map((f) => f.file), confidence: 'certain', plan: { files: found } };
}

/** A time column as written (the pipeline reads text dates such as 2024.01.02 09:35:00); blank text is none. */
export function timeOf(c: ColumnInfo): string {
  const v = sqlIdent(c.name);
  return familyOf(c) === 'string' ? `nullif(trim(${v}::VARCHAR), '')` : v;
}

/** How each canonical column is read from the parts, in words; null when it is not. */
export type Reading = Record<string, (c: Columns) => string | null>;

/** A canonical column read straight from one part. */
export const named = (part: string) => (c: Columns) => c[part]?.name ?? null;

/** canonical column -> how it is read (FormatDescription.files[].columns). */
export function describeReading(c: Columns, reading: Reading): Record<string, string> {
  return Object.fromEntries(
    Object.entries(reading).flatMap(([k, read]) => {
      const v = read(c);
      return v ? [[k, v]] : [];
    }),
  );
}
