// The baseline of `npm run bench:queries`: the server a developer would hand-write for the same
// drill-down. DuckDB over the raw Parquet files of the dataset (views, no prepared store, no
// rollups), one HTTP endpoint, JSON rows. Same questions, same semantics (documented in
// docs/metrics.md), bound parameters, straightforward SQL: aggregate the bars or trades the
// request needs, window functions for running sums, M4 in SQL for the charts, ORDER BY / LIMIT /
// OFFSET for tables.
//
// Usage: node dist/test/bench/baseline/server.js DATASET_DIR CAPITALS_JSON [THREADS] [MEMORY] [RUN_PARAMS_JSON]
// (RUN_PARAMS_JSON: each run's parameters, for the sweep queries' parameter columns and filters)
// Prints "listening <port>" on stdout once it is ready; started with an IPC channel, it exits when
// the channel closes.
import http from 'node:http';
import { DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';

const [dir, capitalsJson, threads = '2', memory = '1GB', runParamsJson = '{}'] = process.argv.slice(2);
if (!dir || !capitalsJson) {
  process.stderr.write('usage: server.js DATASET_DIR CAPITALS_JSON [THREADS] [MEMORY]\n');
  process.exit(2);
}
const capitals = JSON.parse(capitalsJson) as Record<string, number>;
const runParams = JSON.parse(runParamsJson) as Record<string, Record<string, number | string | boolean | null>>;

const instance = await DuckDBInstance.create(':memory:', { threads, memory_limit: memory });
const setup = await instance.connect();
await setup.run(`SET TimeZone = 'UTC'`);
await setup.run(`CREATE VIEW bars AS SELECT * FROM read_parquet('${dir}/bars/**/*.parquet', hive_partitioning = true)`);
await setup.run(`CREATE VIEW trades AS SELECT *, coalesce(exit_ts, entry_ts) AS close_ts,
  (epoch_ms(exit_ts) - epoch_ms(entry_ts))::DOUBLE AS holding_ms FROM read_parquet('${dir}/trades/**/*.parquet')`);
await setup.run(`CREATE VIEW symbols AS SELECT * FROM read_parquet('${dir}/symbols.parquet')`);

type Params = Record<string, unknown> & {
  runs?: string[];
  from?: number;
  to?: number;
  filters?: { sectors?: string[]; symbols?: string[]; sides?: string[]; tags?: string[]; pnl?: { min?: number; max?: number } };
};

class Q {
  params: Record<string, DuckDBValue> = {};
  private n = 0;
  bind(v: DuckDBValue): string {
    const name = `p${this.n++}`;
    this.params[name] = v;
    return `$${name}`;
  }
  list(values: string[]): string {
    return `(${values.map((v) => this.bind(v)).join(', ')})`;
  }
  ts(ms: number): string {
    return `make_timestamp(${this.bind(BigInt(Math.round(ms * 1000)))}::BIGINT)`;
  }
}

const allRuns = Object.keys(capitals).sort();
const runsOf = (p: Params) => (p.runs?.length ? p.runs : allRuns);

/** Bars of the request, joined with their sector. */
function barsWhere(q: Q, p: Params): string {
  const parts = [`b.run_id IN ${q.list(runsOf(p))}`];
  if (p.from !== undefined) parts.push(`b.ts >= ${q.ts(p.from)}`);
  if (p.to !== undefined) parts.push(`b.ts <= ${q.ts(p.to)}`);
  if (p.filters?.sectors) parts.push(`s.sector IN ${q.list(p.filters.sectors)}`);
  if (p.filters?.symbols) parts.push(`b.symbol IN ${q.list(p.filters.symbols)}`);
  return parts.join(' AND ');
}

function tradesWhere(q: Q, p: Params): string {
  const parts = [`t.run_id IN ${q.list(runsOf(p))}`];
  if (p.from !== undefined) parts.push(`t.close_ts >= ${q.ts(p.from)}`);
  if (p.to !== undefined) parts.push(`t.close_ts <= ${q.ts(p.to)}`);
  const f = p.filters ?? {};
  if (f.sectors) parts.push(`s.sector IN ${q.list(f.sectors)}`);
  if (f.symbols) parts.push(`t.symbol IN ${q.list(f.symbols)}`);
  if (f.sides) parts.push(`t.side IN ${q.list(f.sides)}`);
  if (f.tags) parts.push(`t.tag IN ${q.list(f.tags)}`);
  if (f.pnl?.min !== undefined) parts.push(`t.pnl >= ${q.bind(f.pnl.min)}`);
  if (f.pnl?.max !== undefined) parts.push(`t.pnl <= ${q.bind(f.pnl.max)}`);
  return parts.join(' AND ');
}

function caps(q: Q, p: Params): string {
  return `SELECT * FROM (VALUES ${runsOf(p).map((r) => `(${q.bind(r)}, ${q.bind(capitals[r] ?? null)}::DOUBLE)`).join(', ')}) v(run_id, capital)`;
}

/** Daily P&L and returns: the run's trading days, the filtered bars' P&L. */
function daily(q: Q, p: Params): string {
  const cal = { ...p, filters: undefined };
  return `caps AS (${caps(q, p)}),
    cal AS (SELECT b.run_id, b.ts::DATE AS day, count(DISTINCT b.ts) AS bars FROM bars b JOIN symbols s USING (symbol) WHERE ${barsWhere(q, cal)} GROUP BY ALL),
    lvl AS (SELECT b.run_id, b.ts::DATE AS day, sum(b.pnl) AS pnl, sum(b.fees) AS fees, sum(abs(b.trade_qty) * b.price) AS traded_value,
              sum(abs(b.position_value)) AS gross_sum FROM bars b JOIN symbols s USING (symbol) WHERE ${barsWhere(q, p)} GROUP BY ALL),
    daily AS (SELECT c.run_id, c.day, c.bars, coalesce(l.pnl, 0) AS pnl, coalesce(l.fees, 0) AS fees, coalesce(l.traded_value, 0) AS traded_value,
              coalesce(l.gross_sum, 0) AS gross_sum, coalesce(l.pnl, 0) / k.capital AS ret
              FROM cal c JOIN caps k USING (run_id) LEFT JOIN lvl l USING (run_id, day))`;
}

function m4(q: Q, source: string, width: number, series: string[], extra: string[] = []): string {
  const w = q.bind(width);
  return `WITH src AS (${source}),
    bounds AS (SELECT min(t) AS t0, greatest(max(t) - min(t), 1) AS span FROM src),
    binned AS (SELECT s.*, least(floor((s.t - x.t0) / x.span * ${w}), ${w} - 1)::INTEGER AS px FROM src s, bounds x),
    keep AS (SELECT run_id, px, min(t) AS a, max(t) AS z, ${series.map((s, i) => `arg_min(t, ${s}) AS l${i}, arg_max(t, ${s}) AS h${i}`).join(', ')}
             FROM binned GROUP BY run_id, px)
    SELECT b.run_id, b.t AS ts, ${[...series, ...extra].map((c) => `b.${c}`).join(', ')}
    FROM binned b JOIN keep k USING (run_id, px)
    WHERE b.t IN (k.a, k.z, ${series.map((_, i) => `k.l${i}, k.h${i}`).join(', ')}) ORDER BY b.run_id, b.t`;
}

const SORTABLE = new Set(['trade_id', 'run_id', 'symbol', 'sector', 'side', 'tag', 'entry_ts', 'exit_ts', 'qty', 'entry_price', 'exit_price', 'fees', 'pnl', 'ret', 'bars_held', 'holding_ms', 'mae', 'mfe']);
const DIMS: Record<string, { bars: string; trades: string }> = {
  sector: { bars: 's.sector', trades: 's.sector' },
  symbol: { bars: 'b.symbol', trades: 't.symbol' },
  run: { bars: 'b.run_id', trades: 't.run_id' },
  month: { bars: "strftime(b.ts, '%Y-%m')", trades: "strftime(t.close_ts, '%Y-%m')" },
  weekday: { bars: 'isodow(b.ts)::VARCHAR', trades: 'isodow(t.close_ts)::VARCHAR' },
  hour: { bars: "lpad(hour(b.ts)::VARCHAR, 2, '0')", trades: "lpad(hour(t.close_ts)::VARCHAR, 2, '0')" },
};
const BREAKDOWN_SORT = new Set(['key', 'pnl', 'contribution', 'fees', 'trades', 'win_rate', 'avg_exposure']);
const FIELDS = new Set(['pnl', 'ret', 'bars_held', 'holding_ms', 'mae', 'mfe']);

async function answer(query: string, p: Params): Promise<{ rows: unknown[]; total?: number }> {
  const connection = await instance.connect();
  try {
    const run = async (sql: string, q: Q) => (await connection.runAndReadAll(sql, q.params)).getRowObjectsJson();
    const q = new Q();
    switch (query) {
      case 'summary': {
        const sql = `WITH ${daily(q, p)},
          curve AS (SELECT *, product(1 + ret) OVER w AS wealth, sum(pnl) OVER w AS cum FROM daily WINDOW w AS (PARTITION BY run_id ORDER BY day)),
          dd AS (SELECT *, wealth / greatest(1, max(wealth) OVER w) - 1 AS dd, cum - greatest(0, max(cum) OVER w) AS dd_pnl FROM curve WINDOW w AS (PARTITION BY run_id ORDER BY day)),
          st AS (SELECT run_id, count(*) AS days, sum(pnl) AS total_pnl, sum(fees) AS fees, avg(ret) AS m, stddev_samp(ret) AS sd,
                   sqrt(avg(least(ret, 0) ^ 2)) AS down, product(1 + ret) AS growth, min(dd) AS max_dd, min(dd_pnl) AS max_dd_pnl,
                   arg_min(day, dd) AS trough, count(*) FILTER (WHERE pnl > 0) / count(*) AS day_win_rate,
                   avg(traded_value / nullif(gross_sum / bars, 0)) AS turnover FROM dd GROUP BY run_id),
          tr AS (SELECT t.run_id, count(*) AS trades, count(*) FILTER (WHERE t.pnl > 0) / count(*) AS win_rate,
                   sum(t.pnl) FILTER (WHERE t.pnl > 0) / abs(sum(t.pnl) FILTER (WHERE t.pnl < 0)) AS profit_factor,
                   avg(t.holding_ms) AS avg_holding_ms, sum(t.pnl) FILTER (WHERE t.side = 'long') AS long_pnl,
                   sum(t.pnl) FILTER (WHERE t.side = 'short') AS short_pnl
                 FROM trades t JOIN symbols s USING (symbol) WHERE ${tradesWhere(q, p)} GROUP BY t.run_id)
          SELECT st.*, growth - 1 AS total_return, pow(growth, 252.0 / days) - 1 AS cagr, sd * sqrt(252) AS annual_volatility,
            m / sd * sqrt(252) AS sharpe, m * 252 / (down * sqrt(252)) AS sortino, (pow(growth, 252.0 / days) - 1) / abs(max_dd) AS calmar, tr.*
          FROM st LEFT JOIN tr USING (run_id) ORDER BY run_id`;
        return { rows: await run(sql, q) };
      }
      case 'equity': {
        const source = `SELECT run_id, t, equity, equity - greatest(0, max(equity) OVER w) AS drawdown FROM (
            SELECT run_id, t, sum(pnl) OVER w AS equity FROM (
              SELECT b.run_id, epoch_ms(b.ts)::DOUBLE AS t, sum(b.pnl) AS pnl FROM bars b JOIN symbols s USING (symbol) WHERE ${barsWhere(q, p)} GROUP BY ALL)
            WINDOW w AS (PARTITION BY run_id ORDER BY t)) WINDOW w AS (PARTITION BY run_id ORDER BY t)`;
        return { rows: await run(m4(q, source, Number(p.width), ['equity', 'drawdown']), q) };
      }
      case 'exposure': {
        const source = `SELECT b.run_id, epoch_ms(b.ts)::DOUBLE AS t, sum(abs(b.position_value)) AS gross, sum(b.position_value) AS net,
            sum(greatest(b.position_value, 0)) AS long, sum(least(b.position_value, 0)) AS short
          FROM bars b JOIN symbols s USING (symbol) WHERE ${barsWhere(q, p)} GROUP BY ALL`;
        return { rows: await run(m4(q, source, Number(p.width), ['gross', 'net', 'long', 'short']), q) };
      }
      case 'breakdown': {
        const dim = DIMS[String(p.by)];
        const sort = (p.sort as { column?: string; descending?: boolean } | undefined) ?? { column: 'pnl', descending: true };
        if (!dim || !BREAKDOWN_SORT.has(String(sort.column))) throw new Error('bad breakdown');
        const total = runsOf(p).reduce((a, r) => a + (capitals[r] ?? 0), 0);
        const sql = `WITH m AS (SELECT ${dim.bars} AS key, sum(b.pnl) AS pnl, sum(b.fees) AS fees, sum(abs(b.position_value)) AS gross
                       FROM bars b JOIN symbols s USING (symbol) WHERE ${barsWhere(q, p)} GROUP BY 1),
            n AS (SELECT count(DISTINCT (b.run_id, b.ts)) AS bars FROM bars b WHERE ${barsWhere(q, { ...p, filters: undefined }).replace(/s\.sector IN \([^)]*\)/, 'TRUE')}),
            t AS (SELECT ${dim.trades} AS key, count(*) AS trades, count(*) FILTER (WHERE t.pnl > 0) / count(*) AS win_rate
                  FROM trades t JOIN symbols s USING (symbol) WHERE ${tradesWhere(q, p)} GROUP BY 1)
          SELECT coalesce(m.key, t.key) AS key, coalesce(m.pnl, 0) AS pnl, coalesce(m.pnl, 0) / ${q.bind(total)} AS contribution,
            coalesce(m.fees, 0) AS fees, coalesce(t.trades, 0) AS trades, t.win_rate, m.gross / n.bars AS avg_exposure, count(*) OVER () AS total
          FROM m FULL JOIN t USING (key) CROSS JOIN n
          ORDER BY ${sort.column} ${sort.descending ? 'DESC' : 'ASC'} NULLS LAST, key LIMIT ${q.bind(Number(p.limit))} OFFSET ${q.bind(Number(p.offset ?? 0))}`;
        const rows = await run(sql, q);
        return { rows, total: Number((rows[0] as { total?: unknown } | undefined)?.total ?? 0) };
      }
      case 'series': {
        const symbol = q.bind(String(p.symbol));
        const range = `${p.from !== undefined ? `AND ts >= ${q.ts(p.from)}` : ''} ${p.to !== undefined ? `AND ts <= ${q.ts(p.to)}` : ''}`;
        const source = `SELECT run_id, epoch_ms(ts)::DOUBLE AS t, price, position_qty, position_value,
            sum(pnl) OVER (PARTITION BY run_id ORDER BY ts) AS cum_pnl
          FROM bars WHERE run_id IN ${q.list(runsOf(p))} AND symbol = ${symbol} ${range}`;
        const points = await run(m4(q, source, Number(p.width), ['price', 'position_value', 'cum_pnl'], ['position_qty']), q);
        const q2 = new Q();
        const r2 = `${p.from !== undefined ? `AND (entry_ts >= ${q2.ts(p.from)} OR exit_ts >= ${q2.ts(p.from)})` : ''} ${p.to !== undefined ? `AND (entry_ts <= ${q2.ts(p.to)} OR exit_ts <= ${q2.ts(p.to)})` : ''}`;
        const trades = await run(`SELECT * FROM trades WHERE run_id IN ${q2.list(runsOf(p))} AND symbol = ${q2.bind(String(p.symbol))} ${r2} ORDER BY run_id, entry_ts LIMIT 5000`, q2);
        return { rows: [...points, ...trades] };
      }
      case 'trades': {
        const sort = (p.sort as { column?: string; descending?: boolean } | undefined) ?? { column: 'entry_ts' };
        if (!SORTABLE.has(String(sort.column))) throw new Error('bad sort');
        const where = tradesWhere(q, p);
        const rows = await run(`SELECT t.*, s.sector FROM trades t JOIN symbols s USING (symbol) WHERE ${where}
          ORDER BY ${sort.column} ${sort.descending ? 'DESC' : 'ASC'} NULLS LAST, t.run_id, t.trade_id
          LIMIT ${q.bind(Number(p.limit))} OFFSET ${q.bind(Number(p.offset ?? 0))}`, q);
        const q2 = new Q();
        const [count] = await run(`SELECT count(*) AS n FROM trades t JOIN symbols s USING (symbol) WHERE ${tradesWhere(q2, p)}`, q2);
        return { rows, total: Number((count as { n: unknown }).n) };
      }
      case 'histogram': {
        const bins = q.bind(Number(p.bins));
        const values =
          p.field === 'daily_return'
            ? `${daily(q, p)}, hv AS (SELECT run_id, ret AS v FROM daily)`
            : FIELDS.has(String(p.field))
              ? `hv AS (SELECT t.run_id, t.${String(p.field)}::DOUBLE AS v FROM trades t JOIN symbols s USING (symbol) WHERE ${tradesWhere(q, p)})`
              : null;
        if (!values) throw new Error('bad field');
        const sql = `WITH ${values}, hb AS (SELECT min(v) AS lo, max(v) AS hi FROM hv)
          SELECT run_id, least(floor((v - lo) / nullif(hi - lo, 0) * ${bins}), ${bins} - 1)::INTEGER AS bin, count(*) AS count
          FROM hv, hb GROUP BY ALL ORDER BY ALL`;
        return { rows: await run(sql, q) };
      }
      case 'heatmap':
        return {
          rows: await run(`WITH ${daily(q, p)} SELECT run_id, year(day) AS year, month(day) AS month, product(1 + ret) - 1 AS ret, sum(pnl) AS pnl
            FROM daily GROUP BY ALL ORDER BY ALL`, q),
        };
      case 'rolling': {
        const n = Number(p.window);
        const sql = `WITH ${daily(q, p)},
          closes AS (SELECT symbol, ts::DATE AS day, arg_max(price, ts) AS close FROM bars WHERE run_id = ${q.bind(allRuns[0]!)} GROUP BY ALL),
          market AS (SELECT day, avg(r) AS mret FROM (SELECT day, close / lag(close) OVER (PARTITION BY symbol ORDER BY day) - 1 AS r FROM closes) GROUP BY day)
          SELECT run_id, day, ret, avg(ret) OVER w / stddev_samp(ret) OVER w * sqrt(252) AS sharpe, stddev_samp(ret) OVER w * sqrt(252) AS volatility,
            regr_slope(ret, mret) OVER w AS beta
          FROM daily LEFT JOIN market USING (day) WINDOW w AS (PARTITION BY run_id ORDER BY day ROWS BETWEEN ${n - 1} PRECEDING AND CURRENT ROW)
          ORDER BY run_id, day`;
        return { rows: await run(sql, q) };
      }
      case 'scatter': {
        // Every trade in scope, or past 20,000 the 20,000 with the smallest md5 keys, in entry order.
        const sql = `SELECT run_id, trade_id, symbol, entry_ts, exit_ts, mae, mfe, ret, pnl, total FROM (
            SELECT t.*, count(*) OVER () AS total FROM trades t JOIN symbols s USING (symbol) WHERE ${tradesWhere(q, p)}
            ORDER BY md5_number_upper(t.run_id || '#' || t.trade_id::VARCHAR), t.run_id, t.trade_id LIMIT 20000)
          ORDER BY entry_ts NULLS LAST, run_id, trade_id`;
        const rows = await run(sql, q);
        return { rows, total: Number((rows[0] as { total?: unknown } | undefined)?.total ?? 0) };
      }
      case 'episodes': {
        // Stretches under water of the daily wealth index, numbered by their first day, deepest first.
        const sql = `WITH ${daily(q, p)},
          curve AS (SELECT run_id, day, pnl, product(1 + ret) OVER w AS wealth, sum(pnl) OVER w AS cum FROM daily WINDOW w AS (PARTITION BY run_id ORDER BY day)),
          marked AS (SELECT *, greatest(1, max(wealth) OVER w) AS peak FROM curve WINDOW w AS (PARTITION BY run_id ORDER BY day)),
          edges AS (SELECT *, wealth < peak AS under, coalesce(lag(wealth < peak) OVER w, false) AS was_under, lag(day) OVER w AS prev_day,
                      lag(cum, 1, 0) OVER w AS prev_cum, lead(day) OVER w AS next_day, first_value(day) OVER w AS first_day
                    FROM marked WINDOW w AS (PARTITION BY run_id ORDER BY day)),
          numbered AS (SELECT *, sum((under AND NOT was_under)::INTEGER) OVER w AS episode FROM edges WINDOW w AS (PARTITION BY run_id ORDER BY day)),
          under_days AS (SELECT *, row_number() OVER (PARTITION BY run_id, episode ORDER BY day) AS pos FROM numbered WHERE under),
          episodes AS (SELECT run_id, coalesce(arg_min_null(prev_day, day), any_value(first_day)) AS peak_ts, arg_min_null(prev_day, day) IS NULL AS from_start,
                         arg_min(day, wealth) AS trough_ts, arg_max_null(next_day, day) AS recovery_ts, min(wealth) / any_value(peak) - 1 AS depth,
                         arg_min(cum, wealth) - arg_min(prev_cum, day) AS depth_pnl, arg_min(pos, wealth) AS days_to_trough,
                         CASE WHEN arg_max_null(next_day, day) IS NOT NULL THEN count(*) + 1 END AS days_to_recovery
                       FROM under_days GROUP BY run_id, episode)
          SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY run_id ORDER BY depth, peak_ts) AS rank FROM episodes)
          WHERE rank <= ${q.bind(Number(p.limit))} ORDER BY run_id, rank`;
        return { rows: await run(sql, q) };
      }
      case 'attribution': {
        // Group P&L from the bars in range; the positions at the range's start marked at its end.
        const sector = typeof p.sector === 'string' ? p.sector : null;
        const scoped: Params = sector ? { ...p, filters: { ...p.filters, sectors: [sector] } } : p;
        const key = sector ? 'symbol' : 'sector';
        const dims = (side: string) => {
          const parts = [`b.run_id IN ${q.list(runsOf(scoped))}`, side];
          if (scoped.filters?.sectors) parts.push(`s.sector IN ${q.list(scoped.filters.sectors)}`);
          if (scoped.filters?.symbols) parts.push(`b.symbol IN ${q.list(scoped.filters.symbols)}`);
          return parts.join(' AND ');
        };
        const held =
          p.from === undefined
            ? `SELECT NULL AS run_id, NULL AS key, 0 AS held WHERE FALSE`
            : `SELECT s0.run_id, sy.${key} AS key, sum(coalesce(s0.pv * (s1.price / nullif(s0.price, 0) - 1), 0)) AS held
                FROM (SELECT b.run_id, b.symbol, arg_max(b.position_value, b.ts) AS pv, arg_max(b.price, b.ts) AS price
                      FROM bars b JOIN symbols s USING (symbol) WHERE ${dims(`b.ts < ${q.ts(p.from)}`)} GROUP BY ALL) s0
                JOIN (SELECT b.run_id, b.symbol, arg_max(b.price, b.ts) AS price
                      FROM bars b JOIN symbols s USING (symbol) WHERE ${dims(p.to === undefined ? 'TRUE' : `b.ts <= ${q.ts(p.to)}`)} GROUP BY ALL) s1
                  USING (run_id, symbol)
                JOIN symbols sy USING (symbol) GROUP BY ALL`;
        const sql = `WITH g AS (SELECT b.run_id, ${key === 'symbol' ? 'b.symbol' : 's.sector'} AS key, sum(b.pnl) AS pnl
                       FROM bars b JOIN symbols s USING (symbol) WHERE ${barsWhere(q, scoped)} GROUP BY ALL),
            h AS (${held}),
            t AS (SELECT t.run_id, ${key === 'symbol' ? 't.symbol' : 's.sector'} AS key, count(*) AS trades
                  FROM trades t JOIN symbols s USING (symbol) WHERE ${tradesWhere(q, scoped)} GROUP BY ALL)
          SELECT run_id, key, coalesce(g.pnl, 0) AS pnl, coalesce(h.held, 0) AS held_pnl, coalesce(g.pnl, 0) - coalesce(h.held, 0) AS traded_pnl,
            coalesce(t.trades, 0) AS trades
          FROM g FULL JOIN t USING (run_id, key) LEFT JOIN h USING (run_id, key) ORDER BY run_id, pnl DESC, key`;
        return { rows: await run(sql, q) };
      }
      case 'risk': {
        // Benchmark-relative metrics to the equal-weighted market, PSR's moments, and the P&L and
        // Sharpe without the best trades (out of their close days) and the best symbols.
        const rf = q.bind((1 + Number(p.riskFreeRate ?? 0)) ** (1 / 252) - 1);
        const sql = `WITH ${daily(q, p)},
          closes AS (SELECT symbol, ts::DATE AS day, arg_max(price, ts) AS close FROM bars WHERE run_id = ${q.bind(allRuns[0]!)} GROUP BY ALL),
          market AS (SELECT day, avg(r) AS bret FROM (SELECT day, close / lag(close) OVER (PARTITION BY symbol ORDER BY day) - 1 AS r FROM closes) GROUP BY day),
          paired AS (SELECT d.run_id, d.ret, m.bret, d.ret - m.bret AS active FROM daily d JOIN market m USING (day) WHERE m.bret IS NOT NULL),
          rel AS (SELECT run_id, count(*) AS benchmark_days, regr_slope(ret, bret) AS beta, corr(ret, bret) AS correlation,
                    stddev_samp(active) * sqrt(252) AS tracking_error, avg(active) / stddev_samp(active) * sqrt(252) AS information_ratio,
                    pow(1 + avg(ret) - ${rf} - regr_slope(ret, bret) * (avg(bret) - ${rf}), 252) - 1 AS alpha
                  FROM paired GROUP BY run_id),
          ranked_trades AS (SELECT t.run_id, t.close_ts::DATE AS day, t.pnl, row_number() OVER (PARTITION BY t.run_id ORDER BY t.pnl DESC, t.trade_id) AS k,
                              count(*) OVER (PARTITION BY t.run_id) AS n
                            FROM trades t JOIN symbols s USING (symbol) WHERE ${tradesWhere(q, p)} AND t.pnl IS NOT NULL),
          best_trades AS (SELECT run_id, day, sum(pnl) FILTER (WHERE k <= ceil(0.01 * n)) AS top1, sum(pnl) FILTER (WHERE k <= ceil(0.05 * n)) AS top5
                          FROM ranked_trades GROUP BY ALL),
          symbol_days AS (SELECT b.run_id, b.symbol, b.ts::DATE AS day, sum(b.pnl) AS pnl FROM bars b JOIN symbols s USING (symbol) WHERE ${barsWhere(q, p)} GROUP BY ALL),
          ranked_symbols AS (SELECT run_id, symbol, row_number() OVER (PARTITION BY run_id ORDER BY sum(pnl) DESC, symbol) AS k FROM symbol_days GROUP BY run_id, symbol),
          other_symbols AS (SELECT d.run_id, d.day, sum(d.pnl) FILTER (WHERE r.k > 1) AS rest1, sum(d.pnl) FILTER (WHERE r.k > 5) AS rest5,
                              sum(d.pnl) FILTER (WHERE r.k > 10) AS rest10
                            FROM symbol_days d JOIN ranked_symbols r USING (run_id, symbol) GROUP BY ALL),
          adjusted AS (SELECT d.*, (d.pnl - coalesce(t.top1, 0)) / k.capital AS r1, (d.pnl - coalesce(t.top5, 0)) / k.capital AS r5,
                         coalesce(o.rest1, 0) / k.capital AS s1, coalesce(o.rest5, 0) / k.capital AS s5, coalesce(o.rest10, 0) / k.capital AS s10
                       FROM daily d JOIN caps k USING (run_id) LEFT JOIN best_trades t USING (run_id, day) LEFT JOIN other_symbols o USING (run_id, day)),
          own AS (SELECT run_id, count(*) AS days, sum(pnl) AS total_pnl, (avg(ret) - ${rf}) / stddev_samp(ret) * sqrt(252) AS sharpe,
                    skewness(ret) AS skew, kurtosis(ret) AS kurtosis,
                    ${['r1', 'r5', 's1', 's5', 's10'].map((c) => `(avg(${c}) - ${rf}) / stddev_samp(${c}) * sqrt(252) AS sharpe_${c}, sum(${c} * k.capital) AS pnl_${c}`).join(', ')}
                  FROM adjusted JOIN caps k USING (run_id) GROUP BY run_id)
          SELECT * FROM own LEFT JOIN rel USING (run_id) ORDER BY run_id`;
        return { rows: await run(sql, q) };
      }
      case 'benchmark': {
        // The runs' capital in the equal-weighted market, by day.
        const sql = `WITH ${daily(q, { ...p, filters: undefined })},
          closes AS (SELECT symbol, ts::DATE AS day, arg_max(price, ts) AS close FROM bars WHERE run_id = ${q.bind(allRuns[0]!)} GROUP BY ALL),
          market AS (SELECT day, avg(r) AS bret FROM (SELECT day, close / lag(close) OVER (PARTITION BY symbol ORDER BY day) - 1 AS r FROM closes) GROUP BY day)
          SELECT d.run_id, d.day, m.bret AS ret, k.capital * (product(1 + coalesce(m.bret, 0)) OVER (PARTITION BY d.run_id ORDER BY d.day) - 1) AS equity
          FROM daily d JOIN caps k USING (run_id) LEFT JOIN market m USING (day) ORDER BY d.run_id, d.day`;
        return { rows: await run(sql, q) };
      }
      case 'leaderboard':
      case 'surface': {
        const rows = await sweepMetrics(run, p);
        return query === 'leaderboard' ? leaderboardOf(rows, p) : { rows: surfaceOf(rows, p) };
      }
      case 'rundiff':
        return { rows: await runDiff(run, p) };
      default:
        throw new Error(`unknown query ${query}`);
    }
  } finally {
    connection.closeSync();
  }
}

// ---------------------------------------------------------------------------------------------
// Parameter sweeps: every run's KPIs in one SQL over the raw bars and trades, the deflated Sharpe
// ratio, parameter filters, sorting and the surface's cells in JS; a run diff's candidate pairs in
// SQL, matched greedily in JS, the P&L difference by symbol and sector from the bars.

type Run = (sql: string, q: Q) => Promise<Record<string, unknown>[]>;
type ParamFilter = { name: string; values?: unknown[]; min?: number; max?: number };

async function sweepMetrics(run: Run, p: Params): Promise<Record<string, unknown>[]> {
  const q = new Q();
  const rf = q.bind((1 + Number(p.riskFreeRate ?? 0)) ** (1 / 252) - 1);
  const all: Params = { ...p, runs: undefined };
  const sql = `WITH ${daily(q, all)},
    closes AS (SELECT symbol, ts::DATE AS day, arg_max(price, ts) AS close FROM bars WHERE run_id = ${q.bind(allRuns[0]!)} GROUP BY ALL),
    market AS (SELECT day, avg(r) AS bret FROM (SELECT day, close / lag(close) OVER (PARTITION BY symbol ORDER BY day) - 1 AS r FROM closes) GROUP BY day),
    curve AS (SELECT *, product(1 + ret) OVER w AS wealth FROM daily WINDOW w AS (PARTITION BY run_id ORDER BY day)),
    dd AS (SELECT *, wealth / greatest(1, max(wealth) OVER w) - 1 AS dd FROM curve WINDOW w AS (PARTITION BY run_id ORDER BY day)),
    st AS (SELECT run_id, count(*) AS days, sum(pnl) AS total_pnl, sum(fees) AS fees, avg(ret) AS m, stddev_samp(ret) AS sd,
             sqrt(avg(least(ret - ${rf}, 0) ^ 2)) AS down, product(1 + ret) AS growth, min(dd) AS max_dd,
             avg(traded_value / nullif(gross_sum / bars, 0)) AS turnover, skewness(ret) AS skew, kurtosis(ret) + 3 AS kurt
           FROM dd GROUP BY run_id),
    bm AS (SELECT d.run_id, product(1 + m.bret) AS bgrowth FROM daily d JOIN market m USING (day) WHERE m.bret IS NOT NULL GROUP BY d.run_id),
    tr AS (SELECT t.run_id, count(*) AS trades, count(*) FILTER (WHERE t.pnl > 0) / count(*) AS win_rate
           FROM trades t JOIN symbols s USING (symbol) WHERE ${tradesWhere(q, all)} GROUP BY t.run_id)
    SELECT st.run_id, total_pnl, growth - 1 AS total_return, pow(growth, 252.0 / days) - 1 AS cagr, (m - ${rf}) / sd * sqrt(252) AS sharpe,
      (m - ${rf}) * 252 / (down * sqrt(252)) AS sortino, max_dd AS max_drawdown, (pow(growth, 252.0 / days) - 1) / abs(max_dd) AS calmar,
      coalesce(tr.trades, 0) AS trade_count, tr.win_rate AS trade_win_rate, turnover, fees, growth - bgrowth AS excess_return,
      (m - ${rf}) / sd AS sr, skew, kurt, days
    FROM st LEFT JOIN tr USING (run_id) LEFT JOIN bm USING (run_id) ORDER BY st.run_id`;
  const rows = await run(sql, q);
  // The deflated Sharpe ratio: every run is a trial.
  const srs = rows.map((r) => Number(r.sr)).filter(Number.isFinite);
  const mean = srs.reduce((a, x) => a + x, 0) / srs.length;
  const v = srs.reduce((a, x) => a + (x - mean) ** 2, 0) / (srs.length - 1);
  const n = rows.length;
  const g = 0.5772156649015329;
  const sr0 = n < 2 ? 0 : Math.sqrt(v) * ((1 - g) * normInv(1 - 1 / n) + g * normInv(1 - 1 / (n * Math.E)));
  for (const r of rows) {
    const [sr, skew, kurt, t] = [Number(r.sr), Number(r.skew), Number(r.kurt), Number(r.days)];
    r.deflated_sharpe = normCdf(((sr - sr0) * Math.sqrt(t - 1)) / Math.sqrt(1 - skew * sr + ((kurt - 1) / 4) * sr * sr));
    for (const [key, value] of Object.entries(runParams[String(r.run_id)] ?? {})) r[`param.${key}`] = value;
  }
  const selected = new Set(p.runs?.length ? p.runs : allRuns);
  const filters = (p.params as ParamFilter[] | undefined) ?? [];
  return rows.filter((r) => selected.has(String(r.run_id)) && filters.every((f) => {
    const value = runParams[String(r.run_id)]?.[f.name];
    if (value === undefined || value === null) return false;
    if (f.values && !f.values.includes(value)) return false;
    return (f.min === undefined || (typeof value === 'number' && value >= f.min)) && (f.max === undefined || (typeof value === 'number' && value <= f.max));
  }));
}

function normCdf(z: number): number {
  // Abramowitz and Stegun 7.1.26.
  const t = 1 / (1 + 0.3275911 * (Math.abs(z) / Math.SQRT2));
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

function normInv(p: number): number {
  let lo = -10;
  let hi = 10;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (normCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

const missing = (v: unknown) => v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v));

function leaderboardOf(rows: Record<string, unknown>[], p: Params): { rows: unknown[]; total: number } {
  const sort = (p.sort as { column?: string; descending?: boolean } | undefined) ?? { column: 'run_id' };
  const column = String(sort.column);
  const sign = sort.descending ? -1 : 1;
  const sorted = [...rows].sort((a, b) => {
    const [x, y] = [a[column], b[column]];
    if (missing(x) || missing(y)) return missing(x) === missing(y) ? String(a.run_id).localeCompare(String(b.run_id)) : missing(x) ? 1 : -1;
    return ((x as number) < (y as number) ? -1 : (x as number) > (y as number) ? 1 : 0) * sign || String(a.run_id).localeCompare(String(b.run_id));
  });
  const offset = Number(p.offset ?? 0);
  return { rows: sorted.slice(offset, offset + Number(p.limit)), total: rows.length };
}

function surfaceOf(rows: Record<string, unknown>[], p: Params): unknown[] {
  const axes = [String(p.x), ...(p.y === undefined ? [] : [String(p.y)])];
  const cells = new Map<string, Record<string, unknown>[]>();
  for (const r of rows) {
    const key = axes.map((a) => r[`param.${a}`]);
    if (key.some(missing)) continue;
    const id = JSON.stringify(key);
    (cells.get(id) ?? cells.set(id, []).get(id)!).push(r);
  }
  const metric = String(p.metric);
  return [...cells.entries()].map(([id, members]) => {
    const values = members.map((m) => Number(m[metric])).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
    const mid = values.length >> 1;
    const best = members.reduce((a, m) => (Number(m[metric]) > Number(a[metric]) ? m : a), members[0]!);
    const [x, y] = JSON.parse(id) as unknown[];
    return { x, y, runs: members.length, value: values.length % 2 ? values[mid] : (values[mid - 1]! + values[mid]!) / 2, best: best[metric], best_run_id: best.run_id };
  });
}

async function runDiff(run: Run, p: Params): Promise<unknown[]> {
  const [a, b] = [String(p.a), String(p.b)];
  const q = new Q();
  const side = (r: string) => `SELECT t.trade_id, t.symbol, t.entry_ts, t.close_ts, t.pnl FROM trades t JOIN symbols s USING (symbol) WHERE ${tradesWhere(q, { ...p, runs: [r] })}`;
  const pairs = await run(`WITH ta AS (${side(a)}), tb AS (${side(b)})
    SELECT ta.trade_id AS a, tb.trade_id AS b, epoch_ms(least(ta.close_ts, tb.close_ts)) - epoch_ms(greatest(ta.entry_ts, tb.entry_ts)) AS overlap,
      epoch_ms(ta.entry_ts) AS ae, epoch_ms(tb.entry_ts) AS be, ta.pnl AS a_pnl, tb.pnl AS b_pnl, ta.symbol
    FROM ta JOIN tb ON ta.symbol = tb.symbol AND ta.entry_ts <= tb.close_ts AND tb.entry_ts <= ta.close_ts`, q);
  pairs.sort((x, y) => Number(y.overlap) - Number(x.overlap) || Number(x.ae) - Number(y.ae) || Number(x.be) - Number(y.be));
  const usedA = new Set<unknown>();
  const usedB = new Set<unknown>();
  const matched = pairs.filter((pair) => !usedA.has(pair.a) && !usedB.has(pair.b) && usedA.add(pair.a) && usedB.add(pair.b));
  const q2 = new Q();
  const trades = await run(`SELECT t.run_id, t.trade_id, t.symbol, t.side, t.entry_ts, t.exit_ts, t.pnl FROM trades t JOIN symbols s USING (symbol)
    WHERE ${tradesWhere(q2, { ...p, runs: [a, b] })}`, q2);
  const onlyA = trades.filter((t) => t.run_id === a && !usedA.has(t.trade_id));
  const onlyB = trades.filter((t) => t.run_id === b && !usedB.has(t.trade_id));
  const q3 = new Q();
  const symbols = await run(`SELECT b.symbol, s.sector, coalesce(sum(b.pnl) FILTER (WHERE b.run_id = ${q3.bind(a)}), 0) AS a_pnl,
      coalesce(sum(b.pnl) FILTER (WHERE b.run_id = ${q3.bind(b)}), 0) AS b_pnl
    FROM bars b JOIN symbols s USING (symbol) WHERE ${barsWhere(q3, { ...p, runs: [a, b] })} GROUP BY ALL`, q3);
  const sectors = new Map<string, number>();
  for (const s of symbols) sectors.set(String(s.sector), (sectors.get(String(s.sector)) ?? 0) + Number(s.a_pnl) - Number(s.b_pnl));
  const limit = Number(p.limit ?? 1000);
  const byAbs = (key: string) => (x: Record<string, unknown>, y: Record<string, unknown>) => Math.abs(Number(y[key])) - Math.abs(Number(x[key]));
  return [
    { a_trades: trades.filter((t) => t.run_id === a).length, b_trades: trades.filter((t) => t.run_id === b).length, matched: matched.length, only_a: onlyA.length, only_b: onlyB.length },
    ...matched.map((m) => ({ ...m, pnl_difference: Number(m.a_pnl) - Number(m.b_pnl) })).sort(byAbs('pnl_difference')).slice(0, limit),
    ...onlyA.sort(byAbs('pnl')).slice(0, limit),
    ...onlyB.sort(byAbs('pnl')).slice(0, limit),
    ...[...sectors].map(([sector, difference]) => ({ sector, difference })),
    ...symbols.map((s) => ({ ...s, difference: Number(s.a_pnl) - Number(s.b_pnl) })).sort(byAbs('difference')).slice(0, limit),
  ];
}

const server = http.createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString()));
  request.on('end', () => {
    void (async () => {
      try {
        const { query, params } = JSON.parse(body) as { query: string; params: Params };
        const result = await answer(query, params);
        const json = JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
        response.writeHead(200, { 'content-type': 'application/json' }).end(json);
      } catch (error) {
        response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (error as Error).message }));
      }
    })();
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
// Ends with its parent (the benchmark), however the parent ends: the IPC channel closes.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
