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
// kept when neither trade is matched yet. The candidates are one narrow look-up; the greedy pass
// runs in the session, and the pairs it keeps are bound back as two lists of trade ids.
import { RUNDIFF_PARTS } from '../../../shared/constants.js';
import type { RundiffParams } from '../../../shared/messages.js';
import { StoreTable } from '../../store/format.js';
import type { Catalog } from '../store.js';
import { BadParamsError } from './errors.js';
import { sourceOf, type Planner, type Statement } from './plan.js';
import { hasTradeFilters, resolveScope, tradeConditions, type Scope } from './scope.js';
import { dayRows, levelFor } from './sources.js';
import { Binder, ms } from './sql.js';
import { tradeFrom } from './trade-source.js';

const DEFAULT_LIMIT = 1000;

/** The matched pairs: trade ids of a and of b, pair by pair. */
type Pairs = { a: string[]; b: string[] };

/**
 * The one-to-one pass of the matching (see the header) over the candidate pairs [a id, b id] in
 * their order: a pair is kept when neither trade is matched yet. Trade ids are their decimal
 * text (exact for any BIGINT). Returns the kept pairs' ids of a and of b.
 */
export function matchTrades(candidates: readonly (readonly [string, string])[]): Pairs {
  const usedA = new Set<string>();
  const usedB = new Set<string>();
  const kept: Pairs = { a: [], b: [] };
  for (const [a, b] of candidates) {
    if (usedA.has(a) || usedB.has(b)) continue;
    usedA.add(a);
    usedB.add(b);
    kept.a.push(a);
    kept.b.push(b);
  }
  return kept;
}

export function planRundiff(params: RundiffParams, catalog: Catalog): Planner {
  for (const [which, run] of [['a', params.a], ['b', params.b]] as const) {
    if (!catalog.runs.has(run)) throw new BadParamsError(`rundiff: unknown run ${which} ${JSON.stringify(run)}; this dataset has ${[...catalog.runs.keys()].slice(0, 20).join(', ')}${catalog.runs.size > 20 ? `, ... (${catalog.runs.size} in all)` : ''}`);
  }
  if (params.a === params.b) throw new BadParamsError(`rundiff: a and b are both ${JSON.stringify(params.a)}; compare two different runs`);
  const scope = resolveScope({ ...params, runs: [params.a, params.b] }, catalog);
  const limit = params.limit ?? DEFAULT_LIMIT;
  return async (lookup) => {
    // The candidates in the greedy's order as one text of "a b" id pairs: tens of thousands of
    // pairs cross as one string instead of as row objects (a tenth of the time).
    const c = new Binder();
    const candidatesSql = `WITH ${tradeCtes(c, scope, params)},
      candidates AS (
        SELECT ta.trade_id AS a_id, tb.trade_id AS b_id, epoch_ms(least(ta.close_ts, tb.close_ts)) - epoch_ms(greatest(ta.entry_ts, tb.entry_ts)) AS overlap,
          ta.entry_ts AS a_entry, tb.entry_ts AS b_entry
        FROM ta JOIN tb ON tb.symbol = ta.symbol AND ta.entry_ts <= tb.close_ts AND tb.entry_ts <= ta.close_ts)
      SELECT coalesce(string_agg(a_id::VARCHAR || ' ' || b_id::VARCHAR, ',' ORDER BY overlap DESC, a_entry, b_entry, a_id, b_id), '') FROM candidates`;
    const [[text]] = (await lookup(candidatesSql, c.params)) as [[string]];
    const pairs = matchTrades(text === '' ? [] : text.split(',').map((pair) => pair.split(' ') as [string, string]));
    const statements: Statement[] = RUNDIFF_PARTS.map((part) => {
      const b = new Binder();
      return { sql: PART_SQL[part](b, scope, params, pairs, limit), params: b.params, part };
    });
    const tradeSource = scope.symbols ? StoreTable.trades : StoreTable.tradeList;
    return {
      statements,
      source: sourceOf(tradeSource, dayRows(new Binder(), levelFor(scope, 'sector'), scope).sources, dayRows(new Binder(), 'symbol', scope).sources, StoreTable.symbols),
      notes: [
        `matched: ${pairs.a.length} pairs of trades of the same symbol whose holding periods overlap, one to one by largest overlap`,
        ...(hasTradeFilters(scope) ? ['trade filters select the trades compared; the P&L difference and its attribution are over every position of the two runs'] : []),
      ],
    };
  };
}

/** CTEs ta and tb: the scope's trades of run a and of run b (trade_id, symbol, sector, side, entry_ts, exit_ts, close_ts, qty, pnl, ret). */
function tradeCtes(b: Binder, scope: Scope, params: RundiffParams): string {
  const one = (run: string) => {
    const runScope: Scope = { ...scope, runs: [run], allRuns: false };
    return `SELECT trade_id, symbol, sector, side, entry_ts, exit_ts, close_ts, qty, pnl, ret
      FROM ${tradeFrom(b, runScope)} WHERE ${tradeConditions(b, runScope)}`;
  };
  return `ta AS (${one(params.a)}), tb AS (${one(params.b)})`;
}

