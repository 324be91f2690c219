// Rows written out as JSON Lines for DuckDB's JSON reader to read back (json-tables.ts,
// pandas-files/pandas-json.ts). JSON.parse keeps no trace of `30150.0` having been a float, and
// JSON.stringify writes it `30150`: a column whose first 20,480 rows (the reader's sample) hold
// whole numbers would be read as BIGINT and fail on a fraction after them. So in a column with
// any fraction, whole numbers are written with `.0`, as Python's json wrote them.

type Row = Record<string, unknown>;

/** Below this, a whole number's text with `.0` after it is still the number (not `1e+21.0`). */
const PLAIN_DIGITS_BELOW = 1e15;

/** The rows as JSON Lines, every column with a fraction in it written as floats. */
export function jsonLinesText(rows: readonly Row[]): string {
  const floats = new Set<string>();
  for (const row of rows) {
    for (const [key, v] of Object.entries(row)) if (typeof v === 'number' && !Number.isInteger(v)) floats.add(key);
  }
  const cell = (key: string, v: unknown) =>
    typeof v === 'number' && Number.isInteger(v) && floats.has(key) && Math.abs(v) < PLAIN_DIGITS_BELOW ? `${v}.0` : JSON.stringify(v ?? null);
  return rows.map((row) => `{${Object.entries(row).map(([k, v]) => `${JSON.stringify(k)}:${cell(k, v)}`).join(',')}}\n`).join('');
}
