// Where trade measures come from. trade_day holds the trade statistics per run, close day, close
// hour, sector and side; a range is answered from it for its whole (calendar) days and from
// trade_list, sorted by close time, for the one or two days it cuts. A filter trade_day cannot
// honour (symbols, tags, pnl/return/holding/MAE/MFE ranges) or a grouping by symbol reads
// trade_list for the whole range instead. Either way the rows have the same columns, and every
// measure is a sum of them:
//   run_id, sector, side, [symbol], day, hour, trades, wins, pnl_n, gross_profit, gross_loss,
//   holding_sum, holding_n, bars_held_sum, bars_held_n
import { StoreTable, exchangeTimeSql, tradeSampleKeySql, type TradeBoundField } from '../../store/format.js';
import type { Scope } from './scope.js';
import { tradeConditions, runsCondition } from './scope.js';
import { and, type Binder } from './sql.js';

export const DAY_US = 86_400_000_000;

export interface TradeRangePlan {
  /** Whole UTC days in the range (either end open); null when none. */
  full: { lo: number | null; hi: number | null } | null;
  /** Windows (epoch µs, inclusive) of the days the range cuts. */
  cuts: { from: number; to: number }[];
}

/**
 * Splits [from, to] (epoch ms, inclusive; `to` through its whole millisecond, as
 * rangeEndCondition) into whole UTC days and cut windows (epoch µs, inclusive).
 */
export function planTradeRange(from: number | undefined, to: number | undefined): TradeRangePlan {
  if (from === undefined && to === undefined) return { full: { lo: null, hi: null }, cuts: [] };
  const f = from === undefined ? null : Math.round(from * 1000);
  const t = to === undefined ? null : Math.round(to * 1000) + 999;
  const lo = f === null ? null : Math.ceil(f / DAY_US);
  const hi = t === null ? null : Math.floor((t + 1) / DAY_US) - 1;
  if (lo !== null && hi !== null && lo > hi) return { full: null, cuts: f! <= t! ? [{ from: f!, to: t! }] : [] };
  const cuts: TradeRangePlan['cuts'] = [];
  if (f !== null && f < lo! * DAY_US) cuts.push({ from: f, to: lo! * DAY_US - 1 });
  if (t !== null && t > (hi! + 1) * DAY_US - 1) cuts.push({ from: (hi! + 1) * DAY_US, to: t });
  return { full: { lo, hi }, cuts };
}

/** A cut window (epoch µs, inclusive) as the range in ms that planTradeRange maps back onto it. */
export function msRangeOfCut(cut: { from: number; to: number }): { from: number; to: number } {
  return { from: cut.from / 1000, to: (cut.to - 999) / 1000 };
}

const isoDay = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10);

/** The columns of one trade as a row of trade statistics; its hour in the exchange time zone `zone`
 * (as trade_day's). */
const perTrade = (zone: string) => `run_id, sector, side, symbol, close_ts::DATE AS day, hour(${exchangeTimeSql('close_ts', zone)})::TINYINT AS hour,
  1::BIGINT AS trades, coalesce((pnl > 0)::BIGINT, 0) AS wins, (pnl IS NOT NULL)::BIGINT AS pnl_n,
  CASE WHEN pnl > 0 THEN pnl ELSE 0 END AS gross_profit, CASE WHEN pnl < 0 THEN pnl ELSE 0 END AS gross_loss,
  coalesce(holding_ms, 0) AS holding_sum, (holding_ms IS NOT NULL)::BIGINT AS holding_n,
  coalesce(bars_held, 0)::DOUBLE AS bars_held_sum, (bars_held IS NOT NULL)::BIGINT AS bars_held_n`;

const ROLLED = `run_id, sector, side, NULL::VARCHAR AS symbol, day, hour, trades, wins, pnl_n, gross_profit, gross_loss,
  holding_sum, holding_n, bars_held_sum, bars_held_n`;

/**
 * The trades a scope can match, as a FROM item with trade_list's columns. Under a symbols filter,
 * the base trades table (sorted by run and symbol, so a few symbols are a narrow read) with the
 * derived columns added; otherwise trade_list itself.
 */
