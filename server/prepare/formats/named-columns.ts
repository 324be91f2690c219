// Formats recognised by a fixed set of column names (vectorbt records, Nautilus reports): which
// of a file's columns plays each part, and how each canonical column is read, in words, for
// `describe` (tickscope inspect).
import type { ColumnInfo } from '../column-types.js';
import { findColumn, type CandidateFile } from './adapter.js';

/** The input column of each part, per file; undefined where the file has none. */
export type Columns = Record<string, ColumnInfo | undefined>;

/** The file's column for each part (names as mapping.ts normalise() gives them); null when a required part is missing. */
export function matchNamed(file: CandidateFile, names: Record<string, readonly string[]>, required: readonly string[]): Columns | null {
  const out: Columns = {};
  for (const [part, candidates] of Object.entries(names)) out[part] = findColumn(file, candidates);
  return required.every((c) => out[c]) ? out : null;
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
