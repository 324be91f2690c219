// A window of the trade list: any sort order, any offset, the filters, and the total count, so a
// table can scroll through millions of trades asking only for the rows on screen.
//
// A plain ORDER BY ... LIMIT n OFFSET k must sort (or keep a heap of) k + n rows: fine at the top,
// a full sort of a million rows deep in the list. trade_list carries each trade's rank under every
// sortable column (rk_<column>), so a window costs three narrow reads instead:
//   1. a histogram of the matching trades' ranks in buckets of BUCKET (it also gives the total);
//   2. the ranks of the window's rows, from the one or two buckets that hold it (reads the rank
//      and filter columns only, sorts at most a few BUCKETs of integers);
//   3. the window's rows: the matching trades whose rank lies between the first and last of those.
// Reading every column of the ~BUCKET candidates in step 2 would touch a vector of every column
// for nearly every candidate (ranks are scattered over the table): step 3 touches only the rows
// shown. For pnl and ret, steps 2 and 3 read trade_list_by_<column>, a copy clustered by that
// rank, where a window is contiguous rows (step 1 stays on trade_list, whose close-time order
// prunes a time range). The histogram of step 1 is kept per (scope, sort column), so the next page of a scroll
// skips it. Without any filter, ranks are positions and steps 1 and 2 are not needed; under a
// symbols filter the few matching trades are read from the base trades table (sorted by symbol)
// and sorted directly. A dataset in segments (runs added to it, server/store/segments.ts) has no
// ranks over all its trades (catalog.tradeRanks false): its windows sort the matching trades.
import type { TradeSortColumn } from '../../../shared/constants.js';
import type { TradesParams } from '../../../shared/messages.js';
import { RANKED_TRADE_COLUMNS, StoreTable, tradeListSortedBy, tradeRankColumn, type RankedTradeColumn } from '../../store/format.js';
import type { Catalog } from '../store.js';
import { BadParamsError } from './errors.js';
import type { Planner } from './plan.js';
import { hasTradeFilters, resolveScope, tradeConditions } from './scope.js';
import { Binder, timeColumn, type TimeFormat } from './sql.js';
import { tradeFrom } from './trade-source.js';

export const BUCKET = 4096;
/** Rank histograms kept (per session process; the store is read-only, so they never go stale). */
const HISTOGRAM_CACHE_SIZE = 32;
const histogramsByStore = new WeakMap<Catalog, Map<string, { bucket: number; n: number }[]>>();

/** The store's ranked column for a sort column of the protocol (a unit test keeps every one ranked). */
function rankedColumn(column: TradeSortColumn): RankedTradeColumn {
  const ranked = RANKED_TRADE_COLUMNS.find((c) => c === column);
  if (!ranked) throw new BadParamsError(`trades cannot be sorted by ${JSON.stringify(column)}`);
  return ranked;
}

/**
 * The columns of a trade row (TRADE_COLUMNS), as expressions over trade_list: times as epoch ms
 * (the protocol's), or as they are stored (TIMESTAMP, UTC) for a downloaded file.
 */
export function tradeSelect(times: TimeFormat): string {
  return `run_id, trade_id::DOUBLE AS trade_id, symbol, sector, side,
  ${timeColumn('entry_ts', times)}, ${timeColumn('exit_ts', times)}, qty, entry_price, exit_price, fees, pnl, ret,
  bars_held::INTEGER AS bars_held, holding_ms, mae, mfe, tag`;
}

export const TRADE_SELECT = tradeSelect('epoch-ms');

/** The full order of a trade sort: the column, then run and trade id as tie-breakers (as the ranks). */
export function tradeOrder(column: TradeSortColumn, descending: boolean): string {
  return descending ? `${column} DESC NULLS FIRST, run_id DESC, trade_id DESC` : `${column} ASC NULLS LAST, run_id ASC, trade_id ASC`;
}

