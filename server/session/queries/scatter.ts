// Every trade in scope as a point: its MAE, MFE, return and P&L (with what a click needs to open
// it), for the scatter traders use to place stops. At most MAX_SCATTER_POINTS points: when more
// trades are in scope, a systematic sample of exactly that many, evenly spaced in entry order
// (the i-th of the n matching trades is kept when (i * cap) mod n < cap, which keeps exactly cap of
// them: i = ceil(k * n / cap) for k = 0 .. cap - 1). Read from trade_list (or, under a symbols
// filter, the base trades table), never from bars.
//
// Entry order is trade_list's rk_entry_ts: (entry_ts NULLS LAST, run_id, trade_id), a single
// BIGINT to sort by. When the scope is every trade, those ranks are the positions 0 .. n - 1
// themselves, so the sample is a filter on the rank without any sort. A dataset in segments
// (catalog.tradeRanks false: server/store/segments.ts) has no such ranks: its trades are numbered
// by the rank's own order, as under a symbols filter.
import { MAX_SCATTER_POINTS } from '../../../shared/constants.js';
import type { ScatterParams } from '../../../shared/messages.js';
import { StoreTable, tradeRankColumn } from '../../store/format.js';
import type { Catalog } from '../store.js';
import type { Planner } from './plan.js';
import { hasTradeFilters, resolveScope, tradeConditions, type Scope } from './scope.js';
import { Binder, ms } from './sql.js';
import { tradeFrom } from './trade-source.js';

/** The Arrow columns of a point (SCATTER_COLUMNS), over trade_list or tradeFrom's rows. */
const POINT_SELECT = `run_id, trade_id::DOUBLE AS trade_id, symbol, ${ms('entry_ts')} AS entry_ts, ${ms('exit_ts')} AS exit_ts,
  mae::DOUBLE AS mae, mfe::DOUBLE AS mfe, ret::DOUBLE AS ret, pnl::DOUBLE AS pnl`;

/** True when the scope selects every trade of the dataset (ranks are then positions). */
function everyTrade(scope: Scope): boolean {
  return scope.allRuns && scope.from === undefined && scope.to === undefined && !scope.sectors && !scope.symbols && !hasTradeFilters(scope);
}

/** Plans a scatter of at most `cap` points (the protocol's cap; tests sample the tiny fixture with smaller ones). */
export function planScatter(params: ScatterParams, catalog: Catalog, cap: number = MAX_SCATTER_POINTS): Planner {
  const scope = resolveScope(params, catalog);
  // Under a symbols filter the base table has no ranks (nor a dataset in segments dataset-wide
  // ones): its explicit order is the rank's own.
  const ranked = catalog.tradeRanks && !scope.symbols;
  const order = ranked ? tradeRankColumn('entry_ts') : 'entry_ts ASC NULLS LAST, run_id ASC, trade_id ASC';
  const source = scope.symbols ? StoreTable.trades : StoreTable.tradeList;
  return async (lookup) => {
    let n: number;
    if (everyTrade(scope)) {
      n = catalog.tradeCount;
    } else {
      const c = new Binder();
      const [[count]] = (await lookup(`SELECT count(*) FROM ${tradeFrom(c, scope)} WHERE ${tradeConditions(c, scope)}`, c.params)) as [[bigint]];
      n = Number(count);
    }
    const b = new Binder();
    let sql: string;
    if (n <= cap) {
      sql = `SELECT ${POINT_SELECT} FROM ${tradeFrom(b, scope)} WHERE ${tradeConditions(b, scope)} ORDER BY ${order}`;
    } else if (everyTrade(scope) && catalog.tradeRanks) {
      const rank = tradeRankColumn('entry_ts');
      sql = `SELECT ${POINT_SELECT} FROM ${StoreTable.tradeList}
        WHERE (${rank} * ${b.integer(cap)}) % ${b.integer(n)} < ${b.integer(cap)} ORDER BY ${rank}`;
    } else if (ranked) {
      // Number the matching trades by their rank alone (a one-column sort), keep the sampled ranks,
      // then read those trades' columns: a rank names one trade, so no condition is needed again.
      const rank = tradeRankColumn('entry_ts');
      sql = `WITH numbered AS (
          SELECT ${rank} AS rk, row_number() OVER (ORDER BY ${rank}) - 1 AS i FROM ${StoreTable.tradeList} WHERE ${tradeConditions(b, scope)}
        ),
        sampled AS (SELECT rk FROM numbered WHERE (i * ${b.integer(cap)}) % ${b.integer(n)} < ${b.integer(cap)})
        SELECT ${POINT_SELECT} FROM ${StoreTable.tradeList} WHERE ${rank} IN (SELECT rk FROM sampled) ORDER BY ${rank}`;
    } else {
      // A symbols filter's trades come from the base table, which has no ranks (a dataset in
      // segments has none over all its trades): numbered by the rank's own order, carrying the
      // point's columns (a few symbols: few rows).
      sql = `SELECT ${POINT_SELECT} FROM (
          SELECT run_id, trade_id, symbol, entry_ts, exit_ts, mae, mfe, ret, pnl, row_number() OVER (ORDER BY ${order}) - 1 AS i
          FROM ${tradeFrom(b, scope)} WHERE ${tradeConditions(b, scope)}
        ) WHERE (i * ${b.integer(cap)}) % ${b.integer(n)} < ${b.integer(cap)} ORDER BY i`;
    }
    return {
      statements: [{ sql, params: b.params }],
      source,
      notes: n > cap ? [`a uniform sample: ${cap} of ${n} trades, evenly spaced in entry order`] : [],
      total: n,
    };
  };
}
