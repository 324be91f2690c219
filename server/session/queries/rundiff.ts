// Two runs compared trade by trade and P&L by P&L over the range and dimension filters: the
// trades only one of them made, the trades both made (matched one to one), and the difference of
// their equity curves attributed by sector and symbol. Trades are the scope's (closing in the
// range, trade filters applied); the P&L is every position's, from the day rollups for whole days
// and the bar tables for cut days (dayRows, the sources of `attribution`).
//
// Matching: a trade of a and a trade of b are candidates when they are of the same symbol and
// their holding periods [entry_ts, close_ts] (close_ts = exit_ts, or entry_ts for a trade still
// open) overlap, touching ends included. The candidates are taken greedily, largest overlap
// first, then the earlier entry of a, the earlier entry of b, the smaller trade ids; a pair is
// kept when neither trade is matched yet.
//
// Two look-ups, read as typed columns, bring the candidates in the greedy's order and both runs'
// trades by position (the trade's place in trade id order: its P&L and its id): tens of
// thousands of values, which as text cost more to write and parse than to compute (the text
// look-up was 70-120 ms on two busy sweep runs, the columns are 35-45). The session then
// matches, counts and sums (compareTrades), and picks the rows each trade part shows: its
// statements read only those trades, by id, instead of joining every trade of both runs against
// every matched pair again (on sweep, 18k pairs: four such joins were 100 ms) or numbering them
// again.
import { RUNDIFF_PARTS } from '../../../shared/constants.js';
import type { RundiffParams } from '../../../shared/messages.js';
import { StoreTable } from '../../store/format.js';
import type { Catalog } from '../store.js';
import { BadParamsError } from './errors.js';
import type { Columns } from '../compute.js';
import { sourceOf, type Planner, type Statement } from './plan.js';
import { hasTradeFilters, resolveScope, runsCondition, tradeConditions, type Scope } from './scope.js';
import { dayRows, dimCondition, levelFor } from './sources.js';
import { Binder, and, ms } from './sql.js';
import { tradeFrom } from './trade-source.js';

const DEFAULT_LIMIT = 1000;

/** The matched pairs: positions (tradeCtes' pos) of a's and of b's trades, pair by pair. */
type Pairs = { a: number[]; b: number[] };

/**
 * The one-to-one pass of the matching (see the header) over the candidate pairs in their order
 * (a's and b's positions, pair by pair): a pair is kept when neither trade is matched yet.
 */
export function matchTrades(candidatesA: Int32Array, candidatesB: Int32Array, sizeA: number, sizeB: number): Pairs {
  const usedA = new Uint8Array(sizeA);
  const usedB = new Uint8Array(sizeB);
  const kept: Pairs = { a: [], b: [] };
  for (let i = 0; i < candidatesA.length; i++) {
    const a = candidatesA[i]!;
    const b = candidatesB[i]!;
    if (usedA[a] || usedB[b]) continue;
    usedA[a] = 1;
    usedB[b] = 1;
    kept.a.push(a);
    kept.b.push(b);
  }
  return kept;
}

/**
 * A BIGINT column as three INTEGER columns of 21 bits (top, middle, low), which the columnar
 * reader takes (it reads no BIGINT) and tradeIdAt puts back together exactly, for any BIGINT.
 */
const ID_PARTS = `(trade_id >> 42)::INTEGER AS id_hi, ((trade_id >> 21) & 2097151)::INTEGER AS id_mid, (trade_id & 2097151)::INTEGER AS id_lo`;

/** The trade id of row `row` of a look-up with ID_PARTS, as decimal text. */
export function tradeIdAt(columns: Columns, row: number): string {
  const part = (name: string) => BigInt((columns.get(name) as Int32Array)[row]!);
  return ((part('id_hi') << 42n) | (part('id_mid') << 21n) | part('id_lo')).toString();
}

/** Both runs' P&L by position (run 0 = a, then run 1 = b, each in position order): NaN where a trade has none. */
export function splitByRun(run: Int32Array, pnl: Float64Array): [Float64Array, Float64Array] {
  let sizeA = 0;
  while (sizeA < run.length && run[sizeA] === 0) sizeA++;
  return [pnl.subarray(0, sizeA), pnl.subarray(sizeA)];
}

