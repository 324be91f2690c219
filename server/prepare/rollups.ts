// The rollups of the prepared store: derived tables that let the session answer a view from a few
// thousand rows instead of the base tables. Each is one CREATE TABLE ... AS over tables built
// before it (bars, symbols, runs, trades, and the rollups listed earlier). Their columns and
// definitions are documented in server/store/format.ts. Adding one: define it here, document it
// there and bump STORE_FORMAT_VERSION.
//
// trade_day's hour is in the exchange time zone: `exchange_time(ts)` is the temporary macro the
// build defines before the rollups (exchange-zone.ts), over format.ts's exchangeTimeSql.
//
// Three rollups read the 100M-row bars table (sector_bar, symbol_day and bars_by_time, a narrow
// copy re-sorted by time); every other one is built from smaller tables.
//
// trade_list's ranks: one rank per ranked column is one sort of every trade. As window functions
// of one SELECT, each of those sorts carried every column of the trade list and every rank
// before it (18 stacked WINDOW operators: 11 s and 2.5GB on 520k trades). Here each rank is its
// own narrow sort (the row's position by the column, run_id, trade_id), turned back into the
// trade list's order by a sort of one integer, and the ranks are put beside the trade list by
// position (POSITIONAL JOIN): 3 s and 0.6GB on the same trades, the same table.
import type { DuckDBConnection } from '@duckdb/node-api';
import { BAR_MEASURES as M, CLUSTERED_TRADE_SORTS, POSITION_LOOKBACK_DAYS, RANKED_TRADE_COLUMNS, StoreTable, TRADE_BOUND_FIELDS, tradeListSortedBy, tradeRankColumn, tradeSampleKeySql } from '../store/format.js';
import { runTracked, type Progress } from './progress.js';

export interface RollupDefinition {
  table: string;
  /** The SELECT that fills the table; it is wrapped in CREATE TABLE <table> AS. */
  select: string;
  /** Temporary tables the SELECT reads, created in order before it and dropped after it. */
  staging?: readonly StagingTable[];
}

interface StagingTable {
  table: string;
  select: string;
  /** Staging tables only this one reads: dropped as soon as it is built. */
  consumes?: readonly string[];
}

/**
 * Every rollup with run_id has run_key beside it (format.ts says why): the run's number in the
 * runs table, joined from it here by the rollups the base tables feed, carried by the others.
 */
const RUN_KEY_JOIN = (alias: string) => `LEFT JOIN ${StoreTable.runs} r ON r.run_id = ${alias}.run_id`;

/** trade_list columns before the ranks, as expressions over trades t LEFT JOIN symbols s LEFT JOIN runs r. */
const TRADE_LIST_COLUMNS = `
  r.run_key, t.run_id, t.trade_id, t.symbol, coalesce(s.sector, 'Unknown') AS sector, t.side,
  t.entry_ts, t.exit_ts, coalesce(t.exit_ts, t.entry_ts) AS close_ts,
  t.qty, t.entry_price, t.exit_price, t.fees, t.pnl, t.ret, t.bars_held,
  (epoch_ms(t.exit_ts) - epoch_ms(t.entry_ts))::DOUBLE AS holding_ms,
  t.mae, t.mfe, t.tag, ${tradeSampleKeySql('t.run_id', 't.trade_id')} AS sample_key`;

/** trade_list without its ranks, in its order (run_id, close_ts, trade_id). */
const TRADE_LIST_BASE = 'temp.main._trade_list_base';
const orderTable = (c: string) => `temp.main._trade_order_${c}`;
const rankTable = (c: string) => `temp.main._trade_rank_${c}`;

/**
 * Per ranked column c, a one-column table `rk` in trade_list's row order: the trade's 0-based rank
 * by (c NULLS LAST, run_id, trade_id). A table written by CREATE TABLE AS ... ORDER BY holds its
 * rows in that order (the build keeps insertion order) and `rowid` is a row's position in a table
 * written once, with no row deleted: so the trade list's positions sorted by c give each trade's
 * rank as their rowid, and sorted back by position give the ranks in the trade list's order, for
 * the POSITIONAL JOIN. Two plain sorts: a row_number() window over the same sort took half again
 * as long.
 */
