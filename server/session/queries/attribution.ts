// Attribution of a range: each run's P&L by sector, or by symbol within one sector, summing to the
// range's P&L, split into what the positions held at the range's start did (held_pnl: each
// symbol's starting position held unchanged and marked at its last price in the range) and what
// trading inside the range did (traded_pnl = pnl - held_pnl: every position change, fees
// included). Definitions in docs/metrics.md. P&L comes from the day rollups for whole days and
// the bar rollups for cut days (as breakdown); the starting and ending positions from symbol_day
// (day ends) and bars_by_time (inside a cut day): never the bar table. A symbol's last position
// before a boundary is looked for in the few trading days before it, and for a symbol without a
// row there, in symbol_day_gaps (the rows a longer gap follows), so no plan reads every earlier day.
// Inside a cut day, the last bar before a boundary is looked for in the few bars before it when a
// look-up shows that every symbol with a bar that day has one there (always so for bars at every
// interval), and in the whole day up to the boundary otherwise.
import type { AttributionParams } from '../../../shared/messages.js';
import { POSITION_LOOKBACK_DAYS, StoreTable } from '../../store/format.js';
import type { Catalog } from '../store.js';
import { BadParamsError } from './errors.js';
import { sourceOf, type Lookup, type Planner, type QueryPlan } from './plan.js';
import { hasTradeFilters, rangeEndCondition, resolveScope, runsCondition, type Scope } from './scope.js';
import { capitalsSql, dayRows, dayTable, dimCondition, levelFor } from './sources.js';
import { Binder, and } from './sql.js';
import { tradeRows } from './trade-source.js';

export function planAttribution(params: AttributionParams, catalog: Catalog): Planner {
  const resolved = resolveScope(params, catalog);
  const sector = params.sector;
  if (sector !== undefined && !catalog.sectors.has(sector)) {
    throw new BadParamsError(`unknown sector ${JSON.stringify(sector)}; sectors are ${[...catalog.sectors].join(', ')}`);
  }
  // The symbols of one sector: that sector within the sector filter (none if the filter leaves it out).
  const scope: Scope =
    sector === undefined ? resolved : { ...resolved, sectors: !resolved.sectors || resolved.sectors.includes(sector) ? [sector] : [] };
  const bySymbol = sector !== undefined;
  return (lookup) => attributionPlan(lookup, scope, catalog, bySymbol);
}

