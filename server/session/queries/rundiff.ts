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
// matches, counts and sums (compareTrades), and picks the rows each trade part shows. A third
// look-up reads just those trades of both runs, by id, and a fourth the two runs' P&L by sector;
// the summary, trade and sector parts are computed from them, and only the symbols part (a
// window of thousands of symbols) is a statement of its own. (Each part read its own rows
// before: six reads, half of a cold run diff of two busy sweep runs.)
import { RUNDIFF_PARTS } from '../../../shared/constants.js';
import type { RundiffParams } from '../../../shared/messages.js';
import { StoreTable } from '../../store/format.js';
import type { Catalog } from '../store.js';
import { BadParamsError } from './errors.js';
import { numberColumn, textColumn, type Columns, type OutColumn } from '../compute.js';
import { assertColumnLookup, NOTHING_TO_READ, sourceOf, type Planner, type Statement } from './plan.js';
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
  return async (lookup, lookupColumns) => {
    assertColumnLookup(lookupColumns, 'rundiff reads its candidate pairs');
    const c = new Binder();
    const ctes = tradeCtes(c, scope, params);
    const k = new Binder();
    // Three independent look-ups, side by side (the runner lends each a connection when one is free).
    const [candidates, trades, sectorRows] = await Promise.all([
      lookupColumns(
        `WITH ${ctes}
        SELECT ta.pos AS a_pos, tb.pos AS b_pos
        FROM ta JOIN tb ON tb.symbol = ta.symbol AND ta.entry_ts <= tb.close_ts AND tb.entry_ts <= ta.close_ts
        ORDER BY epoch_ms(least(ta.close_ts, tb.close_ts)) - epoch_ms(greatest(ta.entry_ts, tb.entry_ts)) DESC, ta.entry_ts, tb.entry_ts, a_pos, b_pos`,
        c.params,
      ),
      lookupColumns(
        `WITH ${ctes} SELECT 0 AS run, pos, pnl::DOUBLE AS pnl, ${ID_PARTS} FROM ta UNION ALL SELECT 1, pos, pnl::DOUBLE, ${ID_PARTS} FROM tb ORDER BY run, pos`,
        c.params,
      ),
      lookup(`SELECT sector, a_pnl, b_pnl FROM (${pnlByKey(k, scope, params, 'sector')})`, k.params),
    ]);
    const [a, b] = splitByRun(trades.get('run') as Int32Array, trades.get('pnl') as Float64Array);
    const pairs = matchTrades(candidates.get('a_pos') as Int32Array, candidates.get('b_pos') as Int32Array, a.length, b.length);
    const compared = compareTrades(a, b, pairs, limit);
    const shown = shownIds(compared, (run, position) => tradeIdAt(trades, run === 'a' ? position : a.length + position));
    // The rows the trade parts show (at most 4 x limit trades) in one read, and the P&L by sector
    // that the summary and the sectors part share: each part's own SQL read both runs' trades or
    // sector rows again (six reads, about half of a cold run diff on sweep).
    const s = new Binder();
    const shownSql = shownTradesSql(s, scope, params, shown);
    const shownRows = rowsById(shownSql === null ? [] : await lookup(shownSql, s.params));
    const sectors = sectorRows.map(
      ([sector, aPnl, bPnl]): SectorPnl => ({ sector: sector === null ? null : String(sector), a: Number(aPnl), b: Number(bPnl) }),
    );
    const worked: Worked = { compared, shown, shownRows, sectors };
    const statements: Statement[] = RUNDIFF_PARTS.map((part) => {
      const computed = PART_COLUMNS[part];
      if (computed) return { sql: NOTHING_TO_READ, params: {}, part, compute: () => computed(params, worked, limit) };
      const b = new Binder();
      return { sql: SYMBOLS_SQL(b, scope, params, limit), params: b.params, part };
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
 * CTEs ta and tb: the scope's trades of run a and of run b (pos, trade_id, symbol, entry_ts,
 * close_ts, pnl): pos is the trade's 0-based place by trade_id, which both look-ups number alike.
 */
function tradeCtes(b: Binder, scope: Scope, params: RundiffParams): string {
  const one = (run: string) => {
    const runScope: Scope = { ...scope, runs: [run], allRuns: false };
    return `SELECT (row_number() OVER (ORDER BY trade_id) - 1)::INTEGER AS pos, trade_id, symbol, entry_ts, close_ts, pnl
      FROM ${tradeFrom(b, runScope)} WHERE ${tradeConditions(b, runScope)}`;
  };
  return `ta AS (${one(params.a)}), tb AS (${one(params.b)})`;
}

/** Trade ids bound as one comma-separated list, unnested to BIGINTs. */
const idList = (b: Binder, ids: readonly string[]) => `unnest(string_split(${b.bind(ids.join(','))}, ',')::BIGINT[])`;

/** A shown trade, as the trade parts show it: times in epoch ms, ids as DOUBLE (the parts' types). */
interface ShownTrade {
  tradeId: number;
  symbol: string;
  sector: string | null;
  side: string | null;
  entryMs: number;
  exitMs: number | null;
  closeMs: number;
  qty: number | null;
  pnl: number | null;
  ret: number | null;
}

/** The shown trades of each run by trade id (decimal text, as ShownIds has them). */
type ShownRows = { a: Map<string, ShownTrade>; b: Map<string, ShownTrade> };

/** The rows of the trades the parts show, of both runs, in one read: (is_a, id, then ShownTrade's fields); null when none is shown. */
function shownTradesSql(b: Binder, scope: Scope, params: RundiffParams, shown: ShownIds): string | null {
  const ofRun = (run: string, ids: readonly string[]) => (ids.length === 0 ? null : `(run_id = ${b.bind(run)} AND trade_id IN (SELECT ${idList(b, ids)}))`);
  const which = [ofRun(params.a, [...shown.pairs.a, ...shown.onlyA]), ofRun(params.b, [...shown.pairs.b, ...shown.onlyB])].filter((x) => x !== null);
  if (which.length === 0) return null;
  return `SELECT run_id = ${b.bind(params.a)} AS is_a, trade_id::VARCHAR AS id, trade_id::DOUBLE AS trade_id, symbol, sector, side,
      ${ms('entry_ts')} AS entry_ts, ${ms('exit_ts')} AS exit_ts, ${ms('close_ts')} AS close_ts, qty::DOUBLE AS qty, pnl::DOUBLE AS pnl, ret::DOUBLE AS ret
    FROM ${tradeFrom(b, scope)} WHERE ${tradeConditions(b, scope)} AND (${which.join(' OR ')})`;
}

function rowsById(rows: unknown[][]): ShownRows {
  const out: ShownRows = { a: new Map(), b: new Map() };
  const number = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  for (const [isA, id, tradeId, symbol, sector, side, entry, exit, close, qty, pnl, ret] of rows) {
    (isA ? out.a : out.b).set(String(id), {
      tradeId: Number(tradeId),
      symbol: String(symbol),
      sector: sector === null ? null : String(sector),
      side: side === null ? null : String(side),
      entryMs: Number(entry),
      exitMs: number(exit),
      closeMs: Number(close),
      qty: number(qty),
      pnl: number(pnl),
      ret: number(ret),
    });
  }
  return out;
}

/** The shown trade of `run` with this id; a trade the look-up did not bring back is a bug, said so. */
function shownTrade(rows: ShownRows, run: 'a' | 'b', id: string): ShownTrade {
  const trade = rows[run].get(id);
  if (!trade) throw new Error(`rundiff: trade ${id} of run ${run} was matched but not read back`);
  return trade;
}

/** A run's P&L in one sector over the range (the summary's and the sectors part's rows). */
interface SectorPnl {
  sector: string | null;
  a: number;
  b: number;
}

/** Text in DuckDB's order of VARCHAR (its bytes), nulls last. */
function byBytes(x: string | null, y: string | null): number {
  if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
  return Buffer.compare(Buffer.from(x), Buffer.from(y));
}

/** CTE by_symbol(symbol, sector, a_pnl, b_pnl): each symbol's P&L of a and b over the range. */
function bySymbolCte(b: Binder, scope: Scope, params: RundiffParams): string {
  return `by_symbol AS (${pnlByKey(b, scope, params, 'symbol')})`;
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

/** What the session worked out for the parts: the summary's figures, the rows shown, the P&L by sector. */
interface Worked {
  compared: ComparedTrades;
  shown: ShownIds;
  shownRows: ShownRows;
  sectors: SectorPnl[];
}

/** A run's shown trades as the only_a / only_b part: largest absolute P&L first (missing last), ties by id, as compareTrades picked them. */
function onlyColumns(trades: ShownTrade[]): OutColumn[] {
  return [
    numberColumn('trade_id', trades.map((t) => t.tradeId)),
    textColumn('symbol', trades.map((t) => t.symbol)),
    textColumn('sector', trades.map((t) => t.sector)),
    textColumn('side', trades.map((t) => t.side)),
    numberColumn('entry_ts', trades.map((t) => t.entryMs)),
    numberColumn('exit_ts', trades.map((t) => t.exitMs)),
    numberColumn('qty', trades.map((t) => t.qty)),
    numberColumn('pnl', trades.map((t) => t.pnl)),
    numberColumn('ret', trades.map((t) => t.ret)),
  ];
}

/** A - b, null when either is (SQL's arithmetic). */
const minus = (x: number | null, y: number | null) => (x === null || y === null ? null : x - y);

/** The parts computed in the session; the symbols part (thousands of symbols, windowed) is SQL. */
const PART_COLUMNS: Partial<Record<(typeof RUNDIFF_PARTS)[number], (params: RundiffParams, worked: Worked, limit: number) => OutColumn[]>> = {
  summary: (params, { compared: t, sectors }) => {
    let aPnl = 0;
    let bPnl = 0;
    let difference = 0;
    for (const s of sectors) {
      aPnl += s.a;
      bPnl += s.b;
      difference += s.a - s.b;
    }
    const count = (name: string, value: number): OutColumn => ({ name, kind: 'i32', values: Int32Array.of(value) });
    return [
      textColumn('run_a', [params.a]),
      textColumn('run_b', [params.b]),
      numberColumn('a_pnl', [aPnl]),
      numberColumn('b_pnl', [bPnl]),
      numberColumn('pnl_difference', [difference]),
      count('a_trades', t.aTrades),
      count('b_trades', t.bTrades),
      count('matched', t.matched),
      count('only_a', t.onlyA),
      count('only_b', t.onlyB),
      numberColumn('matched_pnl_difference', [t.matchedPnlDifference]),
      numberColumn('only_a_pnl', [t.onlyAPnl]),
      numberColumn('only_b_pnl', [t.onlyBPnl]),
    ];
  },
  matched: (_params, { shown, shownRows }) => {
    const pairs = shown.pairs.a.map((id, i) => [shownTrade(shownRows, 'a', id), shownTrade(shownRows, 'b', shown.pairs.b[i]!)] as const);
    return [
      textColumn('symbol', pairs.map(([a]) => a.symbol)),
      textColumn('sector', pairs.map(([a]) => a.sector)),
      numberColumn('a_trade_id', pairs.map(([a]) => a.tradeId)),
      numberColumn('b_trade_id', pairs.map(([, b]) => b.tradeId)),
      textColumn('a_side', pairs.map(([a]) => a.side)),
      textColumn('b_side', pairs.map(([, b]) => b.side)),
      numberColumn('a_entry_ts', pairs.map(([a]) => a.entryMs)),
      numberColumn('a_exit_ts', pairs.map(([a]) => a.exitMs)),
      numberColumn('b_entry_ts', pairs.map(([, b]) => b.entryMs)),
      numberColumn('b_exit_ts', pairs.map(([, b]) => b.exitMs)),
      numberColumn('a_qty', pairs.map(([a]) => a.qty)),
      numberColumn('b_qty', pairs.map(([, b]) => b.qty)),
      numberColumn('a_pnl', pairs.map(([a]) => a.pnl)),
      numberColumn('b_pnl', pairs.map(([, b]) => b.pnl)),
      numberColumn('pnl_difference', pairs.map(([a, b]) => minus(a.pnl, b.pnl))),
      numberColumn('overlap_ms', pairs.map(([a, b]) => Math.min(a.closeMs, b.closeMs) - Math.max(a.entryMs, b.entryMs))),
    ];
  },
  only_a: (_params, { shown, shownRows }) => onlyColumns(shown.onlyA.map((id) => shownTrade(shownRows, 'a', id))),
  only_b: (_params, { shown, shownRows }) => onlyColumns(shown.onlyB.map((id) => shownTrade(shownRows, 'b', id))),
  sectors: (_params, { sectors }, limit) => {
    const rows = sectors
      .map((s) => ({ ...s, difference: s.a - s.b }))
      .sort((x, y) => Math.abs(y.difference) - Math.abs(x.difference) || byBytes(x.sector, y.sector))
      .slice(0, limit);
    return [
      textColumn('sector', rows.map((r) => r.sector)),
      numberColumn('a_pnl', rows.map((r) => r.a)),
      numberColumn('b_pnl', rows.map((r) => r.b)),
      numberColumn('difference', rows.map((r) => r.difference)),
    ];
  },
};

/** The symbols part: each symbol's P&L of a and b over the range, the largest absolute difference first. */
const SYMBOLS_SQL = (b: Binder, scope: Scope, params: RundiffParams, limit: number) => `WITH ${bySymbolCte(b, scope, params)}
    SELECT symbol, sector, a_pnl, b_pnl, a_pnl - b_pnl AS difference
    FROM by_symbol ORDER BY abs(difference) DESC, symbol LIMIT ${b.integer(limit)}`;
