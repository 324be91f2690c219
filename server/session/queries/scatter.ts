// Every trade in scope as a point: its MAE, MFE, return and P&L (with what a click needs to open
// it), for the scatter traders use to place stops, in entry order. At most MAX_SCATTER_POINTS
// points: when more trades are in scope, a uniform sample of exactly that many, the matching trades
// with the smallest sample keys (trade_list.sample_key: a fixed pseudo-random number per trade,
// format.ts). Never from bars.
//
// The sample in three reads: the count of the matching trades (from trade_day and the days the
// range cuts, as every trade measure; the catalog knows it for every trade); the cap-th smallest
// key among them (a look-up: a top-k of one column, from a bound on the key that lets through
// about SAMPLE_MARGIN times the cap of them, since the keys are uniform, and without it when too
// few got through); then the points whose key is at most that, in entry order. Both reads of a
// sample are of whichever copy of trade_list holds them in the fewest rows (sampleSource): the
// range's rows of trade_list (run, close time order), the head of trade_sample (every trade in key
// order), or under a sectors filter the heads of those sectors in trade_sample_by_sector (sector,
// then key). In trade_list the sample of a range is spread over every block of every column the
// points need. On `large`, a year of one sector: the points' read 27-33 ms against 36-43, and
// 124-153 ms against 265-363 in a new session, whose blocks are not yet in memory; the whole
// scatter of a year in a new session 73-114 ms against 244-268. A sector's head (format 21):
// ten-month ranges of one sector after the session's first scatters, 24 a run, the two alternated
// (.cache/prof/scatter-variants.mjs): median 34-40 ms against 51-58 from trade_sample, the slowest
// 105-125 against 179-205. Numbering the matching trades in entry order instead, as until format
// 11, was a sort of all of them. A trade's key does not depend on the scope, so a point stays on the
// chart when a zoom keeps its trade in range: zooming in adds points, it does not redraw them.
// Under a symbols filter the trades come from the base trades table, sorted by symbol, whatever
// their number.
import { MAX_SCATTER_POINTS } from '../../../shared/constants.js';
import type { ScatterParams } from '../../../shared/messages.js';
import { StoreTable, tradeRankColumn, type StoreTableName } from '../../store/format.js';
import type { Catalog } from '../store.js';
import type { Planner } from './plan.js';
import { hasTradeFilters, resolveScope, tradeConditions, type Scope } from './scope.js';
import { Binder, ms } from './sql.js';
import { tradeCountSql, tradeFrom } from './trade-source.js';

/** The Arrow columns of a point (SCATTER_COLUMNS), over trade_list or tradeFrom's rows. */
const POINT_SELECT = `run_id, trade_id::DOUBLE AS trade_id, symbol, ${ms('entry_ts')} AS entry_ts, ${ms('exit_ts')} AS exit_ts,
  mae::DOUBLE AS mae, mfe::DOUBLE AS mfe, ret::DOUBLE AS ret, pnl::DOUBLE AS pnl`;

/** The key bound lets through this many times the cap of the matching trades, on average. */
const SAMPLE_MARGIN = 1.25;

/** 2^64: sample keys are uniform over [0, 2^64). */
const KEY_RANGE = 1n << 64n;

/** The share of the key range that lets through about cap * SAMPLE_MARGIN (+ 64) of n uniformly keyed trades, at most 1. */
function boundShare(cap: number, n: number): number {
  return Math.min(1, (cap * SAMPLE_MARGIN + 64) / n);
}

/** The key below which boundShare of the key range lies; null when that is every trade. */
export function sampleKeyBound(cap: number, n: number): bigint | null {
  const share = boundShare(cap, n);
  if (share >= 1) return null;
  // The share in millionths of a millionth: exact enough, in integers.
  const scale = 1_000_000_000_000n;
  return (KEY_RANGE * BigInt(Math.ceil(share * 1e12))) / scale;
}

/** True when the scope selects every trade of the dataset (the catalog knows their count). */
function everyTrade(scope: Scope): boolean {
  return scope.allRuns && scope.from === undefined && scope.to === undefined && !scope.sectors && !scope.symbols && !hasTradeFilters(scope);
}

