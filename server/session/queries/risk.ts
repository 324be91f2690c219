// Risk per run over a range and filters (formulas in docs/metrics.md): the benchmark-relative
// metrics (alpha, beta, correlation, tracking error, information ratio, active return, up and
// down capture) on the days both the run and the benchmark have a return; the probabilistic
// Sharpe ratio; and concentration, the P&L and Sharpe left with the best 1% and 5% of the trades
// or the best 1, 5 and 10 symbols of the range taken out of the daily P&L. One query, since every
// part is a statistic of the same daily returns, which the overview asks for at once.
//
// Sources, all rollups: the run's daily rows with the benchmark's return (run-kpis.ts,
// dailyRowsWithBenchmark: day rollups, bar tables for cut days; shared with summary and benchmark); the best trades from trade_list_by_pnl (one read from a rank bound,
// numbered per run, k from the trade counts of trade_day in the same read); the symbols ranked by their P&L over the
// range and the best ten's daily P&L from symbol_day_by_day (dayRows, bars_by_time for cut days),
// which the other symbols' is the day's P&L less.
import { RISK_COLUMNS } from '../../../shared/constants.js';
import type { RiskParams } from '../../../shared/messages.js';
import { StoreTable, tradeListSortedBy, tradeRankColumn } from '../../store/format.js';
import type { Columns, OutColumn } from '../compute.js';
import type { Catalog } from '../store.js';
import { assertColumnLookup, NOTHING_TO_READ, sourceOf, type Lookup, type Planner } from './plan.js';
import { dailyRiskFree, moments, probabilisticSharpe, relative, sharpe } from './risk-metrics.js';
import { hasTradeFilters, resolveScope, tradeConditions, type Scope } from './scope.js';
import { capitalOfRun, dayRows } from './sources.js';
import { Binder } from './sql.js';
import { dailyRowsWithBenchmark } from './run-kpis.js';
import { tradeFrom, tradeStatsSql } from './trade-source.js';

/** Shares of the trades (by P&L, the best first) and numbers of symbols taken out. */
export const TOP_TRADE_SHARES = [0.01, 0.05] as const;
export const TOP_SYMBOL_COUNTS = [1, 5, 10] as const;
const MAX_TOP_SYMBOLS = TOP_SYMBOL_COUNTS.at(-1)!;

/** The best trades of a run: trades in scope, and day (epoch ms) -> their P&L per share taken out. */
interface BestTrades {
  n: number;
  byDay: Map<number, number[]>;
}

/** A run's best symbols: symbols in scope, the best ten's names (best first, comma-separated), and day (epoch ms) -> the P&L of the best 1, 5 and 10. */
interface TopSymbols {
  n: number;
  top: string;
  byDay: Map<number, number[]>;
}

const num = (v: unknown): number => (v === null || v === undefined ? Number.NaN : Number(v));

export function planRisk(params: RiskParams, catalog: Catalog): Planner {
  const scope = resolveScope(params, catalog);
  const rfDaily = dailyRiskFree(params.riskFreeRate ?? catalog.riskFreeRate);
  return async (lookup, lookupColumns) => {
    assertColumnLookup(lookupColumns, 'risk reads its daily rows');
    // Three independent reads, side by side (the runner lends each a connection when one is free):
    // the daily rows used to be read after the other two, as the answer's statement. The daily rows
    // are the summary's and the benchmark line's too, which a zoom asks at once: read once for all.
    const [trades, symbols, daily] = await Promise.all([topTrades(lookup, scope, catalog), topSymbols(lookup, scope), dailyRowsWithBenchmark(lookupColumns, scope, catalog)]);
    const capitalOf = (run: string) => capitalOfRun(catalog, run);
    return {
      statements: [{ sql: NOTHING_TO_READ, params: {}, compute: () => riskColumns(daily.columns, scope.runs, capitalOf, rfDaily, trades, symbols) }],
      source: sourceOf(daily.sources, trades.sources, symbols.sources),
      notes: [
        `benchmark: ${catalog.benchmark.name}`,
        ...(hasTradeFilters(scope)
          ? ['trade filters select the trades whose best 1% and 5% are taken out; returns and the benchmark metrics are over every position of the selected runs and dimensions']
          : []),
      ],
    };
  };
}

/**
 * How much of the P&L-sorted trade list a run's best trades are first looked for in: this many
 * times the largest share of them taken out (5%), of every priced trade (see topTrades).
 */
const BEST_TRADES_WINDOW = 4;