export function tradeFrom(b: Binder, scope: Scope): string {
  if (!scope.symbols) return StoreTable.tradeList;
  return `(SELECT t.run_id, t.trade_id, t.symbol, coalesce(s.sector, 'Unknown') AS sector, t.side, t.entry_ts, t.exit_ts,
      coalesce(t.exit_ts, t.entry_ts) AS close_ts, t.qty, t.entry_price, t.exit_price, t.fees, t.pnl, t.ret, t.bars_held,
      (epoch_ms(t.exit_ts) - epoch_ms(t.entry_ts))::DOUBLE AS holding_ms, t.mae, t.mfe, t.tag,
      ${tradeSampleKeySql('t.run_id', 't.trade_id')} AS sample_key, r.run_key
    FROM ${StoreTable.trades} t LEFT JOIN ${StoreTable.symbols} s ON s.symbol = t.symbol LEFT JOIN ${StoreTable.runs} r ON r.run_id = t.run_id
    WHERE ${b.in('t.symbol', scope.symbols)})`;
}

function tradeDayUsable(scope: Scope, options: { symbol?: boolean } = {}): boolean {
  return !options.symbol && !scope.symbols && !scope.trade.tags && scope.trade.ranges.length === 0 && !scope.trade.hours && !scope.trade.weekdays;
}

/** Trade statistic rows for the scope (see the header); `symbol` keeps per-trade symbols. */
export function tradeRows(b: Binder, scope: Scope, options: { symbol?: boolean } = {}): { sql: string; sources: string[] } {
  if (!tradeDayUsable(scope, options)) {
    const from = tradeFrom(b, scope);
    return {
      sql: `SELECT ${perTrade(scope.timezone)} FROM ${from} WHERE ${tradeConditions(b, scope)}`,
      sources: [scope.symbols ? StoreTable.trades : StoreTable.tradeList],
    };
  }
  const dims = and(
    runsCondition(b, scope),
    scope.sectors ? b.in('sector', scope.sectors) : null,
    scope.trade.sides ? b.in('side', scope.trade.sides) : null,
  );
  const { branches, sources } = overTradeDays(b, scope, dims, { day: ROLLED, cut: perTrade(scope.timezone) });
  if (branches.length === 0) branches.push(`SELECT ${ROLLED} FROM ${StoreTable.tradeDay} WHERE FALSE`);
  return { sql: branches.join('\nUNION ALL\n'), sources };
}

/**
 * One row, one column: how many trades the scope matches. From trade_day (its whole days) and the
 * days the range cuts when trade_day answers the scope; otherwise a count over the trades.
 */
export function tradeCountSql(b: Binder, scope: Scope): { sql: string; sources: string[] } {
  if (!tradeDayUsable(scope)) {
    return { sql: `SELECT count(*) FROM ${tradeFrom(b, scope)} WHERE ${tradeConditions(b, scope)}`, sources: [scope.symbols ? StoreTable.trades : StoreTable.tradeList] };
  }
  const rows = tradeRows(b, scope);
  return { sql: `SELECT coalesce(sum(trades), 0)::BIGINT FROM (${rows.sql})`, sources: rows.sources };
}

/**
 * SELECT branches over the scope's range: its whole (calendar) days from trade_day (`day`'s
 * columns), each day it cuts from trade_list by close time (`cut`'s columns), all under `dims`.
 */
function overTradeDays(b: Binder, scope: Scope, dims: string, select: { day: string; cut: string }): { branches: string[]; sources: string[] } {
  const range = planTradeRange(scope.from, scope.to);
  const branches: string[] = [];
  const sources: string[] = [];
  if (range.full) {
    const { lo, hi } = range.full;
    branches.push(`SELECT ${select.day} FROM ${StoreTable.tradeDay} WHERE ${and(
      dims,
      lo !== null ? `day >= ${b.date(isoDay(lo))}` : null,
      hi !== null ? `day <= ${b.date(isoDay(hi))}` : null,
    )}`);
    sources.push(StoreTable.tradeDay);
  }
  for (const cut of range.cuts) {
    const window = `close_ts BETWEEN ${b.timestampUs(BigInt(cut.from))} AND ${b.timestampUs(BigInt(cut.to))}`;
    branches.push(`SELECT ${select.cut} FROM ${StoreTable.tradeList} WHERE ${and(dims, window)}`);
    if (!sources.includes(StoreTable.tradeList)) sources.push(StoreTable.tradeList);
  }
  return { branches, sources };
}

