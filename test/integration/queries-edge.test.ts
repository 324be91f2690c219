// Edge cases as data, not as ranges: a hand-written dataset where one run has a single trading
// day, every trade loses, one symbol has bars but no trades, and only one run states its capital.
// Prepared by the real pipeline, queried through the session's path, compared with the same
// independent computation as test/queries.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { checkM4, nearRows, scopeParams } from '../support/checks.js';
import { LocalSession, type Ask } from '../support/local-session.js';
import { equityRef, loadRaw, perBar, summaryRef, tradesIn, tradingTimeRef, type RawData, type RefScope } from '../support/reference.js';

let dir = '';
let session: LocalSession;
let raw: RawData;
let capital: (run: string) => number | null;

const DAY1 = Date.UTC(2024, 2, 4, 14, 35);
const BAR = 5 * 60_000;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-edge-'));
  for (const run of ['one', 'two']) await mkdir(path.join(dir, 'bars', `run_id=${run}`), { recursive: true });
  await mkdir(path.join(dir, 'trades'));
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    await c.run(`SET TimeZone = 'UTC'`);
    await c.run(`COPY (SELECT * FROM (VALUES ('AAA', 'Tech', 'Software'), ('BBB', 'Tech', 'Hardware'), ('CCC', 'Energy', 'Oil'), ('ZZZ', 'Energy', 'Gas'))
      v(symbol, sector, industry)) TO '${dir}/symbols.parquet' (FORMAT parquet)`);
    await c.run(`COPY (SELECT * FROM (VALUES ('one', 'One day', '{"capital": 1000000}'), ('two', 'Three days', '{"note": "no capital"}'))
      v(run_id, name, params)) TO '${dir}/runs.parquet' (FORMAT parquet)`);
    // run one: a single day of 6 bars for AAA, BBB, ZZZ; run two: three days for AAA, CCC, ZZZ.
    const bars = (symbols: string[], days: number) => `
      SELECT make_timestamp((${DAY1} + d * 86400000 + k * ${BAR})::BIGINT * 1000) AS ts, s.symbol,
        100 + s.i * 10 + d + k * 0.5 AS price,
        CASE WHEN s.symbol = 'ZZZ' THEN 50 ELSE (s.i + 1) * 100 * (CASE WHEN s.i % 2 = 0 THEN 1 ELSE -1 END) END AS position_qty,
        (CASE WHEN s.symbol = 'ZZZ' THEN 50 ELSE (s.i + 1) * 100 * (CASE WHEN s.i % 2 = 0 THEN 1 ELSE -1 END) END) * (100 + s.i * 10 + d + k * 0.5) AS position_value,
        CASE WHEN k = 0 THEN 10 ELSE 0 END AS trade_qty,
        CASE WHEN k = 0 THEN 1.5 ELSE 0 END AS fees,
        ((s.i * 7 + d * 3 + k * 5) % 11 - 5) * 12.5 - CASE WHEN k = 0 THEN 1.5 ELSE 0 END AS pnl
      FROM (SELECT unnest([${symbols.map((s) => `'${s}'`).join(', ')}]) AS symbol, generate_subscripts([${symbols.map((s) => `'${s}'`).join(', ')}], 1) AS i) s,
        range(${days}) t(d), range(6) u(k)`;
    await c.run(`COPY (${bars(['AAA', 'BBB', 'ZZZ'], 1)}) TO '${dir}/bars/run_id=one/part-0.parquet' (FORMAT parquet)`);
    await c.run(`COPY (${bars(['AAA', 'CCC', 'ZZZ'], 3)}) TO '${dir}/bars/run_id=two/part-0.parquet' (FORMAT parquet)`);
    // Every trade loses; ZZZ has none.
    await c.run(`COPY (SELECT run_id, row_number() OVER () AS trade_id, symbol, side,
        make_timestamp((${DAY1} + d * 86400000)::BIGINT * 1000) AS entry_ts,
        make_timestamp((${DAY1} + d * 86400000 + 4 * ${BAR})::BIGINT * 1000) AS exit_ts,
        100.0 AS qty, 100.0 AS entry_price, 99.0 AS exit_price, 1.0 AS fees, -(10 + d * 3 + length(symbol)) AS pnl,
        -0.01 AS ret, 4 AS bars_held, -0.02 AS mae, 0.0 AS mfe, 'q' || (d % 2 + 1) AS tag
      FROM (VALUES ('one', 'AAA', 'long', 0), ('one', 'BBB', 'short', 0), ('two', 'AAA', 'long', 0), ('two', 'AAA', 'short', 1),
                   ('two', 'CCC', 'long', 2), ('two', 'CCC', 'short', 1)) v(run_id, symbol, side, d))
      TO '${dir}/trades/trades.parquet' (FORMAT parquet)`);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
  session = await LocalSession.open(dir);
  raw = await loadRaw(dir);
  capital = (run) => session.store.catalog.runs.get(run)?.capital ?? null;
});

