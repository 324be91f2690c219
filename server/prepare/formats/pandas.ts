// How pandas writes a time-indexed frame, which zipline, pyfolio and most Python backtesters save:
// `to_parquet` keeps the index as a column named after it (`date`, `dt`, `index`) or
// `__index_level_0__`; `to_csv` writes it as the first column, unnamed (`Unnamed: 0` once read
// back) or named after the index.
import { sqlIdent } from '../../sql/text.js';
import { familyOf, type ColumnInfo } from '../column-types.js';
import { normalise } from '../mapping.js';
import type { CandidateFile } from './adapter.js';

/** Names a saved time index goes by (compared as mapping.ts compares names). */
const INDEX_NAMES = ['date', 'dt', 'datetime', 'timestamp', 'time', 'index', '__index_level_0__', 'unnamed:_0', 'column0', 'column00', ''];

const TIME_FAMILIES = new Set(['timestamp', 'timestamptz', 'date']);

/** The frame's time index column: a known index name, else the only column of a time type. */
export function timeIndexColumn(file: CandidateFile): ColumnInfo | undefined {
  for (const n of INDEX_NAMES) {
    const c = file.columns.find((col) => normalise(col.name) === n);
    if (c && (TIME_FAMILIES.has(familyOf(c)) || familyOf(c) === 'string')) return c;
  }
  const timed = file.columns.filter((c) => TIME_FAMILIES.has(familyOf(c)));
  return timed.length === 1 ? timed[0] : undefined;
}

/** The columns of `file` that hold numbers. */
export function numberColumns(file: CandidateFile): ColumnInfo[] {
  return file.columns.filter((c) => familyOf(c) === 'integer' || familyOf(c) === 'float');
}

/**
 * SQL for the calendar day of a time index value: the UTC day of a zoned timestamp, the written
 * day of a naive one; text is read as a timestamp (with or without an offset).
 */
export function dayExpr(c: ColumnInfo): string {
  const col = sqlIdent(c.name);
  switch (familyOf(c)) {
    case 'timestamptz':
      return c.zone ? `${col}::DATE` : `timezone('UTC', ${col})::DATE`;
    case 'timestamp':
    case 'date':
      return `${col}::DATE`;
    default: {
      const s = `${col}::VARCHAR`;
      return `CASE WHEN regexp_matches(${s}, '(Z|[+-]\\d\\d(:?\\d\\d)?)$') THEN timezone('UTC', ${s}::TIMESTAMPTZ)::DATE ELSE ${s}::TIMESTAMP::DATE END`;
    }
  }
}

/** SQL for a time index value as it was written: zoned stays zoned, naive stays naive. */
export function timeExpr(c: ColumnInfo): string {
  const col = sqlIdent(c.name);
  switch (familyOf(c)) {
    case 'timestamptz':
      // An Arrow zoned column is staged as UTC instants in a plain TIMESTAMP: say it is zoned.
      return c.zone ? `timezone('UTC', ${col}::TIMESTAMP)` : col;
    case 'timestamp':
    case 'date':
      return `${col}::TIMESTAMP`;
    default:
      // Text stays text: the pipeline reads it (with or without an offset) like any text time.
      return `${col}::VARCHAR`;
  }
}

/**
 * A zipline asset's symbol from its text: pyfolio's frames extracted from a zipline run
 * (extract_rets_pos_txn_from_zipline) hold the assets themselves, which to_csv writes as
 * `Equity(24 [AAPL])`: that is AAPL, as zipline's own frame names it (zipline.ts); other text is
 * kept as it is.
 */
export function ziplineAssetSymbolSql(text: string): string {
  return `coalesce(nullif(regexp_extract(${text}, '^[A-Za-z]\\w*\\(\\d+ \\[(.+)\\]\\)$', 1), ''), ${text})`;
}