export function planTrades(params: TradesParams, catalog: Catalog): Planner {
  const scope = resolveScope(params, catalog);
  const column = rankedColumn(params.sort?.column ?? 'entry_ts');
  const rank = tradeRankColumn(column);
  // pnl and ret windows read a copy clustered by their rank: contiguous rows, not scattered ones.
  const table = tradeListSortedBy(column);
  const descending = params.sort?.descending ?? false;
  const offset = params.offset ?? 0;
  const limit = params.limit;
  if (catalog.tradeRanks && scope.allRuns && scope.from === undefined && scope.to === undefined && !scope.sectors && !scope.symbols && !hasTradeFilters(scope)) {
    // Every trade matches: ranks are positions, so the window is known without a look-up.
    const total = catalog.tradeCount;
    const b = new Binder();
    const first = descending ? total - offset - limit : offset;
    const last = descending ? total - 1 - offset : offset + limit - 1;
    const sql =
      offset >= total
        ? `SELECT ${TRADE_SELECT} FROM ${table} WHERE FALSE`
        : `SELECT ${TRADE_SELECT} FROM ${table}
           WHERE ${rank} BETWEEN ${b.integer(Math.max(0, first))} AND ${b.integer(Math.min(total - 1, last))}
           ORDER BY ${rank} ${descending ? 'DESC' : 'ASC'}`;
    return () => ({ statements: [{ sql, params: b.params }], source: table, notes: [], total });
  }
  if (scope.symbols || !catalog.tradeRanks) {
    // A few symbols: their trades are a narrow read of the base table, sorted directly. Without
    // dataset-wide ranks (segments), trade_list's matching trades are sorted the same way.
    return async (lookup) => {
      const c = new Binder();
      const [[count]] = (await lookup(`SELECT count(*) FROM ${tradeFrom(c, scope)} WHERE ${tradeConditions(c, scope)}`, c.params)) as [[bigint]];
      const b = new Binder();
      const sql = `SELECT ${TRADE_SELECT} FROM ${tradeFrom(b, scope)} WHERE ${tradeConditions(b, scope)}
        ORDER BY ${tradeOrder(column, descending)} LIMIT ${b.integer(limit)} OFFSET ${b.integer(offset)}`;
      return { statements: [{ sql, params: b.params }], source: scope.symbols ? StoreTable.trades : StoreTable.tradeList, notes: [], total: Number(count) };
    };
  }
  const cacheKey = JSON.stringify([scope.runs, scope.from, scope.to, scope.sectors, scope.trade, rank]);
  let histograms = histogramsByStore.get(catalog);
  if (!histograms) histogramsByStore.set(catalog, (histograms = new Map()));
  const cache = histograms;
  return async (lookup) => {
    let buckets = cache.get(cacheKey);
    if (buckets) {
      cache.delete(cacheKey);
    } else {
      const counting = new Binder();
      buckets = (await lookup(
        `SELECT (${rank} // ${BUCKET})::BIGINT AS bucket, count(*)::BIGINT AS n
         FROM ${StoreTable.tradeList} WHERE ${tradeConditions(counting, scope)} GROUP BY 1 ORDER BY 1`,
        counting.params,
      )).map(([bucket, n]) => ({ bucket: Number(bucket), n: Number(n) }));
    }
    cache.set(cacheKey, buckets);
    if (cache.size > HISTOGRAM_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    const total = buckets.reduce((sum, x) => sum + x.n, 0);
    const ordered = descending ? [...buckets].reverse() : buckets;
    const b = new Binder();
    let sql: string;
    if (offset >= total) {
      sql = `SELECT ${TRADE_SELECT} FROM ${table} WHERE FALSE`;
    } else {
      const last = Math.min(offset + limit, total) - 1;
      let before = 0;
      let first: { bucket: number; skip: number } | null = null;
      let end = ordered[0]!.bucket;
      for (const { bucket, n } of ordered) {
        if (first === null && before + n > offset) first = { bucket, skip: offset - before };
        if (before <= last) end = bucket;
        before += n;
        if (before > last) break;
      }
      const lo = Math.min(first!.bucket, end) * BUCKET;
      const hi = (Math.max(first!.bucket, end) + 1) * BUCKET - 1;
      const w = new Binder();
      const ranks = (await lookup(
        `SELECT ${rank} FROM ${table}
         WHERE ${rank} BETWEEN ${w.integer(lo)} AND ${w.integer(hi)} AND ${tradeConditions(w, scope)}
         ORDER BY ${rank} ${descending ? 'DESC' : 'ASC'} LIMIT ${w.integer(limit)} OFFSET ${w.integer(first!.skip)}`,
        w.params,
      )).map(([r]) => Number(r));
      const low = Math.min(...ranks);
      const high = Math.max(...ranks);
      sql = `SELECT ${TRADE_SELECT} FROM ${table}
        WHERE ${rank} BETWEEN ${b.integer(low)} AND ${b.integer(high)} AND ${tradeConditions(b, scope)}
        ORDER BY ${rank} ${descending ? 'DESC' : 'ASC'}`;
    }
    return { statements: [{ sql, params: b.params }], source: table, notes: [], total };
  };
}
