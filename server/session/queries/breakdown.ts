// P&L by sector, symbol, run, month, weekday or hour of day, with each group's contribution
// (P&L / capital of the selected runs), fees, trades closed in the range, per-trade win rate and
// average gross exposure (the group's gross exposure summed over the bars of the range, divided
// by the number of run-bars: of the range for sector/symbol/run groups, of the group's own time
// cell for time groups). Sorted by any column, windowed, with the total group count.
import type { BreakdownColumn, BreakdownDimension } from '../../../shared/constants.js';
import type { BreakdownParams } from '../../../shared/messages.js';
import { StoreTable, exchangeTimeSql } from '../../store/format.js';
import type { Catalog } from '../store.js';
import { sourceOf, type QueryPlan } from './plan.js';
import { hasTradeFilters, resolveScope, timeCondition, tradeConditions, type Scope, runsCondition } from './scope.js';
import { tradeFrom, tradeRows } from './trade-source.js';
import { barRows, capitalsSql, dayRows, dimCondition, levelFor, type Level, type Rows } from './sources.js';
import { Binder, and } from './sql.js';

const NEEDED: Record<BreakdownDimension, Level> = {
  sector: 'sector',
  symbol: 'symbol',
  run: 'portfolio',
  month: 'portfolio',
  weekday: 'portfolio',
  hour: 'portfolio',
};

/**
 * Group key over day rows (`day`), bar rows (`ts`) and trades (`close_ts`), and its label over a
 * group's row `g`; all from this code. Hours are of the exchange time zone `zone` (trade rows
 * carry theirs already: trade_day's hour); days are UTC dates (docs/metrics.md).
 */
const keys = (zone: string): Record<BreakdownDimension, { rows: string; trades: string; label: string }> => ({
  sector: { rows: 'sector', trades: 'sector', label: 'g.gkey' },
  symbol: { rows: 'symbol', trades: 'symbol', label: 'g.gkey' },
  run: { rows: 'run_id', trades: 'run_id', label: 'g.gkey' },
  month: { rows: "date_trunc('month', day)::DATE", trades: "date_trunc('month', day)::DATE", label: "strftime(g.gkey, '%Y-%m')" },
  weekday: {
    rows: 'isodow(day)::INTEGER',
    trades: 'isodow(day)::INTEGER',
    label: "['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][g.gkey]",
  },
  hour: { rows: `hour(${exchangeTimeSql('ts', zone)})::INTEGER`, trades: 'hour::INTEGER', label: "lpad(g.gkey::VARCHAR, 2, '0')" },
});

const TIME_DIMENSIONS = new Set<BreakdownDimension>(['month', 'weekday', 'hour']);

/** Sort expressions, one per allowed column: the client picks a name, never SQL. */
const SORT: Record<BreakdownColumn, string> = {
  key: 'g.gkey',
  pnl: 'pnl',
  contribution: 'contribution',
  fees: 'fees',
  trades: 'trades',
  win_rate: 'win_rate',
  avg_exposure: 'avg_exposure',
};

export function planBreakdown(params: BreakdownParams, catalog: Catalog): QueryPlan {
  const scope = resolveScope(params, catalog);
  const windowed = build(params, scope, catalog, true);
  return {
    statements: [{ sql: windowed.sql, params: windowed.params, totalColumn: 'total_groups' }],
    source: windowed.source,
    notes: hasTradeFilters(scope)
      ? ['trade filters (side, tag, pnl, return, holding, MAE/MFE) restrict the trades and win rate columns only']
      : [],
    totalIfEmpty: async (lookup) => {
      const all = build(params, scope, catalog, false);
      const rows = await lookup(`SELECT count(*) FROM (${all.sql})`, all.params);
      return Number(rows[0]?.[0] ?? 0);
    },
  };
}