/**
 * The copy of trade_list a sample of `n` trades in scope reads the fewest rows of, by the shares of
 * trade_list each would read:
 * - trade_list (run, close time order): the share of it the scope's runs and time range span;
 * - trade_sample (key order): the share of the key range the bound lets through;
 * - trade_sample_by_sector (sector, then key), under a sectors filter: that share of the selected
 *   sectors' rows, whose share of trade_list is taken as the scope's `n` over the share it spans
 *   (trades spread evenly over time; a side filter halves `n`, and the estimate with it).
 * A scope a little above the cap lets through most keys, which in trade_list are a few days'
 * blocks: a week of `large` (25k trades) took 300 ms from trade_sample. Within the cap there is no
 * sample: the trades of the range, from trade_list; under a symbols filter the base trades table.
 */
export function sampleSource(scope: Scope, catalog: Catalog, cap: number, n: number): StoreTableName {
  if (scope.symbols) return StoreTable.trades;
  if (n <= cap) return StoreTable.tradeList;
  const start = catalog.days[0]?.first;
  const end = catalog.days.at(-1)?.last;
  if (start === undefined || end === undefined || end <= start) return StoreTable.tradeList;
  const from = Math.max(start, scope.from ?? start);
  const to = Math.min(end, scope.to ?? end);
  const spanShare = (Math.max(0, to - from) / (end - start)) * (scope.runs.length / Math.max(1, catalog.runs.size));
  const keyShare = boundShare(cap, n);
  const reads: [StoreTableName, number][] = [
    [StoreTable.tradeList, spanShare],
    [StoreTable.tradeSample, keyShare],
  ];
  if (scope.sectors && spanShare > 0) {
    const sectorsShare = Math.min(1, n / (spanShare * catalog.tradeCount));
    reads.push([StoreTable.tradeSampleBySector, keyShare * sectorsShare]);
  }
  // The first of the smallest: trade_list when nothing reads less.
  return reads.reduce((best, next) => (next[1] < best[1] ? next : best))[0];
}

/** Plans a scatter of at most `cap` points (the protocol's cap; tests sample the tiny fixture with smaller ones). */
export function planScatter(params: ScatterParams, catalog: Catalog, cap: number = MAX_SCATTER_POINTS): Planner {
  if (!Number.isSafeInteger(cap) || cap < 1) throw new Error(`scatter cap must be a positive integer, not ${cap}`);
  const scope = resolveScope(params, catalog);
  // Under a symbols filter the base table has no ranks (nor a dataset in segments dataset-wide
  // ones): its explicit order is the rank's own.
  const ranked = catalog.tradeRanks && !scope.symbols;
  const order = ranked ? tradeRankColumn('entry_ts') : 'entry_ts ASC NULLS LAST, run_id ASC, trade_id ASC';
  return async (lookup) => {
    let n: number;
    if (everyTrade(scope)) {
      n = catalog.tradeCount;
    } else {
      const c = new Binder();
      const [[count]] = (await lookup(tradeCountSql(c, scope).sql, c.params)) as [[bigint]];
      n = Number(count);
    }
    const source = sampleSource(scope, catalog, cap, n);
    const from = (b: Binder) => (source === StoreTable.trades || source === StoreTable.tradeList ? tradeFrom(b, scope) : source);
    const b = new Binder();
    let sampled = '';
    if (n > cap) {
      // The cap is the server's own integer, written into the SQL (a constant LIMIT).
      const capKey = async (bound: bigint | null) => {
        const k = new Binder();
        const below = bound === null ? '' : ` AND sample_key < ${k.unsigned(bound)}`;
        const [[taken, last]] = (await lookup(
          `SELECT count(*), max(sample_key) FROM (SELECT sample_key FROM ${from(k)} WHERE ${tradeConditions(k, scope)}${below} ORDER BY sample_key LIMIT ${cap})`,
          k.params,
        )) as [[bigint, bigint | null]];
        return Number(taken) === cap ? last : null;
      };
      const bound = sampleKeyBound(cap, n);
      const last = (bound === null ? null : await capKey(bound)) ?? (await capKey(null));
      if (last === null) throw new Error(`scatter: fewer than ${cap} of the ${n} trades in scope were found for the sample`);
      sampled = ` AND sample_key <= ${b.unsigned(BigInt(last))}`;
    }
    // The ORDER BY also makes the answer fast to stream: a sorted result is handed over whole,
    // where a filtered scan streamed chunk by chunk took several times as long (65-145 ms).
    const sql = `SELECT ${POINT_SELECT} FROM ${from(b)} WHERE ${tradeConditions(b, scope)}${sampled} ORDER BY ${order}`;
    return {
      statements: [{ sql, params: b.params }],
      source,
      notes: n > cap ? [`a uniform sample: the ${cap} of ${n} trades with the smallest sample keys, in entry order`] : [],
      total: n,
    };
  };
}