export function planRundiff(params: RundiffParams, catalog: Catalog): Planner {
  for (const [which, run] of [['a', params.a], ['b', params.b]] as const) {
    if (!catalog.runs.has(run)) throw new BadParamsError(`rundiff: unknown run ${which} ${JSON.stringify(run)}; this dataset has ${[...catalog.runs.keys()].slice(0, 20).join(', ')}${catalog.runs.size > 20 ? `, ... (${catalog.runs.size} in all)` : ''}`);
  }
  if (params.a === params.b) throw new BadParamsError(`rundiff: a and b are both ${JSON.stringify(params.a)}; compare two different runs`);
  const scope = resolveScope({ ...params, runs: [params.a, params.b] }, catalog);
  const limit = params.limit ?? DEFAULT_LIMIT;
  return async (_lookup, lookupColumns) => {
    if (!lookupColumns) throw new Error('rundiff reads its candidate pairs as columns: the planner needs a ColumnLookup');
    const c = new Binder();
    const ctes = tradeCtes(c, scope, params, true);
    const candidates = await lookupColumns(
      `WITH ${ctes}
      SELECT ta.pos AS a_pos, tb.pos AS b_pos
      FROM ta JOIN tb ON tb.symbol = ta.symbol AND ta.entry_ts <= tb.close_ts AND tb.entry_ts <= ta.close_ts
      ORDER BY epoch_ms(least(ta.close_ts, tb.close_ts)) - epoch_ms(greatest(ta.entry_ts, tb.entry_ts)) DESC, ta.entry_ts, tb.entry_ts, a_pos, b_pos`,
      c.params,
    );
    const trades = await lookupColumns(
      `WITH ${ctes} SELECT 0 AS run, pos, pnl::DOUBLE AS pnl, ${ID_PARTS} FROM ta UNION ALL SELECT 1, pos, pnl::DOUBLE, ${ID_PARTS} FROM tb ORDER BY run, pos`,
      c.params,
    );
    const [a, b] = splitByRun(trades.get('run') as Int32Array, trades.get('pnl') as Float64Array);
    const pairs = matchTrades(candidates.get('a_pos') as Int32Array, candidates.get('b_pos') as Int32Array, a.length, b.length);
    const compared = compareTrades(a, b, pairs, limit);
    const shown = shownIds(compared, (run, position) => tradeIdAt(trades, run === 'a' ? position : a.length + position));
    const statements: Statement[] = RUNDIFF_PARTS.map((part) => {
      const b = new Binder();
      return { sql: PART_SQL[part](b, scope, params, { compared, shown }, limit), params: b.params, part };
    });
    const tradeSource = scope.symbols ? StoreTable.trades : StoreTable.tradeList;
    return {
      statements,
      source: sourceOf(
        tradeSource,
        dayRows(new Binder(), levelFor(scope, 'sector'), scope).sources,
        scope.range.bounded ? dayRows(new Binder(), 'symbol', scope).sources : StoreTable.symbolTotal,
        StoreTable.symbols,
      ),
      notes: [
        `matched: ${pairs.a.length} pairs of trades of the same symbol whose holding periods overlap, one to one by largest overlap`,
        ...(hasTradeFilters(scope) ? ['trade filters select the trades compared; the P&L difference and its attribution are over every position of the two runs'] : []),
      ],
    };
  };
}

/** The trade ids of the rows each trade part shows. */
interface ShownIds {
  pairs: { a: string[]; b: string[] };
  onlyA: string[];
  onlyB: string[];
}

function shownIds(compared: ComparedTrades, idOf: (run: 'a' | 'b', position: number) => string): ShownIds {
  return {
    pairs: { a: compared.shownPairs.a.map((p) => idOf('a', p)), b: compared.shownPairs.b.map((p) => idOf('b', p)) },
    onlyA: compared.shownOnlyA.map((p) => idOf('a', p)),
    onlyB: compared.shownOnlyB.map((p) => idOf('b', p)),
  };
}