after(async () => {
  session?.close();
  await rm(dir, { recursive: true, force: true });
});

test('the capital base: stated in params for run one; none for run two (never guessed from exposure)', () => {
  const one = session.store.catalog.runs.get('one')!;
  assert.deepEqual([one.capital, one.capitalSource], [1_000_000, 'params.capital']);
  const two = session.store.catalog.runs.get('two')!;
  assert.equal(two.capital, null);
  assert.match(two.capitalSource, /^none: .*"capital"/);
});

test('summary: a run with one day, all-losing trades, every range shape', async () => {
  const scopes: RefScope[] = [{}, { runs: ['one'] }, { from: DAY1 + BAR, to: DAY1 + 86_400_000 + 2 * BAR }, { from: DAY1 + 60_000, to: DAY1 + 120_000 }, { symbols: ['ZZZ'] }];
  for (const scope of scopes) {
    const answer = await session.ask({ query: 'summary', params: scopeParams(scope) });
    nearRows(answer.rows, summaryRef(raw, scope, capital), `summary ${JSON.stringify(scope)}`, 1e-8);
  }
  const [one, two] = (await session.ask({ query: 'summary', params: {} })).rows;
  assert.equal(one!.days, 1);
  assert.equal(one!.sharpe, null, 'no standard deviation of one day');
  assert.equal(one!.annual_volatility, null);
  for (const row of [one!, two!]) {
    assert.ok((row.trade_count as number) > 0);
    assert.equal(row.trade_win_rate, 0);
    assert.equal(row.profit_factor, 0);
    assert.equal(row.gross_profit, 0);
  }
  const zzz = (await session.ask({ query: 'summary', params: { filters: { symbols: ['ZZZ'] } } })).rows;
  assert.ok(zzz.every((r) => r.trade_count === 0 && r.trade_win_rate === null && r.profit_factor === null));
});

test('equity, exposure, breakdown, series and trades on the edge dataset', async () => {
  for (const scope of [{}, { runs: ['one'] }, { from: DAY1 + 2 * BAR, to: DAY1 + 2 * 86_400_000 + 3 * BAR, filters: { sectors: ['Energy'] } }]) {
    const s = { ...scope, ...(scope as { filters?: { sectors: string[] } }).filters };
    const equity = await session.ask({ query: 'equity', params: { ...scope, width: 4 } });
    checkM4(equity.rows, equityRef(raw, s) as never, 4, ['equity', 'drawdown'], 'equity', tradingTimeRef(raw));
    const exposure = await session.ask({ query: 'exposure', params: { ...scope, width: 3 } });
    checkM4(exposure.rows, perBar(raw, s) as never, 3, ['gross', 'net', 'long', 'short'], 'exposure', tradingTimeRef(raw));
  }
  const bySymbol = await session.ask({ query: 'breakdown', params: { by: 'symbol', sort: { column: 'key' }, limit: 10 } });
  assert.deepEqual(bySymbol.rows.map((r) => r.key), ['AAA', 'BBB', 'CCC', 'ZZZ']);
  const zzz = bySymbol.rows.find((r) => r.key === 'ZZZ')!;
  assert.equal(zzz.trades, 0);
  assert.equal(zzz.win_rate, null);
  assert.ok((zzz.avg_exposure as number) > 0);
  const series = await session.ask({ query: 'series', params: { symbol: 'ZZZ', width: 16_384 } });
  assert.equal(series.parts.get('points')!.length, 6 + 18);
  assert.equal(series.parts.get('trades')!.length, 0);
  const trades = await session.ask({ query: 'trades', params: { sort: { column: 'pnl' }, limit: 100 } });
  assert.equal(trades.outcome.total, tradesIn(raw, {}).length);
  assert.ok(trades.rows.every((r) => (r.pnl as number) < 0));
  const asks: Ask[] = [
    { query: 'histogram', params: { field: 'pnl', bins: 4 } },
    { query: 'histogram', params: { field: 'daily_return', bins: 4, runs: ['one'] } },
    { query: 'heatmap', params: {} },
    { query: 'rolling', params: { window: 2 } },
  ];
  for (const ask of asks) {
    const answer = await session.ask(ask);
    assert.ok(answer.rows.length > 0, ask.query);
  }
  const rolling = (await session.ask({ query: 'rolling', params: { window: 2, runs: ['one'] } })).rows;
  assert.equal(rolling.length, 1);
  assert.equal(rolling[0]!.sharpe, null, 'a one-day run never fills a two-day window');
});