async function attributionPlan(lookup: Lookup, scope: Scope, catalog: Catalog, bySymbol: boolean): Promise<QueryPlan> {
  const b = new Binder();
  const level = bySymbol ? 'symbol' : levelFor(scope, 'sector');
  const key = bySymbol ? 'symbol' : 'sector';
  const pnlRows = dayRows(b, level, scope, { sector: !bySymbol });
  const trades = tradeRows(b, scope, { symbol: bySymbol });
  const sources = [pnlRows.sources, trades.sources];
  // Nothing is held before the data starts: a range without a start has no held part.
  let held = `SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS key, NULL::DOUBLE AS held WHERE FALSE`;
  if (scope.from !== undefined) {
    const to = scope.to ?? Number.POSITIVE_INFINITY;
    // The two boundaries' look-ups do not depend on each other: they run side by side (the runner
    // lends one a connection of its own when one is free). The SQL is written after both, so that
    // the same request is always the same statement.
    const [startFrom, endFrom] = await Promise.all([
      cutDayReadFrom(lookup, scope, catalog, scope.from, false),
      cutDayReadFrom(lookup, scope, catalog, to, true),
    ]);
    const start = positionsAt(b, scope, catalog, scope.from, false, startFrom);
    const end = positionsAt(b, scope, catalog, to, true, endFrom);
    held = `SELECT e.run_id, ${bySymbol ? 'e.symbol' : 'sy.sector'} AS key,
        sum(coalesce(s0.position_value * (e.price / nullif(s0.price, 0) - 1), 0)) AS held
      FROM (${start.sql}) s0 JOIN (${end.sql}) e ON e.run_id = s0.run_id AND e.symbol = s0.symbol
      ${bySymbol ? '' : `JOIN ${StoreTable.symbols} sy ON sy.symbol = e.symbol`}
      GROUP BY 1, 2`;
    sources.push(start.sources, end.sources);
  }
  const sql = `
    WITH capitals AS (${capitalsSql(b, scope.runs, catalog)}),
    group_pnl AS (SELECT run_id, ${key} AS key, sum(pnl) AS pnl FROM (${pnlRows.sql}) GROUP BY 1, 2),
    group_held AS (${held}),
    group_trades AS (SELECT run_id, ${key} AS key, sum(trades) AS trades FROM (${trades.sql}) GROUP BY 1, 2),
    group_keys AS (SELECT run_id, key FROM group_pnl UNION SELECT run_id, key FROM group_trades)
    SELECT g.run_id, g.key, coalesce(p.pnl, 0) AS pnl, coalesce(h.held, 0) AS held_pnl,
      coalesce(p.pnl, 0) - coalesce(h.held, 0) AS traded_pnl, coalesce(p.pnl, 0) / k.capital AS contribution,
      coalesce(t.trades, 0)::INTEGER AS trades
    FROM group_keys g
    JOIN capitals k ON k.run_id = g.run_id
    LEFT JOIN group_pnl p ON p.run_id = g.run_id AND p.key = g.key
    LEFT JOIN group_held h ON h.run_id = g.run_id AND h.key = g.key
    LEFT JOIN group_trades t ON t.run_id = g.run_id AND t.key = g.key
    ORDER BY g.run_id, pnl DESC, g.key`;
  return {
    statements: [{ sql, params: b.params }],
    source: sourceOf(...sources),
    notes: hasTradeFilters(scope)
      ? ['trade filters (side, tag, pnl, return, holding, MAE/MFE) restrict the trades column only; P&L and its split are over every position of the selected runs and dimensions']
      : [],
  };
}

interface Window {
  /** The day the boundary falls in or before which it lies; -1 when after every day. */
  next: number;
  /** The first day of the recent window (POSITION_LOOKBACK_DAYS before `next`). */
  recent: number;
  /** The boundary's day, when bars of it come before the boundary (read from bars_by_time). */
  cut: { first: number } | null;
}

function windowOf(catalog: Catalog, at: number, inclusive: boolean): Window {
  const before = (ts: number) => (inclusive ? ts <= at : ts < at);
  const days = catalog.days;
  const next = days.findIndex((day) => !before(day.last));
  const end = next < 0 ? days.length : next;
  const cut = next >= 0 && before(days[next]!.first) ? { first: days[next]!.first } : null;
  return { next, recent: Math.max(0, end - POSITION_LOOKBACK_DAYS), cut };
}

/**
 * Rows (run_id, symbol, mark_ts, position_value, price) among which each symbol's last bar before
 * `at` (at or before, when `inclusive`) is the latest: day-end rows of symbol_day for the recent
 * window's whole days, bars of bars_by_time for the boundary's own day from `cutFrom` (see
 * cutDayReadFrom) up to `at`, and for a symbol without a row in those, its last day-end row before
 * them, which symbol_day_gaps holds (its next row is after the window, or there is none).
 */
