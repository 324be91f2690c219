// Reading the worker's column tables (typed arrays; strings dictionary-coded) without row objects.
import type { Column, ColumnTable, StringColumn } from './worker/types.js';

function isStrings(c: Column | undefined): c is StringColumn {
  return !!c && !(c instanceof Float64Array);
}

export function num(t: ColumnTable, column: string, i: number): number {
  const c = t.columns[column];
  if (!c) return Number.NaN;
  if (isStrings(c)) return Number(c.dict[c.codes[i]!]);
  return c[i]!;
}

export function str(t: ColumnTable, column: string, i: number): string {
  const c = t.columns[column];
  if (!c) return '';
  if (isStrings(c)) {
    const code = c.codes[i]!;
    return code < 0 ? '' : c.dict[code]!;
  }
  const v = c[i]!;
  return Number.isNaN(v) ? '' : String(v);
}

/** The index of the first row whose string column equals `value`, or -1. */
export function findRow(t: ColumnTable, column: string, value: string): number {
  for (let i = 0; i < t.length; i++) if (str(t, column, i) === value) return i;
  return -1;
}