const TRADE_RANK_STAGING = RANKED_TRADE_COLUMNS.flatMap((c) => [
  { table: orderTable(c), select: `SELECT rowid AS i FROM ${TRADE_LIST_BASE} ORDER BY ${c} ASC NULLS LAST, run_id, trade_id` },
  { table: rankTable(c), select: `SELECT rowid::INTEGER AS rk FROM ${orderTable(c)} ORDER BY i`, consumes: [orderTable(c)] },
]);

const TRADE_RANKS = RANKED_TRADE_COLUMNS.map((c) => `r_${c}.rk AS ${tradeRankColumn(c)}`).join(',\n        ');

/** trade_day's min_<field> and max_<field>: a histogram's bins without reading every trade. */
const TRADE_DAY_BOUNDS = TRADE_BOUND_FIELDS.map((f) => `min(${f})::DOUBLE AS min_${f}, max(${f})::DOUBLE AS max_${f}`).join(',\n        ');

export const ROLLUPS: readonly RollupDefinition[] = [
  {
    table: StoreTable.sectorBar,
    select: `
      SELECT r.run_key, b.run_id, s.sector, b.ts, sum(${M.pnl}) AS pnl, sum(${M.fees}) AS fees,
        sum(${M.traded_value}) AS traded_value, sum(abs(b.trade_qty)) AS trade_qty,
        sum(${M.gross}) AS gross_exposure, sum(${M.net}) AS net_exposure,
        sum(${M.long}) AS long_exposure, sum(${M.short}) AS short_exposure
      FROM ${StoreTable.bars} b JOIN ${StoreTable.symbols} s ON s.symbol = b.symbol ${RUN_KEY_JOIN('b')}
      GROUP BY r.run_key, b.run_id, s.sector, b.ts ORDER BY b.run_id, s.sector, b.ts`,
  },
  {
    table: StoreTable.portfolioBar,
    select: `
      SELECT run_key, run_id, ts, sum(pnl) AS pnl, sum(fees) AS fees,
        sum(gross_exposure) AS gross_exposure, sum(net_exposure) AS net_exposure,
        sum(long_exposure) AS long_exposure, sum(short_exposure) AS short_exposure,
        sum(trade_qty) AS trade_qty, sum(traded_value) AS traded_value
      FROM ${StoreTable.sectorBar} GROUP BY run_key, run_id, ts ORDER BY run_id, ts`,
  },
  {
    table: StoreTable.symbolDay,
    select: `
      SELECT r.run_key, b.run_id, b.symbol, b.ts::DATE AS day, sum(${M.pnl}) AS pnl, sum(${M.fees}) AS fees,
        arg_max(b.position_value, b.ts) AS position_value, sum(abs(b.trade_qty)) AS trade_qty,
        sum(${M.traded_value}) AS traded_value, arg_max(b.price, b.ts) AS close,
        sum(${M.gross}) AS gross_sum, sum(${M.net}) AS net_sum,
        sum(${M.long}) AS long_sum, sum(${M.short}) AS short_sum, count(*) AS bars
      FROM ${StoreTable.bars} b ${RUN_KEY_JOIN('b')} GROUP BY r.run_key, b.run_id, b.symbol, b.ts::DATE ORDER BY b.run_id, b.symbol, day`,
  },
  {
    table: StoreTable.symbolDayByDay,
    select: `SELECT * FROM ${StoreTable.symbolDay} ORDER BY run_id, day, symbol`,
  },
  {
    table: StoreTable.sectorDay,
    select: `
      SELECT d.run_key, d.run_id, s.sector, d.day, sum(d.pnl) AS pnl, sum(d.fees) AS fees,
        sum(abs(d.position_value)) AS gross_exposure, sum(d.position_value) AS net_exposure,
        sum(d.traded_value) AS traded_value, sum(d.gross_sum) AS gross_sum, sum(d.net_sum) AS net_sum,
        sum(d.long_sum) AS long_sum, sum(d.short_sum) AS short_sum
      FROM ${StoreTable.symbolDay} d JOIN ${StoreTable.symbols} s ON s.symbol = d.symbol
      GROUP BY d.run_key, d.run_id, s.sector, d.day ORDER BY d.run_id, s.sector, d.day`,
  },
  {
    table: StoreTable.portfolioDay,
    select: `
      SELECT run_key, run_id, ts::DATE AS day, sum(pnl) AS pnl, sum(fees) AS fees,
        arg_max(gross_exposure, ts) AS gross_exposure, arg_max(net_exposure, ts) AS net_exposure,
        count(*) AS bars, sum(traded_value) AS traded_value,
        sum(gross_exposure) AS gross_sum, sum(net_exposure) AS net_sum,
        sum(long_exposure) AS long_sum, sum(short_exposure) AS short_sum,
        min(ts) AS first_ts, max(ts) AS last_ts
      FROM ${StoreTable.portfolioBar} GROUP BY run_key, run_id, ts::DATE ORDER BY run_id, day`,
  },
  {
    // The day-end rows a position look-up must reach behind its recent window (attribution's
    // positions at a range's start and end): a symbol's row that the next row of it follows by
    // more than POSITION_LOOKBACK_DAYS trading days, or that nothing follows.
    table: StoreTable.symbolDayGaps,
    select: `
      WITH trading_days AS (
        SELECT day, row_number() OVER (ORDER BY day) AS i FROM (SELECT DISTINCT day FROM ${StoreTable.portfolioDay})
      ), rows AS (
        SELECT d.run_key, d.run_id, d.symbol, d.day, d.position_value, d.close, t.i,
          lead(d.day) OVER w AS next_day, lead(t.i) OVER w AS next_i
        FROM ${StoreTable.symbolDay} d JOIN trading_days t ON t.day = d.day
        WINDOW w AS (PARTITION BY d.run_id, d.symbol ORDER BY d.day)
      )
      SELECT run_key, run_id, symbol, day, next_day, position_value, close FROM rows
      WHERE next_i IS NULL OR next_i - i > ${POSITION_LOOKBACK_DAYS}
      ORDER BY run_id, day, symbol`,
  },
  {
    table: StoreTable.symbolTotal,
    select: `
      WITH bar_totals AS (
        SELECT run_id, symbol, sum(pnl) AS pnl, sum(fees) AS fees, sum(traded_value) AS traded_value,
          sum(gross_sum) AS gross_sum
        FROM ${StoreTable.symbolDay} GROUP BY run_id, symbol
      ), trade_counts AS (
        SELECT run_id, symbol, count(*) AS trades, count(*) FILTER (WHERE pnl > 0) AS winning_trades
        FROM ${StoreTable.trades} GROUP BY run_id, symbol
      )
      SELECT r.run_key, t.* FROM (
        SELECT run_id, symbol, coalesce(bar_totals.pnl, 0) AS pnl, coalesce(bar_totals.fees, 0) AS fees,
          coalesce(bar_totals.traded_value, 0) AS traded_value, coalesce(bar_totals.gross_sum, 0) AS gross_sum,
          coalesce(trade_counts.trades, 0) AS trades, coalesce(trade_counts.winning_trades, 0) AS winning_trades
        FROM bar_totals FULL OUTER JOIN trade_counts USING (run_id, symbol)
      ) t ${RUN_KEY_JOIN('t')} ORDER BY t.run_id, t.symbol`,
  },
  {
    table: StoreTable.marketDay,
    select: `
      WITH closes AS (
        SELECT symbol, day, arg_min(close, run_id) AS close FROM ${StoreTable.symbolDay} GROUP BY symbol, day
      ), symbol_returns AS (
        SELECT day, close / nullif(lag(close) OVER (PARTITION BY symbol ORDER BY day), 0) - 1 AS ret FROM closes
      )
      SELECT day, avg(ret) AS ret, count(ret) AS symbols FROM symbol_returns GROUP BY day ORDER BY day`,
  },
  {
    table: StoreTable.tradeList,
    staging: [
      {
        table: TRADE_LIST_BASE,
        select: `
      SELECT ${TRADE_LIST_COLUMNS} FROM ${StoreTable.trades} t LEFT JOIN ${StoreTable.symbols} s ON s.symbol = t.symbol ${RUN_KEY_JOIN('t')}
      ORDER BY run_id, close_ts, trade_id`,
      },
      ...TRADE_RANK_STAGING,
    ],
    select: `
      SELECT b.*,
        ${TRADE_RANKS}
      FROM ${TRADE_LIST_BASE} b ${RANKED_TRADE_COLUMNS.map((c) => `POSITIONAL JOIN ${rankTable(c)} r_${c}`).join(' ')}`,
  },
  {
    table: StoreTable.tradeSample,
    select: `SELECT * FROM ${StoreTable.tradeList} ORDER BY sample_key, run_id, trade_id`,
  },
  {
    table: StoreTable.tradeSampleBySector,
    select: `SELECT * FROM ${StoreTable.tradeList} ORDER BY sector, sample_key, run_id, trade_id`,
  },
  ...CLUSTERED_TRADE_SORTS.map((column) => ({
    table: tradeListSortedBy(column),
    select: `SELECT * FROM ${StoreTable.tradeList} ORDER BY ${tradeRankColumn(column)}`,
  })),
  {
    table: StoreTable.tradeDay,
    select: `
      SELECT run_key, run_id, close_ts::DATE AS day, hour(exchange_time(close_ts))::TINYINT AS hour, sector, side,
        count(*) AS trades, count(*) FILTER (WHERE pnl > 0) AS wins, count(pnl) AS pnl_n,
        coalesce(sum(pnl) FILTER (WHERE pnl > 0), 0) AS gross_profit,
        coalesce(sum(pnl) FILTER (WHERE pnl < 0), 0) AS gross_loss,
        coalesce(sum(holding_ms), 0) AS holding_sum, count(holding_ms) AS holding_n,
        coalesce(sum(bars_held), 0)::DOUBLE AS bars_held_sum, count(bars_held) AS bars_held_n,
        ${TRADE_DAY_BOUNDS}
      FROM ${StoreTable.tradeList}
      GROUP BY run_key, run_id, close_ts::DATE, hour(exchange_time(close_ts)), sector, side
      ORDER BY run_id, day, hour, sector, side`,
  },
  {
    table: StoreTable.barsByTime,
    select: `
      SELECT r.run_key, b.run_id, b.ts, b.symbol, ${M.pnl} AS pnl, ${M.fees} AS fees, ${M.traded_value} AS traded_value, b.position_value, b.price
      FROM ${StoreTable.bars} b ${RUN_KEY_JOIN('b')} ORDER BY b.run_id, b.ts, b.symbol`,
  },
  {
    table: StoreTable.tradeTags,
    select: `SELECT tag, count(*) AS trades FROM ${StoreTable.trades} WHERE tag IS NOT NULL GROUP BY tag ORDER BY tag`,
  },
];

/** Builds one rollup table: its staging tables, the table, then drops the staging. */
export async function buildRollup(con: DuckDBConnection, rollup: RollupDefinition, progress: Progress): Promise<void> {
  const staging = rollup.staging ?? [];
  const consumed = new Set(staging.flatMap((t) => t.consumes ?? []));
  // Progress counts the statements; DuckDB's own progress moves it within the last one.
  for (const [i, t] of staging.entries()) {
    await con.run(`CREATE TEMP TABLE ${t.table} AS ${t.select}`);
    for (const used of t.consumes ?? []) await con.run(`DROP TABLE ${used}`);
    progress.update((0.9 * (i + 1)) / (staging.length + 1));
  }
  await runTracked(con, `CREATE TABLE ${rollup.table} AS ${rollup.select}`, progress);
  for (const t of [...staging].reverse()) if (!consumed.has(t.table)) await con.run(`DROP TABLE ${t.table}`);
}
