// Attribution of a range: each run's P&L by sector, or by symbol within one sector, summing to the
// range's P&L, split into what the positions held at the range's start did (held_pnl: each
// symbol's starting position held unchanged and marked at its last price in the range) and what
// trading inside the range did (traded_pnl = pnl - held_pnl: every position change, fees
// included). Definitions in docs/metrics.md. P&L comes from the day rollups for whole days and
// the bar rollups for cut days (as breakdown); the starting and ending positions from symbol_day
// (day ends) and bars_by_time (inside a cut day): never the bar table. A symbol's last position
// before a boundary is looked for in the few trading days before it; the earlier days are read
// only when a look-up finds a symbol of the scope without a row in those.
import type { AttributionParams } from '../../../shared/messages.js';
import { StoreTable } from '../../store/format.js';
import type { Catalog } from '../store.js';
import { BadParamsError } from './errors.js';
import { sourceOf, type Planner, type QueryPlan } from './plan.js';
import { hasTradeFilters, resolveScope, runsCondition, type Scope } from './scope.js';
import { capitalsSql, dayRows, levelFor } from './sources.js';
import { Binder, and } from './sql.js';
import { tradeRows } from './trade-source.js';

export function planAttribution(params: AttributionParams, catalog: Catalog): QueryPlan | Planner {
  const resolved = resolveScope(params, catalog);
  const sector = params.sector;
  if (sector !== undefined && !catalog.sectors.has(sector)) {
    throw new BadParamsError(`unknown sector ${JSON.stringify(sector)}; sectors are ${[...catalog.sectors].join(', ')}`);
  }
  // The symbols of one sector: that sector within the sector filter (none if the filter leaves it out).
  const scope: Scope =
    sector === undefined ? resolved : { ...resolved, sectors: !resolved.sectors || resolved.sectors.includes(sector) ? [sector] : [] };
  if (scope.from === undefined) return build(scope, catalog, sector, null);
  const from = scope.from;
  const to = scope.to ?? Number.POSITIVE_INFINITY;
  // Which of the two position reads need the days before their recent window (a symbol without a
  // bar in it): one small look-up instead of reading every earlier day of symbol_day.
  const t = new Binder();
  const counts = [missingSql(t, scope, catalog, from, false), missingSql(t, scope, catalog, to, true)];
  if (counts.every((c) => c === null)) return build(scope, catalog, sector, { start: false, end: false });
  return async (lookup) => {
    const sql = `SELECT ${counts.map((c) => (c ? `(${c})` : '0')).join(', ')}`;
    const [row] = await lookup(sql, t.params);
    const [startMissing, endMissing] = (row ?? [0, 0]).map((v) => Number(v) > 0);
    return build(scope, catalog, sector, { start: startMissing!, end: endMissing! });
  };
}

/**
 * The plan. `readOlder` says, for the starting and the ending positions, whether the days before
 * their recent window are read too; null when the range starts with the data (nothing is held).
 */
