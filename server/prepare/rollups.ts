// The rollups of the prepared store: derived tables that let the session answer a view from a few
// thousand rows instead of the base tables. Each is one CREATE TABLE ... AS over tables built
// before it (bars, symbols, runs, trades, and the rollups listed earlier). Adding one: define it
// here, document it in server/store/format.ts and bump STORE_FORMAT_VERSION there.
import { StoreTable } from '../store/format.js';

export interface RollupDefinition {
  table: string;
  /** The SELECT that fills the table; it is wrapped in CREATE TABLE <table> AS. */
  select: string;
}

export const ROLLUPS: readonly RollupDefinition[] = [
  {
    table: StoreTable.portfolioBar,
    select: `
      SELECT run_id, ts, sum(pnl) AS pnl, sum(fees) AS fees,
        sum(abs(position_value)) AS gross_exposure, sum(position_value) AS net_exposure,
        coalesce(sum(position_value) FILTER (WHERE position_value > 0), 0) AS long_exposure,
        coalesce(sum(position_value) FILTER (WHERE position_value < 0), 0) AS short_exposure,
        sum(abs(trade_qty)) AS trade_qty
      FROM ${StoreTable.bars} GROUP BY run_id, ts ORDER BY run_id, ts`,
  },
  {
    table: StoreTable.portfolioDay,
    select: `
      SELECT run_id, ts::DATE AS day, sum(pnl) AS pnl, sum(fees) AS fees,
        arg_max(gross_exposure, ts) AS gross_exposure, arg_max(net_exposure, ts) AS net_exposure,
        count(*) AS bars
      FROM ${StoreTable.portfolioBar} GROUP BY run_id, ts::DATE ORDER BY run_id, day`,
  },
  {
    table: StoreTable.symbolDay,
    select: `
      SELECT run_id, symbol, ts::DATE AS day, sum(pnl) AS pnl, sum(fees) AS fees,
        arg_max(position_value, ts) AS position_value, sum(abs(trade_qty)) AS trade_qty
      FROM ${StoreTable.bars} GROUP BY run_id, symbol, ts::DATE ORDER BY run_id, symbol, day`,
  },
  {
    table: StoreTable.sectorDay,
    select: `
      SELECT d.run_id, s.sector, d.day, sum(d.pnl) AS pnl, sum(d.fees) AS fees,
        sum(abs(d.position_value)) AS gross_exposure, sum(d.position_value) AS net_exposure
      FROM ${StoreTable.symbolDay} d JOIN ${StoreTable.symbols} s ON s.symbol = d.symbol
      GROUP BY d.run_id, s.sector, d.day ORDER BY d.run_id, s.sector, d.day`,
  },
];