function build(params: BreakdownParams, scope: Scope, catalog: Catalog, window: boolean) {
  const b = new Binder();
  const by = params.by;
  const level = levelFor(scope, NEEDED[by]);
  const key = keys(scope.timezone)[by];
  const tradeFiltered = hasTradeFilters(scope);
  const sources: string[] = [];

  // Bar measures per group: group_measures(gkey, pnl, fees, gross_sum[, trades, wins]).
  let measures: string;
  let tradesFromTotals = false;
  if (by === 'symbol' && !scope.range.bounded) {
    // Every day of the dataset, grouped by symbol: the per-symbol totals answer it.
    const where = and(runsCondition(b, scope), dimCondition(b, 'symbol', scope));
    tradesFromTotals = !tradeFiltered;
    measures = `SELECT symbol AS gkey, sum(pnl) AS pnl, sum(fees) AS fees, sum(gross_sum) AS gross_sum,
        sum(trades) AS trades, sum(winning_trades) AS wins
      FROM ${StoreTable.symbolTotal} WHERE ${where} GROUP BY symbol`;
    sources.push(StoreTable.symbolTotal);
  } else {
    let rows: Rows;
    if (by === 'hour') {
      rows = barRows(b, level, scope, timeCondition(b, 'ts', scope));
      rows = { ...rows, sql: `SELECT *, gross AS gross_sum FROM (${rows.sql})` };
    } else {
      rows = dayRows(b, level, scope, { sector: by === 'sector' });
    }
    measures = `SELECT ${key.rows} AS gkey, sum(pnl) AS pnl, sum(fees) AS fees, sum(gross_sum) AS gross_sum
      FROM (${rows.sql}) GROUP BY 1`;
    sources.push(...rows.sources);
  }

  // Run-bars, the denominator of the average exposure: run_bars([gkey,] bars), per group for
  // groups of runs or of time, else over the range.
  let runBars: string;
  let runBarsJoin: string;
  if (by === 'hour') {
    const rows = barRows(b, 'portfolio', scope, timeCondition(b, 'ts', scope));
    runBars = `SELECT ${key.rows} AS gkey, count(*) AS bars FROM (${rows.sql}) GROUP BY 1`;
    runBarsJoin = 'LEFT JOIN run_bars ON run_bars.gkey = g.gkey';
    sources.push(...rows.sources);
  } else {
    const rows = dayRows(b, 'portfolio', scope);
    const grouped = by === 'run' || TIME_DIMENSIONS.has(by);
    runBars = grouped
      ? `SELECT ${key.rows} AS gkey, sum(bars) AS bars FROM (${rows.sql}) GROUP BY 1`
      : `SELECT sum(bars) AS bars FROM (${rows.sql})`;
    runBarsJoin = grouped ? 'LEFT JOIN run_bars ON run_bars.gkey = g.gkey' : 'CROSS JOIN run_bars';
    sources.push(...rows.sources);
  }

  // Trades closed in the range, per group: group_trades(gkey, trades, wins).
  let trades = `SELECT gkey, trades, wins FROM group_measures`;
  if (!tradesFromTotals && by === 'symbol') {
    // By symbol: trade_day has no symbol, so count the trades themselves, directly.
    trades = `SELECT symbol AS gkey, count(*) AS trades, count(*) FILTER (WHERE pnl > 0) AS wins
      FROM ${tradeFrom(b, scope)} WHERE ${tradeConditions(b, scope)} GROUP BY 1`;
    sources.push(scope.symbols ? StoreTable.trades : StoreTable.tradeList);
  } else if (!tradesFromTotals) {
    const rows = tradeRows(b, scope);
    trades = `SELECT ${key.trades} AS gkey, sum(trades) AS trades, sum(wins) AS wins FROM (${rows.sql}) GROUP BY 1`;
    sources.push(...rows.sources);
  }

  const sort = params.sort ?? (TIME_DIMENSIONS.has(by) ? { column: 'key' as const } : { column: 'pnl' as const, descending: true });
  const direction = sort.descending ? 'DESC' : 'ASC';
  const capitals = capitalsSql(b, scope.runs, catalog);
  const sql = `
    WITH capitals AS (${capitals}),
    group_measures AS (${measures}),
    run_bars AS (${runBars}),
    group_trades AS (${trades}),
    group_totals AS (
      SELECT coalesce(m.gkey, t.gkey) AS gkey, coalesce(m.pnl, 0) AS pnl, coalesce(m.fees, 0) AS fees,
        coalesce(t.trades, 0) AS trades, t.wins / nullif(t.trades, 0) AS win_rate, coalesce(m.gross_sum, 0) AS gross_sum
      FROM group_measures m FULL OUTER JOIN group_trades t ON m.gkey = t.gkey
    ),
    group_rows AS (
      SELECT ${key.label} AS key, g.gkey, g.pnl,
        g.pnl / (SELECT CASE WHEN count(capital) = count(*) THEN sum(capital) END FROM capitals) AS contribution,
        g.fees, g.trades::INTEGER AS trades, g.win_rate, g.gross_sum / nullif(run_bars.bars, 0) AS avg_exposure
      FROM group_totals g ${runBarsJoin}
    )
    SELECT key, pnl, contribution, fees, trades, win_rate, avg_exposure, count(*) OVER () AS total_groups
    FROM group_rows g
    ${window ? `ORDER BY ${SORT[sort.column]} ${direction} NULLS LAST, g.gkey ASC
    LIMIT ${b.integer(params.limit)} OFFSET ${b.integer(params.offset ?? 0)}` : ''}`;
  return { sql, params: b.params, source: sourceOf(sources) };
}