/** What the trade parts need: the summary's counts and sums, and the positions each part shows. */
export interface ComparedTrades {
  aTrades: number;
  bTrades: number;
  matched: number;
  onlyA: number;
  onlyB: number;
  /** Sums as SQL's sum: a pair or trade without a P&L adds nothing; 0 when nothing is summed. */
  matchedPnlDifference: number;
  onlyAPnl: number;
  onlyBPnl: number;
  /** The `limit` pairs with the largest P&L difference (missing last), ties by a's trade id. */
  shownPairs: Pairs;
  /** The `limit` unmatched trades of a and of b with the largest absolute P&L (missing last), ties by trade id. */
  shownOnlyA: number[];
  shownOnlyB: number[];
}

/**
 * Of `count` items (0 .. count - 1), the `limit` of largest magnitude, missing (NaN) last, then by
 * their tie key (a trade's position: positions are in trade id order, so this is the parts'
 * ORDER BY ..., trade_id). The limit-th largest magnitude is found by a numeric sort of the
 * magnitudes alone; only the items at or above it are sorted with the tie key.
 */
function largestFirst(count: number, magnitude: (item: number) => number, tie: (item: number) => number, limit: number): number[] {
  if (count === 0 || limit <= 0) return [];
  const keys = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const m = magnitude(i);
    keys[i] = Number.isNaN(m) ? Number.NEGATIVE_INFINITY : m;
  }
  const threshold = Float64Array.from(keys).sort()[Math.max(0, count - limit)]!;
  const picked: number[] = [];
  for (let i = 0; i < count; i++) if (keys[i]! >= threshold) picked.push(i);
  return picked.sort((x, y) => (keys[x] === keys[y] ? tie(x) - tie(y) : keys[y]! > keys[x]! ? 1 : -1)).slice(0, limit);
}

/** Summary counts and sums, and the rows each trade part shows, from both runs' P&L by position and the pairs. */
export function compareTrades(a: Float64Array, b: Float64Array, pairs: Pairs, limit: number): ComparedTrades {
  const matchedA = new Uint8Array(a.length);
  const matchedB = new Uint8Array(b.length);
  let matchedPnlDifference = 0;
  const difference = Float64Array.from(pairs.a, (pa, i) => {
    const pb = pairs.b[i]!;
    matchedA[pa] = 1;
    matchedB[pb] = 1;
    const d = a[pa]! - b[pb]!;
    if (!Number.isNaN(d)) matchedPnlDifference += d;
    return d;
  });
  const only = (pnl: Float64Array, matched: Uint8Array) => {
    const positions: number[] = [];
    let sum = 0;
    for (let p = 0; p < pnl.length; p++) {
      if (matched[p]) continue;
      positions.push(p);
      if (!Number.isNaN(pnl[p]!)) sum += pnl[p]!;
    }
    const shown = largestFirst(positions.length, (i) => Math.abs(pnl[positions[i]!]!), (i) => positions[i]!, limit);
    return { count: positions.length, sum, shown: shown.map((i) => positions[i]!) };
  };
  const onlyA = only(a, matchedA);
  const onlyB = only(b, matchedB);
  const shown = largestFirst(pairs.a.length, (i) => Math.abs(difference[i]!), (i) => pairs.a[i]!, limit);
  return {
    aTrades: a.length,
    bTrades: b.length,
    matched: pairs.a.length,
    onlyA: onlyA.count,
    onlyB: onlyB.count,
    matchedPnlDifference,
    onlyAPnl: onlyA.sum,
    onlyBPnl: onlyB.sum,
    shownPairs: { a: shown.map((i) => pairs.a[i]!), b: shown.map((i) => pairs.b[i]!) },
    shownOnlyA: onlyA.shown,
    shownOnlyB: onlyB.shown,
  };
}

/**
 * CTEs ta and tb: the scope's trades of run a and of run b (trade_id, symbol, sector, side,
 * entry_ts, exit_ts, close_ts, qty, pnl, ret), with `positions` pos first: the trade's 0-based
 * place by trade_id (the look-ups number them; the parts read their trades by id, no window).
 */
