// Every run's whole days, kept per store, so that the sweep metrics of another range of whole
// days are a slice in the session instead of a read of every run's rows again. A leaderboard or
// surface over a new range read 200 runs' daily rows and their trade statistics (30-100 ms on
// sweep); the slice and the KPIs over it are a few ms.
//
// The rows are those of the whole-history statement (dailyKpiSql over every run, which the pool
// process computes before a tab asks: warm-up.ts) with each run's trade statistics of the day
// (trade_day, by close day) beside them. A range of whole days without dimension or trade filters
// is then the rows of its days: the daily rows are per day (ret is P&L over the run's capital,
// not over the equity at the range's start) and trade_day is what a range of whole days sums.
// Kept only when the trade statistics add up to every run's own (a trade closing on a day the run
// has no portfolio row would be lost in the join): otherwise every range reads as before.
//
// A range that cuts days (a drag on a chart) is the slice of its whole days plus what it cuts:
// the daily rows of its cut days (at most two, from the bar tables) and the trades closing in
// the parts of UTC days it cuts (trade_list by close time), which the caller reads. On the
// 200-run sweep a new dragged range read every run's day rows and trade_day (70-100 ms); its cut
// days are a few hundred rows.
import type { Columns } from '../compute.js';
import { StoreTable } from '../../store/format.js';
import { midnightOf, type Catalog } from '../store.js';
import { dailyKpiSql, emptyStats, inRunDayOrder, type TradeStats } from './run-kpis.js';
import { hasTradeFilters, type Scope } from './scope.js';
import type { Binder } from './sql.js';
import { DAY_US, planTradeRange } from './trade-source.js';

/** Per-day trade statistics beside the daily rows: trade_day's sums, all sides and per side. */
const TRADE_COLUMNS = {
  t_n: 'sum(trades)',
  t_wins: 'sum(wins)',
  t_pnl_n: 'sum(pnl_n)',
  t_gross_profit: 'sum(gross_profit)',
  t_gross_loss: 'sum(gross_loss)',
  t_holding_sum: 'sum(holding_sum)',
  t_holding_n: 'sum(holding_n)',
  t_bars_held_sum: 'sum(bars_held_sum)',
  t_bars_held_n: 'sum(bars_held_n)',
  t_long_n: "sum(trades) FILTER (WHERE side = 'long')",
  t_long_pnl: "sum(gross_profit + gross_loss) FILTER (WHERE side = 'long')",
  t_long_wins: "sum(wins) FILTER (WHERE side = 'long')",
  t_short_n: "sum(trades) FILTER (WHERE side = 'short')",
  t_short_pnl: "sum(gross_profit + gross_loss) FILTER (WHERE side = 'short')",
  t_short_wins: "sum(wins) FILTER (WHERE side = 'short')",
} as const;
type TradeColumn = keyof typeof TRADE_COLUMNS;

interface WholeDays {
  /** Every run's daily rows (dailyKpiSql's columns, with bret) and TRADE_COLUMNS, in (ri, day) order. */
  columns: Columns;
  /** The run of each ri, and where its rows start (its rows are starts[ri] .. starts[ri + 1] - 1). */
  runs: readonly string[];
  starts: Int32Array;
  /** The store tables they were read from. */
  sources: string[];
}

const wholeDaysByStore = new WeakMap<Catalog, WholeDays>();

/** True when a scope's sweep metrics can start from the kept whole days: no dimension or trade filters. */
function sliceable(scope: Scope): boolean {
  return !scope.sectors && !scope.symbols && !hasTradeFilters(scope);
}

/**
 * The whole-history statement of every run (`all`: every run, the whole range, no filters), with
 * the trade statistics of each run's days beside its daily rows; null when the scope is not that.
 */
export function wholeDaysSql(b: Binder, all: Scope, catalog: Catalog): { sql: string; sources: string[] } | null {
  if (!all.range.everything || all.range.cuts.length > 0 || !sliceable(all) || all.runs.length === 0) return null;
  const daily = dailyKpiSql(b, all, catalog, { benchmark: true });
  const runIndex = `SELECT * FROM (VALUES ${all.runs.map((run, i) => `(${b.bind(run)}, ${i})`).join(', ')}) v(run_id, ri)`;
  const names = Object.keys(TRADE_COLUMNS) as TradeColumn[];
  const sql = `WITH k AS (${daily.sql}),
    t AS (
      SELECT x.ri, epoch_ms(d.day::TIMESTAMP)::DOUBLE AS day, ${names.map((name) => `${TRADE_COLUMNS[name]}::DOUBLE AS ${name}`).join(', ')}
      FROM ${StoreTable.tradeDay} d JOIN (${runIndex}) x ON x.run_id = d.run_id GROUP BY 1, 2
    )
    SELECT k.*, ${names.map((name) => `coalesce(t.${name}, 0) AS ${name}`).join(', ')}
    FROM k LEFT JOIN t ON t.ri = k.ri AND t.day = k.day`;
  return { sql, sources: [...daily.sources, StoreTable.tradeDay] };
}

/**
 * Keeps the whole days read by wholeDaysSql's statement when every run's trade count in them is
 * the run's own (`stats`, the whole history's trade statistics); returns the columns in order.
 */
