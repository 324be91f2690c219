// Trade fields the input lacks but the bars can give: bars held, MAE and MFE (from the prices of
// the trade's symbol and run while it was held), fees (the trade's share of the fees of the bars
// it entered and exited in) and return (pnl over the entry notional). A column the input has is
// kept as it is; a derived one is computed for every trade, and the caller records which were
// (column-sources.ts).
//
// Definitions (docs/metrics.md, "Derived trade fields"): the bars of a trade are the bars of its
// run and symbol with entry_ts < ts <= exit_ts (to the symbol's last bar while open): the bar
// intervals it was held over, as bar-end timestamps count them.
// - bars_held: how many such bars.
// - mae / mfe: the worst and best price excursion over them, as a fraction of the entry price,
//   by side (long: min(price) / entry - 1 and max(price) / entry - 1; short the mirror), clamped
//   to <= 0 and >= 0: the convention of the trades Tickscope reads.
// - fees: each bar's fees are split between the trades entering or exiting in it, in proportion
//   to their quantity; a fill at a time between bars belongs to the first bar ending at or after it.
// - ret: pnl / (qty x entry_price x the symbol's contract multiplier, 1 unless given).
// Daily bars (bar-period.ts) are placed at the end of their day, and a trade time at midnight at
// the close of its day (barTime): a trade entered at the close of D and exited at the close of X
// is held over the bars of D+1 to X; one entered during D (an intraday time) over D to the bar
// before X's.
// A trade whose run and symbol have no bars gets NULL, not 0: nothing to measure it against.
//
// It scales as DuckDB's own sort of the bars does: the path of every trade is one window over bars
// and trades together, partitioned by run and symbol and ordered by time, whose frame runs from
// the trade's entry to its exit (a variable RANGE frame, answered by DuckDB's segment trees); fees
// are a hash join of the fills to their bars. No per-trade query.
import type { DuckDBConnection } from '@duckdb/node-api';
import { StoreTable } from '../store/format.js';
import { runTracked, type Progress } from './progress.js';
import type { TableInput } from './table-input-shape.js';
import { barTime, type BarPeriod, type BarTime } from './bar-period.js';

/** The trade fields preparation can derive, in the order they are derived. */
export const DERIVABLE_TRADE_FIELDS = ['bars_held', 'mae', 'mfe', 'fees', 'ret'] as const;
export type DerivableTradeField = (typeof DERIVABLE_TRADE_FIELDS)[number];

/** What each derived field was computed from, as the trade detail says it (column_sources.note). */
export const DERIVED_FROM: Record<DerivableTradeField, string> = {
  bars_held: 'bars',
  mae: 'bars',
  mfe: 'bars',
  fees: 'bar fees',
  ret: 'pnl / (qty × entry price × multiplier)',
};

/** A derived field, and whether any trade got a value for it (none when no bar covers a trade). */
export interface DerivedField {
  field: DerivableTradeField;
  trades: number;
}

/**
 * Fills in the fields of `trades` (of `fields`) its input lacks, when `bars` can give them; rewrites the trades
 * table in its order. Returns the fields derived with the number of trades given a value.
 */
export async function deriveTradeFields(
  con: DuckDBConnection,
  trades: TableInput,
  bars: TableInput,
  period: BarPeriod,
  progress: Progress,
  fields: readonly DerivableTradeField[] = DERIVABLE_TRADE_FIELDS,
): Promise<DerivedField[]> {
  const time = barTime(period);
  const missing = fields.filter((f) => !trades.resolved.has(f));
  // Fees only from fees the bars really have (absent bar fees are zeros, not facts); a return only
  // from a P&L, a quantity and an entry price.
  const wanted = missing.filter((f) =>
    f === 'fees' ? bars.resolved.has('fees') : f === 'ret' ? ['pnl', 'qty', 'entry_price'].every((c) => trades.resolved.has(c)) : true,
  );
  if (wanted.length === 0) return [];
  const needPath = wanted.some((f) => f === 'bars_held' || f === 'mae' || f === 'mfe');
  const needFees = wanted.includes('fees');
  const ctes: string[] = [];
  const joins: string[] = [];
  if (needPath) {
    ctes.push(`trade_path AS (${pathSql(time)})`);
    joins.push('LEFT JOIN trade_path p ON p.run_id = t.run_id AND p.trade_id = t.trade_id');
  }
  if (needFees) {
    ctes.push(...feesCtes(time));
    joins.push('LEFT JOIN trade_fees f ON f.run_id = t.run_id AND f.trade_id = t.trade_id');
  }
  const feesExpr = needFees ? 'f.fees' : 't.fees';
  const replaced: Record<DerivableTradeField, string> = {
    bars_held: 'p.bars_held',
    // least/greatest skip NULLs: a trade without bars would read 0 without the CASE.
    mae: `CASE WHEN p.lo IS NOT NULL THEN least(0.0, CASE t.side WHEN 'long' THEN p.lo / t.entry_price - 1 WHEN 'short' THEN 1 - p.hi / t.entry_price END) END`,
    mfe: `CASE WHEN p.hi IS NOT NULL THEN greatest(0.0, CASE t.side WHEN 'long' THEN p.hi / t.entry_price - 1 WHEN 'short' THEN 1 - p.lo / t.entry_price END) END`,
    fees: feesExpr,
    ret: 't.pnl / nullif(t.qty * t.entry_price * coalesce(s.multiplier, 1), 0)',
  };
  // The contract's multiplier (multipliers.ts) makes the capital a futures trade used.
  if (wanted.includes('ret')) joins.push(`LEFT JOIN ${StoreTable.symbols} s ON s.symbol = t.symbol`);
  const replace = wanted.map((f) => `${replaced[f]} AS ${f}`).join(', ');
  await runTracked(
    con,
    `CREATE OR REPLACE TABLE ${StoreTable.trades} AS
      ${ctes.length ? `WITH ${ctes.join(',\n')}` : ''}
      SELECT t.* REPLACE (${replace})
      FROM ${StoreTable.trades} t ${joins.join(' ')}
      ORDER BY t.run_id, t.symbol, t.entry_ts, t.trade_id`,
    progress,
  );
  const counts = await con.runAndReadAll(
    `SELECT ${wanted.map((f) => `count(${f})::DOUBLE`).join(', ')} FROM ${StoreTable.trades}`,
  );
  const row = counts.getRows()[0] as (number | null)[];
  return wanted.map((field, i) => ({ field, trades: Number(row[i] ?? 0) }));
}