function tradeCtes(b: Binder, scope: Scope, params: RundiffParams, positions = false): string {
  const one = (run: string) => {
    const runScope: Scope = { ...scope, runs: [run], allRuns: false };
    return `SELECT ${positions ? '(row_number() OVER (ORDER BY trade_id) - 1)::INTEGER AS pos, ' : ''}trade_id, symbol, sector, side, entry_ts, exit_ts, close_ts, qty, pnl, ret
      FROM ${tradeFrom(b, runScope)} WHERE ${tradeConditions(b, runScope)}`;
  };
  return `ta AS (${one(params.a)}), tb AS (${one(params.b)})`;
}

/** Trade ids bound as one comma-separated list, unnested to BIGINTs. */
const idList = (b: Binder, ids: readonly string[]) => `unnest(string_split(${b.bind(ids.join(','))}, ',')::BIGINT[])`;

/** CTE pairs(a_id, b_id): the shown pairs' trade ids, bound as two lists. */
function pairsCte(b: Binder, pairs: ShownIds['pairs']): string {
  if (pairs.a.length === 0) return 'pairs AS (SELECT NULL::BIGINT AS a_id, NULL::BIGINT AS b_id WHERE FALSE)';
  return `pairs AS (SELECT ${idList(b, pairs.a)} AS a_id, ${idList(b, pairs.b)} AS b_id)`;
}

/** The trades of `table` (ta or tb) with the given ids, largest absolute P&L first (missing last), ties by id. */
function shownTrades(b: Binder, table: 'ta' | 'tb', ids: readonly string[], limit: number): string {
  const where = ids.length === 0 ? 'FALSE' : `trade_id IN (SELECT ${idList(b, ids)})`;
  return `SELECT ${TRADE_COLUMNS} FROM ${table} WHERE ${where} ORDER BY abs(pnl) DESC NULLS LAST, ${table}.trade_id LIMIT ${b.integer(limit)}`;
}

/** CTE by_symbol(symbol, sector, a_pnl, b_pnl): each symbol's P&L of a and b over the range. */
function bySymbolCte(b: Binder, scope: Scope, params: RundiffParams): string {
  return `by_symbol AS (${pnlByKey(b, scope, params, 'symbol')})`;
}

/**
 * CTE by_sector(sector, a_pnl, b_pnl, difference): each sector's P&L of a and b over the range,
 * from the sector rollups unless symbols are filtered (a tenth of the symbol rows' reading).
 */
function bySectorCte(b: Binder, scope: Scope, params: RundiffParams): string {
  return `by_sector AS (SELECT sector, a_pnl, b_pnl, a_pnl - b_pnl AS difference FROM (${pnlByKey(b, scope, params, 'sector')}))`;
}

function pnlByKey(b: Binder, scope: Scope, params: RundiffParams, key: 'symbol' | 'sector'): string {
  if (key === 'symbol' && !scope.range.bounded) {
    // Every day of the dataset: the per-symbol totals answer it (as breakdown's), instead of every
    // day row of both runs (two runs of a sweep: 5 ms against 26-30 ms).
    return `SELECT symbol, s.sector, coalesce(sum(t.pnl) FILTER (WHERE t.run_id = ${b.bind(params.a)}), 0) AS a_pnl,
        coalesce(sum(t.pnl) FILTER (WHERE t.run_id = ${b.bind(params.b)}), 0) AS b_pnl
      FROM ${StoreTable.symbolTotal} t JOIN ${StoreTable.symbols} s USING (symbol)
      WHERE ${and(runsCondition(b, scope), dimCondition(b, 'symbol', scope))}
      GROUP BY symbol, s.sector`;
  }
  const rows = dayRows(b, levelFor(scope, key), scope, { sector: true });
  const keys = key === 'symbol' ? 'symbol, sector' : 'sector';
  return `SELECT ${keys}, coalesce(sum(pnl) FILTER (WHERE run_id = ${b.bind(params.a)}), 0) AS a_pnl,
      coalesce(sum(pnl) FILTER (WHERE run_id = ${b.bind(params.b)}), 0) AS b_pnl
    FROM (${rows.sql}) GROUP BY ${keys}`;
}