/** CTE pairs(a_id, b_id): the matched trade ids, bound as two comma-separated lists. */
function pairsCte(b: Binder, pairs: Pairs): string {
  if (pairs.a.length === 0) return 'pairs AS (SELECT NULL::BIGINT AS a_id, NULL::BIGINT AS b_id WHERE FALSE)';
  const list = (ids: string[]) => `unnest(string_split(${b.bind(ids.join(','))}, ',')::BIGINT[])`;
  return `pairs AS (SELECT ${list(pairs.a)} AS a_id, ${list(pairs.b)} AS b_id)`;
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
  const rows = dayRows(b, levelFor(scope, key), scope, { sector: true });
  const keys = key === 'symbol' ? 'symbol, sector' : 'sector';
  return `SELECT ${keys}, coalesce(sum(pnl) FILTER (WHERE run_id = ${b.bind(params.a)}), 0) AS a_pnl,
      coalesce(sum(pnl) FILTER (WHERE run_id = ${b.bind(params.b)}), 0) AS b_pnl
    FROM (${rows.sql}) GROUP BY ${keys}`;
}

const TRADE_COLUMNS = `trade_id::DOUBLE AS trade_id, symbol, sector, side, ${ms('entry_ts')} AS entry_ts, ${ms('exit_ts')} AS exit_ts, qty, pnl, ret`;

const PART_SQL: Record<(typeof RUNDIFF_PARTS)[number], (b: Binder, scope: Scope, params: RundiffParams, pairs: Pairs, limit: number) => string> = {
  summary: (b, scope, params, pairs) => `WITH ${tradeCtes(b, scope, params)}, ${pairsCte(b, pairs)}, ${bySectorCte(b, scope, params)},
      totals AS (SELECT coalesce(sum(a_pnl), 0) AS a_pnl, coalesce(sum(b_pnl), 0) AS b_pnl, coalesce(sum(difference), 0) AS pnl_difference FROM by_sector),
      matched AS (SELECT count(*)::INTEGER AS matched, coalesce(sum(ta.pnl - tb.pnl), 0) AS matched_pnl_difference
        FROM pairs p JOIN ta ON ta.trade_id = p.a_id JOIN tb ON tb.trade_id = p.b_id),
      side_a AS (SELECT count(*)::INTEGER AS a_trades, count(*) FILTER (WHERE p.a_id IS NULL)::INTEGER AS only_a,
          coalesce(sum(ta.pnl) FILTER (WHERE p.a_id IS NULL), 0) AS only_a_pnl
        FROM ta LEFT JOIN pairs p ON p.a_id = ta.trade_id),
      side_b AS (SELECT count(*)::INTEGER AS b_trades, count(*) FILTER (WHERE p.b_id IS NULL)::INTEGER AS only_b,
          coalesce(sum(tb.pnl) FILTER (WHERE p.b_id IS NULL), 0) AS only_b_pnl
        FROM tb LEFT JOIN pairs p ON p.b_id = tb.trade_id)
    SELECT ${b.bind(params.a)} AS run_a, ${b.bind(params.b)} AS run_b, totals.a_pnl, totals.b_pnl, totals.pnl_difference,
      side_a.a_trades, side_b.b_trades, matched.matched, side_a.only_a, side_b.only_b, matched.matched_pnl_difference,
      side_a.only_a_pnl, side_b.only_b_pnl
    FROM totals, matched, side_a, side_b`,
  matched: (b, scope, params, pairs, limit) => `WITH ${tradeCtes(b, scope, params)}, ${pairsCte(b, pairs)}
    SELECT ta.symbol, ta.sector, ta.trade_id::DOUBLE AS a_trade_id, tb.trade_id::DOUBLE AS b_trade_id, ta.side AS a_side, tb.side AS b_side,
      ${ms('ta.entry_ts')} AS a_entry_ts, ${ms('ta.exit_ts')} AS a_exit_ts, ${ms('tb.entry_ts')} AS b_entry_ts, ${ms('tb.exit_ts')} AS b_exit_ts,
      ta.qty AS a_qty, tb.qty AS b_qty, ta.pnl AS a_pnl, tb.pnl AS b_pnl, ta.pnl - tb.pnl AS pnl_difference,
      (epoch_ms(least(ta.close_ts, tb.close_ts)) - epoch_ms(greatest(ta.entry_ts, tb.entry_ts)))::DOUBLE AS overlap_ms
    FROM pairs p JOIN ta ON ta.trade_id = p.a_id JOIN tb ON tb.trade_id = p.b_id
    ORDER BY abs(ta.pnl - tb.pnl) DESC NULLS LAST, ta.trade_id LIMIT ${b.integer(limit)}`,
  only_a: (b, scope, params, pairs, limit) => `WITH ${tradeCtes(b, scope, params)}, ${pairsCte(b, pairs)}
    SELECT ${TRADE_COLUMNS} FROM ta WHERE trade_id NOT IN (SELECT a_id FROM pairs)
    ORDER BY abs(pnl) DESC NULLS LAST, ta.trade_id LIMIT ${b.integer(limit)}`,
  only_b: (b, scope, params, pairs, limit) => `WITH ${tradeCtes(b, scope, params)}, ${pairsCte(b, pairs)}
    SELECT ${TRADE_COLUMNS} FROM tb WHERE trade_id NOT IN (SELECT b_id FROM pairs)
    ORDER BY abs(pnl) DESC NULLS LAST, tb.trade_id LIMIT ${b.integer(limit)}`,
  sectors: (b, scope, params, _pairs, limit) => `WITH ${bySectorCte(b, scope, params)}
    SELECT sector, a_pnl, b_pnl, difference FROM by_sector ORDER BY abs(difference) DESC, sector LIMIT ${b.integer(limit)}`,
  symbols: (b, scope, params, _pairs, limit) => `WITH ${bySymbolCte(b, scope, params)}
    SELECT symbol, sector, a_pnl, b_pnl, a_pnl - b_pnl AS difference
    FROM by_symbol ORDER BY abs(difference) DESC, symbol LIMIT ${b.integer(limit)}`,
};
