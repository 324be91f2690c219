// One symbol over the range: price, position and cumulative P&L (restarting at the range start)
// per run, M4-downsampled on price, position value and cumulative P&L; and, as a second part, its
// trades that enter or exit in the range (trade filters apply), at most maxTrades of them. Both
// from the base tables, whose (run_id, symbol, ...) order makes one symbol a narrow read.
//
// Both parts are read as look-ups side by side (the runner lends the second a connection of its
// own), and sent as computed parts: a new symbol's read is mostly DuckDB loading blocks it has not
// read before, and neither waits for the other. The trades were a statement after the bars and
// their count: on `large`, ~10 ms more per request at p50, tens under load. They are not kept in
// the look-up cache (they are the answer, not a look-up a view asks again).
import { SERIES_PARTS } from '../../../shared/constants.js';
import type { SeriesParams } from '../../../shared/messages.js';
import { StoreTable } from '../../store/format.js';
import type { Catalog } from '../store.js';
import { BadParamsError } from './errors.js';
import { byRunAndTime, cumulative, m4, pick, reorder, textColumn, type Columns, type OutColumn } from '../compute.js';
import { runIndexSql } from './sources.js';
import { assertColumnLookup, NOTHING_TO_READ, sourceOf, type Planner } from './plan.js';
import { resolveScope, timeCondition, tradeConditions, type Scope, runsCondition } from './scope.js';
import { Binder, and, ms, or } from './sql.js';

const DEFAULT_MAX_TRADES = 5000;

export function planSeries(params: SeriesParams, catalog: Catalog): Planner {
  const scope = resolveScope(params, catalog);
  if (!catalog.symbols.has(params.symbol)) {
    throw new BadParamsError(`unknown symbol ${JSON.stringify(params.symbol)}; this dataset has ${catalog.symbols.size} symbols`);
  }
  const maxTrades = params.maxTrades ?? DEFAULT_MAX_TRADES;
  const notes: string[] = [];
  if (scope.symbols || scope.sectors) notes.push('sector and symbol filters do not apply: a series is one symbol');

  const b = new Binder();
  // Stored in (run_id, symbol, ts) order, so the rows come sorted; the running P&L and M4 are one
  // pass in the session (compute.ts).
  const pointsSql = `
    SELECT ${runIndexSql(b, scope.runs)} AS ri, epoch_ms(ts)::DOUBLE AS t, price, position_qty, position_value, pnl
    FROM ${StoreTable.bars}
    WHERE ${and(runsCondition(b, scope, false), `symbol = ${b.bind(params.symbol)}`, timeCondition(b, 'ts', scope))}`;
  const compute = (columns: Columns): OutColumn[] => {
    const { order, run, t } = byRunAndTime(columns);
    const price = reorder(columns.get('price') as Float64Array, order);
    const qty = reorder(columns.get('position_qty') as Float64Array, order);
    const value = reorder(columns.get('position_value') as Float64Array, order);
    const cum = cumulative(run, reorder(columns.get('pnl') as Float64Array, order));
    const kept = m4(run, catalog.tradingTime.toTradingAll(t), [price, value, cum], params.width);
    return [
      { name: 'run_id', kind: 'utf8', index: pick(run, kept), names: scope.runs },
      { name: 'ts', kind: 'f64', values: pick(t, kept) },
      { name: 'price', kind: 'f64', values: pick(price, kept) },
      { name: 'position_qty', kind: 'f64', values: pick(qty, kept) },
      { name: 'position_value', kind: 'f64', values: pick(value, kept) },
      { name: 'cum_pnl', kind: 'f64', values: pick(cum, kept) },
    ];
  };

  // With their count before the limit, for the note and `total`.
  const t = new Binder();
  const tradesSql = `
    SELECT ${TRADE_COLUMNS.map(({ name, sql }) => (sql ? `${sql} AS ${name}` : name)).join(', ')}, count(*) OVER ()::DOUBLE AS total
    FROM ${StoreTable.trades} WHERE ${markerConditions(t, scope, params.symbol)}
    ORDER BY run_id, entry_ts, trade_id LIMIT ${t.integer(maxTrades)}`;

  return async (lookup, lookupColumns) => {
    assertColumnLookup(lookupColumns, 'series reads its bars');
    const [trades, points] = (await Promise.all([
      lookup(tradesSql, t.params, { keep: false }),
      lookupColumns(pointsSql, b.params),
    ])) as [unknown[][], Columns];
    const total = trades.length === 0 ? 0 : Number(trades[0]![TRADE_COLUMNS.length]);
    const truncated = total > maxTrades;
    return {
      statements: [
        { sql: NOTHING_TO_READ, params: {}, part: SERIES_PARTS.points, compute: () => compute(points) },
        { sql: NOTHING_TO_READ, params: {}, part: SERIES_PARTS.trades, compute: () => tradeColumns(trades) },
      ],
      source: sourceOf(StoreTable.bars, StoreTable.trades),
      notes: truncated ? [...notes, `trades: the first ${maxTrades} of ${total} in the range (by run and entry time)`] : notes,
      approximate: truncated,
      total,
    };
  };
}

/**
 * The trades part's columns, which tradesSql selects in this order (its total after them, not
 * sent): a number is read as a DOUBLE (`sql`, when the stored column is not one), a text as is.
 */
const TRADE_COLUMNS: readonly { name: string; text?: true; sql?: string }[] = [
  { name: 'run_id', text: true },
  { name: 'trade_id', sql: 'trade_id::DOUBLE' },
  { name: 'side', text: true },
  { name: 'entry_ts', sql: ms('entry_ts') },
  { name: 'exit_ts', sql: ms('exit_ts') },
  { name: 'qty' },
  { name: 'entry_price' },
  { name: 'exit_price' },
  { name: 'pnl' },
  { name: 'ret' },
  { name: 'tag', text: true },
];

/** The trades' rows as columns: numbers as doubles (NULL as NaN, sent as null), texts as they are. */
function tradeColumns(rows: readonly unknown[][]): OutColumn[] {
  return TRADE_COLUMNS.map(({ name, text }, at): OutColumn => {
    if (text) return textColumn(name, rows.map((row) => row[at] as string | null));
    return { name, kind: 'f64', values: Float64Array.from(rows, (row) => (row[at] === null ? Number.NaN : Number(row[at]))) };
  });
}

/** Trades of the symbol entering or exiting in the range, with the trade filters. */
function markerConditions(b: Binder, scope: Scope, symbol: string): string {
  const inRange = (column: string) => timeCondition(b, column, scope);
  return and(
    `symbol = ${b.bind(symbol)}`,
    tradeConditions(b, scope, { holding_ms: '(epoch_ms(exit_ts) - epoch_ms(entry_ts))' }, { range: false, dims: false, keyed: false }),
    scope.from === undefined && scope.to === undefined ? null : or([inRange('entry_ts'), inRange('exit_ts')]),
  );
}