/**
 * The population a trade histogram bins over: the scope's runs, range and dimensions (sectors,
 * symbols) without its trade filters, which select within it. (Crossfilter's convention: bins
 * stay put while trade filters are toggled, so filtered histograms compare.)
 */
function withoutTradeFilters(scope: Scope): Scope {
  return { ...scope, trade: { ranges: [] } };
}

/**
 * One row (lo, hi): the bounds of `field` over the scope's population (withoutTradeFilters).
 * Whole days come from trade_day's min_/max_ columns, cut days from trade_list by close time;
 * under a symbols filter, the symbols' trades from the base table.
 */
export function tradeBoundsSql(b: Binder, scope: Scope, field: TradeBoundField): { sql: string; sources: string[] } {
  const population = withoutTradeFilters(scope);
  if (scope.symbols) {
    return {
      sql: `SELECT min(${field})::DOUBLE AS lo, max(${field})::DOUBLE AS hi FROM ${tradeFrom(b, population)} WHERE ${tradeConditions(b, population)}`,
      sources: [StoreTable.trades],
    };
  }
  const dims = and(runsCondition(b, scope), scope.sectors ? b.in('sector', scope.sectors) : null);
  const { branches, sources } = overTradeDays(b, scope, dims, {
    day: `min(min_${field}) AS lo, max(max_${field}) AS hi`,
    cut: `min(${field})::DOUBLE AS lo, max(${field})::DOUBLE AS hi`,
  });
  if (branches.length === 0) return { sql: 'SELECT NULL::DOUBLE AS lo, NULL::DOUBLE AS hi', sources: [StoreTable.tradeDay] };
  return { sql: `SELECT min(lo) AS lo, max(hi) AS hi FROM (${branches.join('\nUNION ALL\n')})`, sources };
}

/**
 * Trade statistics per run and side over the scope: run_id, side, trades, wins, pnl_n,
 * gross_profit, gross_loss, holding_sum, holding_n, bars_held_sum, bars_held_n. From tradeRows
 * when trade_day answers; otherwise straight from the trades, grouped by the sign of their pnl
 * first (plain sums over three groups per run and side cost half of the per-trade CASE columns).
 */
export function tradeStatsSql(b: Binder, scope: Scope): { sql: string; sources: string[] } {
  if (tradeDayUsable(scope)) {
    const rows = tradeRows(b, scope);
    return {
      sql: `SELECT run_id, side, sum(trades) AS trades, sum(wins) AS wins, sum(pnl_n) AS pnl_n,
          sum(gross_profit) AS gross_profit, sum(gross_loss) AS gross_loss, sum(holding_sum) AS holding_sum,
          sum(holding_n) AS holding_n, sum(bars_held_sum) AS bars_held_sum, sum(bars_held_n) AS bars_held_n
        FROM (${rows.sql}) GROUP BY run_id, side`,
      sources: rows.sources,
    };
  }
  return {
    sql: `SELECT run_id, side, sum(n) AS trades, sum(n) FILTER (WHERE sgn > 0) AS wins, sum(pnl_n) AS pnl_n,
        coalesce(sum(pnl) FILTER (WHERE sgn > 0), 0) AS gross_profit, coalesce(sum(pnl) FILTER (WHERE sgn < 0), 0) AS gross_loss,
        sum(holding_sum) AS holding_sum, sum(holding_n) AS holding_n, sum(bars_held_sum) AS bars_held_sum, sum(bars_held_n) AS bars_held_n
      FROM (
        SELECT run_id, side, sign(pnl) AS sgn, count(*) AS n, count(pnl) AS pnl_n, coalesce(sum(pnl), 0) AS pnl,
          coalesce(sum(holding_ms), 0) AS holding_sum, count(holding_ms) AS holding_n,
          coalesce(sum(bars_held), 0)::DOUBLE AS bars_held_sum, count(bars_held) AS bars_held_n
        FROM ${tradeFrom(b, scope)} WHERE ${tradeConditions(b, scope)} GROUP BY ALL
      ) GROUP BY run_id, side`,
    sources: [scope.symbols ? StoreTable.trades : StoreTable.tradeList],
  };
}