/**
 * How many trades "the best `share` of n" is, over a DOUBLE count `n`: at least one when there are
 * trades (rounded up), rounded to 1e-9 first so that 0.01 x 100 is 1, not 1.0000000000000002 -> 2.
 */
export function topTradeCountSql(share: number, n: string): string {
  return `ceil(round(${share.toFixed(2)}::DOUBLE * ${n} * 1e9) / 1e9)`;
}

/**
 * The best 1% and 5% of the scope's trades by P&L (ties by the later trade id), per run, as P&L
 * per close day, in one read: each run's count of trades in scope (the trade statistics: trade_day
 * for whole days) gives how many its best are, and every run's trades, numbered per run by P&L,
 * are summed per close day up to those numbers. Until the counts were part of it, they were a look-up of
 * their own before the read (10-15 ms of a fresh range's risk on `large`, on its slowest path).
 *
 * The trades are read from trade_list_by_pnl (sorted by pnl rank) from a rank bound: the best 5%
 * of a run's trades in scope are among the best BEST_TRADES_WINDOW x 5% of all trades unless the
 * scope's trades are unusually poor, and the answer shows whether they were (fewer came back than
 * the run's best 5%): then those runs are read again without the bound. On `large`, a brushed
 * range's best 5% of 250k trades: the full scan and top-k took 20-30 ms a run, the bounded read
 * 4-6; one bounded read for both runs 8-15 ms against 17-23 for a top-k of each in its own branch
 * (which read the window once a run). (A top-k found from a histogram of pnl ranks of the scope's
 * trades, tried earlier, was no faster: it read every trade of the scope for the histogram.)
 */
async function topTrades(lookup: Lookup, scope: Scope, catalog: Catalog): Promise<{ byRun: Map<string, BestTrades>; sources: string[] }> {
  const byRun = new Map<string, BestTrades>();
  for (const run of scope.runs) byRun.set(run, { n: 0, byDay: new Map() });
  const ranked = catalog.tradeRanks && !scope.symbols;
  // Trades with a P&L have the ranks 0 .. priced - 1 (nulls sort last). One look-up per session.
  const priced = ranked ? num((await lookup(`SELECT count(pnl)::DOUBLE FROM ${StoreTable.tradeList}`, {}))[0]?.[0]) || 0 : 0;
  const statsSources: string[] = [];
  const [k1, k5] = TOP_TRADE_SHARES;
  const read = async (runs: readonly string[], bounded: boolean) => {
    if (runs.length === 0) return new Set<string>();
    const b = new Binder();
    const runScope: Scope = { ...scope, runs: [...runs], allRuns: scope.allRuns && runs.length === scope.runs.length };
    const stats = tradeStatsSql(b, runScope);
    statsSources.push(...stats.sources);
    const window = Math.ceil(priced * Math.min(1, BEST_TRADES_WINDOW * k5));
    const bound = bounded && window < priced ? ` AND ${tradeRankColumn('pnl')} >= ${b.integer(priced - window)}` : '';
    const source = ranked ? tradeListSortedBy('pnl') : tradeFrom(b, runScope);
    // The best first, as the trade list sorted by P&L descending shows them (ties: the later trade
    // id first). With ranks that is one integer to sort by: on `large`, a fresh 8-12 month range's
    // read took 45 ms (median of 8) against 54 sorting by P&L and trade id.
    const best = ranked ? `${tradeRankColumn('pnl')} DESC` : 'pnl DESC, trade_id DESC';
    const sql = `WITH counts AS (SELECT run_id, sum(pnl_n)::DOUBLE AS n FROM (${stats.sql}) GROUP BY run_id),
      limits AS (SELECT run_id, n, ${topTradeCountSql(k1, 'n')} AS k1, ${topTradeCountSql(k5, 'n')} AS k5 FROM counts WHERE n > 0),
      best AS (
        SELECT t.run_id, epoch_ms(t.close_ts::DATE::TIMESTAMP)::DOUBLE AS day, coalesce(sum(t.pnl) FILTER (WHERE t.k <= l.k1), 0) AS top1, sum(t.pnl) AS top5, count(*) AS taken
        FROM (
          SELECT run_id, close_ts, pnl, row_number() OVER (PARTITION BY run_id ORDER BY ${best}) AS k FROM ${source}
          WHERE ${tradeConditions(b, runScope)} AND pnl IS NOT NULL${bound}
        ) t JOIN limits l ON l.run_id = t.run_id
        WHERE t.k <= l.k5 GROUP BY 1, 2
      )
      SELECT l.run_id, l.n, l.k5::DOUBLE AS k5, d.day, d.top1, d.top5, d.taken::DOUBLE AS taken FROM limits l LEFT JOIN best d ON d.run_id = l.run_id`;
    const rows = await lookup(sql, b.params);
    const taken = new Map<string, number>();
    const wanted = new Map<string, number>();
    for (const [run, n, k5Count, , , , count] of rows) {
      byRun.get(String(run))!.n = num(n);
      wanted.set(String(run), num(k5Count));
      taken.set(String(run), (taken.get(String(run)) ?? 0) + (num(count) || 0));
    }
    // A bounded read that found fewer than a run's best 5% missed some: that run is read again.
    const short = new Set([...wanted].filter(([run, k]) => bounded && (taken.get(run) ?? 0) < k).map(([run]) => run));
    for (const [run, , , day, top1, top5] of rows) {
      if (day !== null && !short.has(String(run))) byRun.get(String(run))!.byDay.set(num(day), [num(top1), num(top5)]);
    }
    return short;
  };
  const short = await read(scope.runs, ranked);
  await read([...short], false);
  // sourceOf (planRisk) names each table once.
  return { byRun, sources: [...statsSources, ranked ? tradeListSortedBy('pnl') : scope.symbols ? StoreTable.trades : StoreTable.tradeList] };
}