const TRADE_COLUMNS = `trade_id::DOUBLE AS trade_id, symbol, sector, side, ${ms('entry_ts')} AS entry_ts, ${ms('exit_ts')} AS exit_ts, qty, pnl, ret`;

/** What the session worked out for the parts: the summary's figures and the rows shown. */
interface Worked {
  compared: ComparedTrades;
  shown: ShownIds;
}

const PART_SQL: Record<(typeof RUNDIFF_PARTS)[number], (b: Binder, scope: Scope, params: RundiffParams, worked: Worked, limit: number) => string> = {
  summary: (b, scope, params, { compared: t }) => `WITH ${bySectorCte(b, scope, params)},
      totals AS (SELECT coalesce(sum(a_pnl), 0) AS a_pnl, coalesce(sum(b_pnl), 0) AS b_pnl, coalesce(sum(difference), 0) AS pnl_difference FROM by_sector)
    SELECT ${b.bind(params.a)} AS run_a, ${b.bind(params.b)} AS run_b, totals.a_pnl, totals.b_pnl, totals.pnl_difference,
      ${b.integer(t.aTrades)}::INTEGER AS a_trades, ${b.integer(t.bTrades)}::INTEGER AS b_trades, ${b.integer(t.matched)}::INTEGER AS matched,
      ${b.integer(t.onlyA)}::INTEGER AS only_a, ${b.integer(t.onlyB)}::INTEGER AS only_b, ${b.number(t.matchedPnlDifference)} AS matched_pnl_difference,
      ${b.number(t.onlyAPnl)} AS only_a_pnl, ${b.number(t.onlyBPnl)} AS only_b_pnl
    FROM totals`,
  matched: (b, scope, params, { shown }, limit) => `WITH ${tradeCtes(b, scope, params)}, ${pairsCte(b, shown.pairs)}
    SELECT ta.symbol, ta.sector, ta.trade_id::DOUBLE AS a_trade_id, tb.trade_id::DOUBLE AS b_trade_id, ta.side AS a_side, tb.side AS b_side,
      ${ms('ta.entry_ts')} AS a_entry_ts, ${ms('ta.exit_ts')} AS a_exit_ts, ${ms('tb.entry_ts')} AS b_entry_ts, ${ms('tb.exit_ts')} AS b_exit_ts,
      ta.qty AS a_qty, tb.qty AS b_qty, ta.pnl AS a_pnl, tb.pnl AS b_pnl, ta.pnl - tb.pnl AS pnl_difference,
      (epoch_ms(least(ta.close_ts, tb.close_ts)) - epoch_ms(greatest(ta.entry_ts, tb.entry_ts)))::DOUBLE AS overlap_ms
    FROM pairs p JOIN ta ON ta.trade_id = p.a_id JOIN tb ON tb.trade_id = p.b_id
    ORDER BY abs(ta.pnl - tb.pnl) DESC NULLS LAST, ta.trade_id LIMIT ${b.integer(limit)}`,
  only_a: (b, scope, params, { shown }, limit) => `WITH ${tradeCtes(b, scope, params)} ${shownTrades(b, 'ta', shown.onlyA, limit)}`,
  only_b: (b, scope, params, { shown }, limit) => `WITH ${tradeCtes(b, scope, params)} ${shownTrades(b, 'tb', shown.onlyB, limit)}`,
  sectors: (b, scope, params, _t, limit) => `WITH ${bySectorCte(b, scope, params)}
    SELECT sector, a_pnl, b_pnl, difference FROM by_sector ORDER BY abs(difference) DESC, sector LIMIT ${b.integer(limit)}`,
  symbols: (b, scope, params, _t, limit) => `WITH ${bySymbolCte(b, scope, params)}
    SELECT symbol, sector, a_pnl, b_pnl, a_pnl - b_pnl AS difference
    FROM by_symbol ORDER BY abs(difference) DESC, symbol LIMIT ${b.integer(limit)}`,
};
