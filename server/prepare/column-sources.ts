// Where each canonical column of bars and trades came from: read from an input column, derived at
// preparation (from what), or absent (NULL or a default throughout). Written to the store's
// column_sources table (server/store/format.ts); the session sends it in the hello and the trade
// detail says "MAE — derived from 5-minute bars".
import type { DuckDBConnection } from '@duckdb/node-api';
import { StoreTable, type BarsOrigin } from '../store/format.js';
import { sqlString } from '../sql/text.js';
import { DERIVED_FROM, type DerivedField } from './derive-trades.js';
import { TRADE_BARS_NOTE } from './trade-bars.js';
import { COLUMNS } from './mapping.js';
import type { TableInput } from './table-input-shape.js';

export type ColumnSourceKind = 'input' | 'derived' | 'absent';

export interface ColumnSourceRow {
  table: 'bars' | 'trades';
  column: string;
  source: ColumnSourceKind;
  inputColumn: string | null;
  note: string | null;
}

/** The trade fields only real bars can give (derive-trades.ts). */
const FROM_BARS_ONLY = ['bars_held', 'mae', 'mfe', 'fees'];

/** What build.ts and expressions.ts put in a canonical column the input does not have. */
const DEFAULTS: Record<'bars' | 'trades', Record<string, { source: ColumnSourceKind; note: string }>> = {
  bars: {
    run_id: { source: 'absent', note: "one run, 'default'" },
    position_value: { source: 'derived', note: 'position_qty × price' },
    trade_qty: { source: 'derived', note: 'change of position_qty since the bar before' },
    fees: { source: 'absent', note: 'taken as 0' },
  },
  trades: {
    run_id: { source: 'absent', note: "one run, 'default'" },
    trade_id: { source: 'derived', note: 'numbered per run by entry time' },
    side: { source: 'derived', note: 'sign of qty' },
  },
};

/** A derived position value when the symbols give contract multipliers (multipliers.ts). */
const MULTIPLIED_POSITION_VALUE = { source: 'derived' as const, note: "position_qty × price × the symbol's multiplier" };

/**
 * The column sources of a build: `derived` are the trade fields derive-trades.ts filled. Bars made
 * of the trades (barsOrigin 'trades', trade-bars.ts) are derived throughout, and then no trade
 * field is derived from them.
 */
export function columnSources(
  bars: TableInput | null,
  trades: TableInput | null,
  derived: readonly DerivedField[],
  barsOrigin: BarsOrigin,
  multipliers = false,
): ColumnSourceRow[] {
  const rows: ColumnSourceRow[] = [];
  if (barsOrigin === 'trades') {
    for (const column of Object.keys(COLUMNS.bars)) rows.push({ table: 'bars', column, source: 'derived', inputColumn: null, note: TRADE_BARS_NOTE });
  }
  for (const [table, input] of [['bars', bars], ['trades', trades]] as const) {
    if (table === 'bars' && barsOrigin === 'trades') continue;
    for (const column of Object.keys(COLUMNS[table])) {
      const read = input?.resolved.get(column);
      if (read?.constant !== undefined) {
        rows.push({ table, column, source: 'input', inputColumn: null, note: `no symbol column: one instrument, '${read.constant}' (the dataset folder's name, or the description's "symbol")` });
        continue;
      }
      if (read) {
        rows.push({ table, column, source: 'input', inputColumn: read.name, note: null });
        continue;
      }
      const d = table === 'trades' ? derived.find((f) => f.field === column) : undefined;
      if (d) {
        rows.push(
          d.trades > 0
            ? { table, column, source: 'derived', inputColumn: null, note: DERIVED_FROM[d.field] }
            : { table, column, source: 'absent', inputColumn: null, note: 'no bars cover the trades to derive it from' },
        );
        continue;
      }
      if (table === 'trades' && barsOrigin === 'trades' && (FROM_BARS_ONLY as readonly string[]).includes(column)) {
        rows.push({ table, column, source: 'absent', inputColumn: null, note: 'not in the input, and the input has no bars to derive it from' });
        continue;
      }
      const fallback = input ? (multipliers && table === 'bars' && column === 'position_value' ? MULTIPLIED_POSITION_VALUE : DEFAULTS[table][column]) : undefined;
      rows.push({ table, column, source: fallback?.source ?? 'absent', inputColumn: null, note: fallback?.note ?? (input ? null : `no ${table} input`) });
    }
  }
  return rows;
}

export async function writeColumnSources(con: DuckDBConnection, rows: readonly ColumnSourceRow[]): Promise<void> {
  await con.run(`CREATE TABLE ${StoreTable.columnSources} (table_name VARCHAR, column_name VARCHAR, source VARCHAR, input_column VARCHAR, note VARCHAR)`);
  if (rows.length === 0) return;
  const text = (v: string | null) => (v === null ? 'NULL' : sqlString(v));
  await con.run(
    `INSERT INTO ${StoreTable.columnSources} VALUES ${rows
      .map((r) => `(${[r.table, r.column, r.source, r.inputColumn, r.note].map(text).join(', ')})`)
      .join(', ')}`,
  );
}