/**
 * Per run and day, the P&L of the best 1, 5 and 10 symbols of the range (by P&L, ties by name),
 * and how many symbols the scope has. One look-up: the range's symbol rows are ranked per run,
 * and only the best ten's rows are summed per day. Those rows are the same tables the ranking read
 * (symbol_day_by_day, bars_by_time for cut days): reading the ten by name from the symbol-sorted
 * tables instead was cold for every new range (the bars of a cut day in `bars`, which no other
 * query reads: 300-600 ms on large). The rows are read twice, not materialized: a materialized
 * CTE copied every row of the range (768k for half a year on `large`) before either use, 35-60 ms
 * against 17-26 for the second, warm, scan.
 */
async function topSymbols(lookup: Lookup, scope: Scope): Promise<{ byRun: Map<string, TopSymbols>; sources: string[] }> {
  const b = new Binder();
  const rows = dayRows(b, 'symbol', scope);
  const sql = `WITH rows AS NOT MATERIALIZED (SELECT run_id, day, symbol, pnl FROM (${rows.sql})),
    best AS (
      SELECT * FROM (
        SELECT run_id, symbol, row_number() OVER (PARTITION BY run_id ORDER BY pnl DESC, symbol) AS k, count(*) OVER (PARTITION BY run_id) AS n
        FROM (SELECT run_id, symbol, sum(pnl) AS pnl FROM rows GROUP BY 1, 2)
      ) WHERE k <= ${b.integer(MAX_TOP_SYMBOLS)}
    ),
    names AS (SELECT run_id, string_agg(symbol, ', ' ORDER BY k) AS top, any_value(n)::DOUBLE AS n FROM best GROUP BY run_id),
    per_day AS (
      SELECT r.run_id, epoch_ms(r.day::TIMESTAMP)::DOUBLE AS day,
        ${TOP_SYMBOL_COUNTS.map((count) => `coalesce(sum(r.pnl) FILTER (WHERE t.k <= ${b.integer(count)}), 0)`).join(', ')}
      FROM rows r JOIN best t ON t.run_id = r.run_id AND t.symbol = r.symbol
      GROUP BY 1, 2
    )
    SELECT names.run_id, CASE WHEN row_number() OVER (PARTITION BY names.run_id) = 1 THEN names.top END AS top, names.n, d.* EXCLUDE (run_id)
    FROM names LEFT JOIN per_day d ON d.run_id = names.run_id`;
  const byRun = new Map<string, TopSymbols>();
  for (const run of scope.runs) byRun.set(run, { n: 0, top: '', byDay: new Map() });
  // The names come on one row of each run: repeated on each of its days, they made the answer of
  // 8 runs over two years 1.2 MB by the look-up cache's estimate, past what it keeps, so a risk
  // asked again read its best symbols again (60-170 ms on the 200-run sweep).
  for (const [run, top, n, day, ...pnl] of await lookup(sql, b.params)) {
    const best = byRun.get(String(run))!;
    best.n = num(n);
    if (top !== null) best.top = String(top);
    if (day !== null) best.byDay.set(num(day), pnl.map(num));
  }
  return { byRun, sources: rows.sources };
}

