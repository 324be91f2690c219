// Bars for a dataset that has trades and no bars (vectorbt trade or order records, a Lean result,
// Nautilus reports, or a trades file alone): each trade is two fills, its entry and its exit, and
// the fills become daily bars by fill-bars.ts with 'realized' P&L:
//   - entry: +qty (long) or -qty (short) at entry_price; exit: the opposite at exit_price, with
//     the trade's fees and its P&L booked on the exit day;
//   - a trade without an exit holds its position to the end; when the tool gave it a P&L (a mark,
//     as vectorbt's Open trades carry), that P&L is booked on the run's last day, and its fees on
//     its entry day;
//   - days are calendar days in the exchange zone; a bar is stamped at its day's midnight there.
// So the dataset's P&L is exactly the sum of its trades' P&L, positions and exposure are right on
// every day a trade was open, and prices are fill prices only: the build derives no MAE, MFE or
// bars held from these bars and reconciles nothing against them (both would be the trades again).
import type { DuckDBConnection } from '@duckdb/node-api';
import { StoreTable, exchangeTimeSql } from '../store/format.js';
import { sqlString } from '../sql/text.js';
import { dailyBarsFromFillsSql } from './formats/fill-bars.js';
import { stagedTableInput } from './table-input.js';
import type { TableInput } from './table-input-shape.js';

const FILLS = 'temp.main._trade_fills';
const BARS = 'temp.main._trade_bars';

/** What column_sources says of every column of these bars. */
export const TRADE_BARS_NOTE = 'no bars in the input: daily bars from the trades (entry and exit fills; P&L booked on the exit day)';

/** Stages the daily bars of the built trades table; the bars' input for the rest of the build. */
export async function barsFromTrades(con: DuckDBConnection, trades: TableInput, zone: string): Promise<TableInput> {
  const day = (ts: string) => `(${exchangeTimeSql(ts, zone)})::DATE`;
  const signed = `CASE WHEN side = 'short' THEN -abs(qty) ELSE abs(qty) END`;
  const t = StoreTable.trades;
  await con.run(`CREATE TEMP TABLE ${FILLS} AS
    WITH last_day AS (
      SELECT run_id, max(${day('coalesce(exit_ts, entry_ts)')}) AS day FROM ${t} GROUP BY run_id
    )
    SELECT run_id, symbol, ${day('entry_ts')} AS day, epoch_us(entry_ts) * 2 AS seq, ${signed} AS amount, entry_price AS price,
      CASE WHEN exit_ts IS NULL THEN coalesce(fees, 0) ELSE 0 END AS fees, 0.0 AS realized
    FROM ${t} WHERE entry_ts IS NOT NULL
    UNION ALL
    SELECT run_id, symbol, ${day('exit_ts')}, epoch_us(exit_ts) * 2 + 1, -(${signed}), exit_price, coalesce(fees, 0), coalesce(pnl, 0)
    FROM ${t} WHERE exit_ts IS NOT NULL
    UNION ALL
    SELECT tr.run_id, tr.symbol, l.day, NULL, 0.0, NULL, 0.0, tr.pnl
    FROM ${t} tr JOIN last_day l ON l.run_id IS NOT DISTINCT FROM tr.run_id
    WHERE tr.exit_ts IS NULL AND tr.pnl IS NOT NULL AND tr.pnl <> 0`);
  await con.run(`CREATE TEMP TABLE ${BARS} AS ${dailyBarsFromFillsSql({
    fills: FILLS,
    pnl: 'realized',
    // A TIMESTAMPTZ, so that the pipeline reads it as the instant it is, whatever the description's zone.
    dayStart: (d) => `timezone(${sqlString(zone)}, ${d}::TIMESTAMP)`,
  })}`);
  return stagedTableInput(con, { kind: 'bars', location: trades.source.location, files: trades.source.files }, BARS);
}

/** Drops the staging tables once the bars table is built. */
export async function dropTradeBarsStaging(con: DuckDBConnection): Promise<void> {
  await con.run(`DROP TABLE IF EXISTS ${BARS}; DROP TABLE IF EXISTS ${FILLS}`);
}