/**
 * Per trade: bars_held, lo and hi (the lowest and highest price) over its bars; bars_held NULL
 * when its run and symbol have no bars at all (nothing to count, not zero bars). Trade rows sit one
 * microsecond after their entry (timestamps are microseconds), so the frame from the current row
 * to `span` after it covers exactly entry_ts < ts <= exit_ts; bar rows have no span and a price.
 */
const pathSql = (time: BarTime) => `
  WITH last_bar AS (SELECT max(${time.bar('ts')}) AS ts FROM ${StoreTable.bars}),
  events AS (
    SELECT run_id, symbol, ${time.bar('ts')} AS ts, price, NULL::BIGINT AS trade_id, NULL::INTERVAL AS span
    FROM ${StoreTable.bars}
    WHERE (run_id, symbol) IN (SELECT DISTINCT run_id, symbol FROM ${StoreTable.trades})
    UNION ALL
    SELECT run_id, symbol, ${time.trade('entry_ts')} + INTERVAL 1 MICROSECOND, NULL::DOUBLE, trade_id,
      greatest(coalesce(${time.trade('exit_ts')}, (SELECT ts FROM last_bar)) - ${time.trade('entry_ts')} - INTERVAL 1 MICROSECOND, INTERVAL 0 MICROSECOND)
    FROM ${StoreTable.trades} WHERE entry_ts IS NOT NULL
  )
  SELECT run_id, trade_id, CASE WHEN covered THEN n END AS bars_held, lo, hi FROM (
    SELECT run_id, trade_id, count(price) OVER w AS n, min(price) OVER w AS lo, max(price) OVER w AS hi,
      count(price) OVER (PARTITION BY run_id, symbol) > 0 AS covered
    FROM events
    WINDOW w AS (PARTITION BY run_id, symbol ORDER BY ts RANGE BETWEEN CURRENT ROW AND span FOLLOWING)
  ) WHERE trade_id IS NOT NULL`;

/**
 * trade_fees(run_id, trade_id, fees): every entry and exit fill mapped to the first bar ending at or
 * after it, each bar's fees split over its fills by quantity. Fills at a bar's timestamp are
 * matched by a hash join (one streaming pass over bars); only fills between bars take the ASOF
 * join, over their own symbols' bars (an ASOF join sorts its right side).
 */
const feesCtes = (time: BarTime) => [
  `fills AS (
    SELECT run_id, trade_id, symbol, ${time.trade('entry_ts')} AS ts, abs(qty) AS qty FROM ${StoreTable.trades} WHERE entry_ts IS NOT NULL
    UNION ALL
    SELECT run_id, trade_id, symbol, ${time.trade('exit_ts')}, abs(qty) FROM ${StoreTable.trades} WHERE exit_ts IS NOT NULL
  )`,
  `fills_at_bars AS (
    SELECT f.run_id, f.trade_id, f.symbol, ${time.bar('b.ts')} AS bar_ts, f.qty, b.fees AS bar_fees
    FROM fills f JOIN ${StoreTable.bars} b ON b.run_id = f.run_id AND b.symbol = f.symbol AND ${time.bar('b.ts')} = f.ts
  )`,
  `fills_between_bars AS (
    SELECT * FROM fills f
    WHERE NOT EXISTS (SELECT 1 FROM fills_at_bars a WHERE a.run_id = f.run_id AND a.trade_id = f.trade_id AND a.bar_ts = f.ts)
  )`,
  `fill_bars AS (
    SELECT * FROM fills_at_bars
    UNION ALL
    SELECT f.run_id, f.trade_id, f.symbol, b.ts, f.qty, b.fees
    FROM fills_between_bars f ASOF JOIN (
      SELECT run_id, symbol, ${time.bar('ts')} AS ts, fees FROM ${StoreTable.bars}
      WHERE (run_id, symbol) IN (SELECT DISTINCT run_id, symbol FROM fills_between_bars)
    ) b ON b.run_id = f.run_id AND b.symbol = f.symbol AND b.ts >= f.ts
  )`,
  `trade_fees AS (
    SELECT run_id, trade_id, sum(share) AS fees FROM (
      SELECT run_id, trade_id, bar_fees * coalesce(qty / nullif(sum(qty) OVER (PARTITION BY run_id, symbol, bar_ts), 0),
        1.0 / count(*) OVER (PARTITION BY run_id, symbol, bar_ts)) AS share
      FROM fill_bars
    ) GROUP BY run_id, trade_id
  )`,
];