export function keepWholeDays(catalog: Catalog, runs: readonly string[], unordered: Columns, stats: Map<string, TradeStats>, sources: string[]): Columns {
  const columns = inRunDayOrder(unordered);
  const ri = columns.get('ri') as Int32Array;
  const n = columns.get('t_n') as Float64Array | undefined;
  if (!n) return columns;
  const counted = new Float64Array(runs.length);
  for (let i = 0; i < ri.length; i++) counted[ri[i]!]! += n[i]!;
  if (runs.every((run, r) => counted[r] === (stats.get(run)?.n ?? 0))) {
    const starts = new Int32Array(runs.length + 1);
    for (let i = 0; i < ri.length; i++) starts[ri[i]! + 1]!++;
    for (let r = 0; r < runs.length; r++) starts[r + 1]! += starts[r]!;
    wholeDaysByStore.set(catalog, { columns, runs, starts, sources });
  }
  return columns;
}

/** Run r's rows of kept columns: segments[r] = [start, end). */
export type Segments = [number, number][];

/**
 * What the kept whole days hold of a sliceable scope: the daily rows of its whole days (the kept
 * columns themselves, with each run's rows in range as `segments`: no copy), the trade
 * statistics of the UTC days it holds whole (trades belong to a range by their close time, and
 * trade_day's days are UTC days: planTradeRange), and what they do not: the windows of the UTC
 * days it cuts (epoch µs), whose trades the caller reads, and the days whose bars it cuts
 * (scope.range.cuts). Undefined when nothing is kept or the scope has filters.
 */
export function sliceWholeDays(
  catalog: Catalog,
  scope: Scope,
): { columns: Columns; segments: Segments; stats: Map<string, TradeStats>; sources: string[]; tradeCuts: { from: number; to: number }[] } | undefined {
  const whole = wholeDaysByStore.get(catalog);
  if (!whole || !sliceable(scope)) return undefined;
  const lo = scope.range.full ? midnightOf(scope.range.full.lo) : Number.POSITIVE_INFINITY;
  const hi = scope.range.full ? midnightOf(scope.range.full.hi) : Number.NEGATIVE_INFINITY;
  const trades = planTradeRange(scope.from, scope.to);
  const dayMs = DAY_US / 1000;
  const tradeLo = !trades.full ? Number.POSITIVE_INFINITY : trades.full.lo === null ? Number.NEGATIVE_INFINITY : trades.full.lo * dayMs;
  const tradeHi = !trades.full ? Number.NEGATIVE_INFINITY : trades.full.hi === null ? Number.POSITIVE_INFINITY : trades.full.hi * dayMs;
  // Each run's rows are in day order: its days in a range are one run of rows, found by bisection.
  const day = whole.columns.get('day') as Float64Array;
  const firstAtOrAfter = (value: number, lo: number, hi: number) => {
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (day[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const segments: Segments = [];
  const tradeSegments: Segments = [];
  for (let r = 0; r < whole.runs.length; r++) {
    const start = firstAtOrAfter(lo, whole.starts[r]!, whole.starts[r + 1]!);
    segments.push([start, firstAtOrAfter(hi + 1, start, whole.starts[r + 1]!)]);
    const tradeStart = firstAtOrAfter(tradeLo, whole.starts[r]!, whole.starts[r + 1]!);
    tradeSegments.push([tradeStart, firstAtOrAfter(tradeHi + 1, tradeStart, whole.starts[r + 1]!)]);
  }
  const stats = new Map<string, TradeStats>();
  const col = (name: TradeColumn) => whole.columns.get(name) as Float64Array;
  const [n, wins, pnlN, grossProfit, grossLoss, holdingSum, holdingN, barsHeldSum, barsHeldN] = (
    ['t_n', 't_wins', 't_pnl_n', 't_gross_profit', 't_gross_loss', 't_holding_sum', 't_holding_n', 't_bars_held_sum', 't_bars_held_n'] as const
  ).map(col) as Float64Array[];
  const [longN, longPnl, longWins, shortN, shortPnl, shortWins] = (['t_long_n', 't_long_pnl', 't_long_wins', 't_short_n', 't_short_pnl', 't_short_wins'] as const).map(col) as Float64Array[];
  tradeSegments.forEach(([start, end], r) => {
    const s = emptyStats();
    for (let i = start; i < end; i++) {
      s.n += n![i]!;
      s.wins += wins![i]!;
      s.pnlN += pnlN![i]!;
      s.grossProfit += grossProfit![i]!;
      s.grossLoss += grossLoss![i]!;
      s.holdingSum += holdingSum![i]!;
      s.holdingN += holdingN![i]!;
      s.barsHeldSum += barsHeldSum![i]!;
      s.barsHeldN += barsHeldN![i]!;
      s.long.n += longN![i]!;
      s.long.pnl += longPnl![i]!;
      s.long.wins += longWins![i]!;
      s.short.n += shortN![i]!;
      s.short.pnl += shortPnl![i]!;
      s.short.wins += shortWins![i]!;
    }
    if (s.n > 0) stats.set(whole.runs[r]!, s);
  });
  return { columns: whole.columns, segments, stats, sources: whole.sources, tradeCuts: trades.cuts };
}

/**
 * The kept rows of `segments`, then the rows `read` (the cut days'): the columns `read` has,
 * copied. Not in (ri, day) order: runKpis puts them in it.
 */
export function withRows(kept: Columns, segments: Segments, read: Columns): Columns {
  let rows = 0;
  for (const [start, end] of segments) rows += end - start;
  const columns: Columns = new Map();
  for (const [name, more] of read) {
    const values = kept.get(name);
    if (!values) throw new Error(`the kept whole days have no column ${name}`);
    const out = values instanceof Int32Array ? new Int32Array(rows + more.length) : new Float64Array(rows + more.length);
    let at = 0;
    for (const [start, end] of segments) {
      out.set(values.subarray(start, end), at);
      at += end - start;
    }
    out.set(more, at);
    columns.set(name, out);
  }
  return columns;
}