function markRows(b: Binder, scope: Scope, catalog: Catalog, at: number, inclusive: boolean, cutFrom: number | null): { sql: string; sources: string[] } {
  const { next, recent } = windowOf(catalog, at, inclusive);
  const days = catalog.days;
  const dims = and(runsCondition(b, scope), dimCondition(b, 'symbol', scope));
  const symbolDays = dayTable('symbol', scope);
  const branches = [
    `SELECT run_id, symbol, day::TIMESTAMP AS mark_ts, position_value, close AS price FROM ${symbolDays}
      WHERE ${and(dims, recent === 0 ? null : `day >= ${b.date(days[recent]!.iso)}`, next >= 0 ? `day < ${b.date(days[next]!.iso)}` : null)}`,
  ];
  const sources: string[] = [symbolDays];
  if (recent > 0) {
    branches.push(`SELECT run_id, symbol, day::TIMESTAMP AS mark_ts, position_value, close AS price FROM ${StoreTable.symbolDayGaps}
      WHERE ${and(dims, `day < ${b.date(days[recent]!.iso)}`, next >= 0 ? `(next_day IS NULL OR next_day >= ${b.date(days[next]!.iso)})` : 'next_day IS NULL')}`);
    sources.push(StoreTable.symbolDayGaps);
  }
  if (cutFrom !== null) {
    branches.push(`SELECT run_id, symbol, ts AS mark_ts, position_value, price FROM ${StoreTable.barsByTime}
      WHERE ${and(dims, ...cutDayWindow(b, cutFrom, at, inclusive))}`);
    sources.push(StoreTable.barsByTime);
  }
  return { sql: branches.join('\nUNION ALL\n'), sources };
}

/** The conditions on bars_by_time's ts from `from` up to the boundary `at` (through it, when `inclusive`). */
function cutDayWindow(b: Binder, from: number, at: number, inclusive: boolean): [string, string] {
  return [`ts >= ${b.timestampMs(from)}`, inclusive ? rangeEndCondition(b, 'ts', at) : `ts < ${b.timestampMs(at)}`];
}

/** Bar intervals before a boundary in which its cut day's last bars are looked for first. */
export const RECENT_BARS = 3;

/**
 * Where in the day the boundary `at` cuts the last bars before it are read from (null when `at`
 * cuts no day): the last RECENT_BARS bar intervals when every (run, symbol) in scope with a row in
 * symbol_day that day has a bar there (then none has a later bar before `at` elsewhere in the day:
 * its last one is there), else the day's first bar. On `large` (6,000 pairs, 78 bars a day) that
 * reads 18k rows instead of up to 468k: the arg_max over them went from 8-18 ms to 2. The look-up
 * costs a read of the same few bars and of one day of symbol_day, and is cached per session.
 */
async function cutDayReadFrom(lookup: Lookup, scope: Scope, catalog: Catalog, at: number, inclusive: boolean): Promise<number | null> {
  const { next, cut } = windowOf(catalog, at, inclusive);
  if (!cut) return null;
  const day = catalog.days[next]!.iso;
  const first = cut.first;
  const from = at - RECENT_BARS * catalog.calendar.barMs;
  if (from <= first) return first;
  const b = new Binder();
  const dims = and(runsCondition(b, scope), dimCondition(b, 'symbol', scope));
  const rows = await lookup(
    `SELECT (SELECT count(*) FROM (SELECT DISTINCT run_id, symbol FROM ${StoreTable.barsByTime}
        WHERE ${and(dims, ...cutDayWindow(b, from, at, inclusive))}))
      = (SELECT count(*) FROM ${dayTable('symbol', scope)} WHERE ${and(dims, `day = ${b.date(day)}`)})`,
    b.params,
  );
  return rows[0]?.[0] === true ? from : first;
}

/**
 * Each symbol's position_value and price at its last bar before `at` (at or before, when
 * `inclusive`): (run_id, symbol, position_value, price).
 */
function positionsAt(b: Binder, scope: Scope, catalog: Catalog, at: number, inclusive: boolean, cutFrom: number | null): { sql: string; sources: string[] } {
  const rows = markRows(b, scope, catalog, at, inclusive, cutFrom);
  return {
    sql: `SELECT run_id, symbol, arg_max(position_value, mark_ts) AS position_value, arg_max(price, mark_ts) AS price
      FROM (${rows.sql}) GROUP BY run_id, symbol`,
    sources: rows.sources,
  };
}