function build(scope: Scope, catalog: Catalog, sector: string | undefined, readOlder: { start: boolean; end: boolean } | null): QueryPlan {
  const bySymbol = sector !== undefined;
  const b = new Binder();
  const level = bySymbol ? 'symbol' : levelFor(scope, 'sector');
  const key = bySymbol ? 'symbol' : 'sector';
  const pnlRows = dayRows(b, level, scope, { sector: !bySymbol });
  const trades = tradeRows(b, scope, { symbol: bySymbol });
  const sources = [pnlRows.sources, trades.sources];
  let held = `SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS key, NULL::DOUBLE AS held WHERE FALSE`;
  if (scope.from !== undefined && readOlder) {
    const start = positionsAt(b, scope, catalog, scope.from, false, readOlder.start);
    const end = positionsAt(b, scope, catalog, scope.to ?? Number.POSITIVE_INFINITY, true, readOlder.end);
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

/** Symbol-level dimension condition (the scope's symbols and sectors) on a table with `symbol`. */
function symbolCondition(b: Binder, scope: Scope): string {
  return and(
    scope.symbols ? b.in('symbol', scope.symbols) : null,
    scope.sectors ? `symbol IN (SELECT symbol FROM ${StoreTable.symbols} WHERE ${b.in('sector', scope.sectors)})` : null,
  );
}

/** Trading days read before the boundary's day for a symbol's last position: enough for any symbol with a bar in them. */
const RECENT_DAYS = 5;

interface Window {
  /** The day the boundary falls in or before which it lies; -1 when after every day. */
  next: number;
  /** The first day of the recent window; older days are read only for symbols without a row in it. */
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
  return { next, recent: Math.max(0, end - RECENT_DAYS), cut };
}

/**
 * Rows (run_id, symbol, mark_ts, position_value, price) of the last bars before `at` (at or
 * before, when `inclusive`) that the recent window holds: day-end rows of symbol_day for its
 * whole days, bars of bars_by_time for the boundary's own day up to `at`; with `older`, the
 * day-end rows of every day before the window too.
 */
function markRows(b: Binder, scope: Scope, catalog: Catalog, at: number, inclusive: boolean, older: boolean): { sql: string; sources: string[] } {
  const { next, recent, cut } = windowOf(catalog, at, inclusive);
  const days = catalog.days;
  const dims = and(runsCondition(b, scope), symbolCondition(b, scope));
  const dayTable = scope.symbols ? StoreTable.symbolDay : StoreTable.symbolDayByDay;
  const branches = [
    `SELECT run_id, symbol, day::TIMESTAMP AS mark_ts, position_value, close AS price FROM ${dayTable}
      WHERE ${and(
        dims,
        older || recent === 0 ? null : `day >= ${b.date(days[recent]!.iso)}`,
        next >= 0 ? `day < ${b.date(days[next]!.iso)}` : null,
      )}`,
  ];
  const sources: string[] = [dayTable];
  if (cut) {
    branches.push(`SELECT run_id, symbol, ts AS mark_ts, position_value, price FROM ${StoreTable.barsByTime}
      WHERE ${and(dims, `ts >= ${b.timestampMs(cut.first)}`, `ts ${inclusive ? '<=' : '<'} ${b.timestampMs(at)}`)}`);
    sources.push(StoreTable.barsByTime);
  }
  return { sql: branches.join('\nUNION ALL\n'), sources };
}

/**
 * How many of the scope's (run, symbol) pairs (symbol_total's) have no row in the recent window
 * of `at`: those may have their last bar earlier. Null when the window starts at the first day.
 */
function missingSql(b: Binder, scope: Scope, catalog: Catalog, at: number, inclusive: boolean): string | null {
  if (windowOf(catalog, at, inclusive).recent === 0) return null;
  const recent = markRows(b, scope, catalog, at, inclusive, false);
  return `SELECT count(*) FROM (
      SELECT run_id, symbol FROM ${StoreTable.symbolTotal} WHERE ${and(runsCondition(b, scope), symbolCondition(b, scope))}
      EXCEPT SELECT run_id, symbol FROM (${recent.sql}))`;
}

/**
 * Each symbol's position_value and price at its last bar before `at` (at or before, when
 * `inclusive`): (run_id, symbol, position_value, price). `older`: read the days before the recent
 * window too (some symbol has no row in it).
 */
function positionsAt(b: Binder, scope: Scope, catalog: Catalog, at: number, inclusive: boolean, older: boolean): { sql: string; sources: string[] } {
  const rows = markRows(b, scope, catalog, at, inclusive, older);
  return {
    sql: `SELECT run_id, symbol, arg_max(position_value, mark_ts) AS position_value, arg_max(price, mark_ts) AS price
      FROM (${rows.sql}) GROUP BY run_id, symbol`,
    sources: rows.sources,
  };
}