function riskColumns(
  columns: Columns,
  runs: readonly string[],
  capitalOf: (run: string) => number | null,
  rfDaily: number,
  trades: { byRun: Map<string, BestTrades> },
  symbols: { byRun: Map<string, TopSymbols> },
): OutColumn[] {
  const ri = columns.get('ri') as Int32Array;
  const day = columns.get('day') as Float64Array;
  const pnl = columns.get('pnl') as Float64Array;
  const bret = columns.get('bret') as Float64Array;
  const out = new Map<string, Float64Array>();
  const put = (name: string, r: number, value: number) => {
    (out.get(name) ?? out.set(name, new Float64Array(runs.length).fill(Number.NaN)).get(name)!)[r] = value;
  };
  const topNames: string[] = [];
  let row = 0;
  runs.forEach((run, r) => {
    const start = row;
    while (row < ri.length && ri[row] === r) row++;
    const n = row - start;
    const capital = capitalOf(run) ?? Number.NaN;
    // The day's return on the run's capital, as runKpis computes it.
    const returns = Float64Array.from(pnl.subarray(start, row), (p) => p / capital);
    const paired: [number[], number[]] = [[], []];
    for (let i = start; i < row; i++) {
      if (Number.isNaN(returns[i - start]!) || Number.isNaN(bret[i]!)) continue;
      paired[0].push(returns[i - start]!);
      paired[1].push(bret[i]!);
    }
    const rel = relative(paired[0], paired[1], rfDaily);
    const { skew, kurtosis } = moments(returns);
    let total = 0;
    for (let i = start; i < row; i++) total += pnl[i]!;
    put('days', r, n);
    put('benchmark_days', r, paired[0].length);
    put('alpha', r, rel.alpha);
    put('beta', r, rel.beta);
    put('correlation', r, rel.correlation);
    put('tracking_error', r, rel.trackingError);
    put('information_ratio', r, rel.informationRatio);
    put('active_return', r, rel.activeReturn);
    put('up_capture', r, rel.upCapture);
    put('down_capture', r, rel.downCapture);
    put('benchmark_return', r, rel.benchmarkReturn);
    put('sharpe', r, sharpe(returns, rfDaily));
    put('psr', r, probabilisticSharpe(returns, rfDaily));
    put('skew', r, skew);
    put('kurtosis', r, kurtosis);
    put('total_pnl', r, n > 0 ? total : Number.NaN);
    // The best trades' P&L taken out of the days they closed on (a trade closing on a day
    // without a row of the run still counts against the total).
    const t = trades.byRun.get(run)!;
    put('trades', r, t.n);
    TOP_TRADE_SHARES.forEach((share, v) => {
      let taken = 0;
      for (const values of t.byDay.values()) taken += values[v]!;
      const rest = Float64Array.from({ length: n }, (_, i) => (pnl[start + i]! - (t.byDay.get(day[start + i]!)?.[v] ?? 0)) / capital);
      put(`pnl_ex_top${Math.round(share * 100)}pct_trades`, r, n > 0 ? total - taken : Number.NaN);
      put(`sharpe_ex_top${Math.round(share * 100)}pct_trades`, r, sharpe(rest, rfDaily));
    });
    // The other symbols' daily P&L on the run's days: the day's P&L less the best symbols' (exactly
    // nothing once every symbol is out).
    const o = symbols.byRun.get(run)!;
    put('symbols', r, o.n);
    TOP_SYMBOL_COUNTS.forEach((count, v) => {
      const rest = Float64Array.from({ length: n }, (_, i) => (count >= o.n ? 0 : pnl[start + i]! - (o.byDay.get(day[start + i]!)?.[v] ?? 0)));
      put(`pnl_ex_top${count}_symbols`, r, n > 0 ? rest.reduce((a, x) => a + x, 0) : Number.NaN);
      put(`sharpe_ex_top${count}_symbols`, r, sharpe(rest.map((x) => x / capital), rfDaily));
    });
    topNames.push(o.top);
  });
  const integers = new Set(['days', 'benchmark_days', 'trades', 'symbols']);
  const order = RISK_COLUMNS.filter((name) => name !== 'run_id' && name !== 'top_symbols');
  const index = Int32Array.from(runs.map((_, i) => i));
  return [
    { name: 'run_id', kind: 'utf8', index, names: runs },
    ...order.map((name): OutColumn => {
      const values = out.get(name) ?? new Float64Array(runs.length).fill(Number.NaN);
      return integers.has(name) ? { name, kind: 'i32', values: Int32Array.from(values, (v) => (Number.isNaN(v) ? 0 : v)) } : { name, kind: 'f64', values };
    }),
    { name: 'top_symbols', kind: 'utf8', index, names: topNames },
  ];
}
