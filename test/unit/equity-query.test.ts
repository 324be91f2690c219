// The equity query against an independent computation in plain TypeScript.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance, DuckDBTimestampValue, type DuckDBConnection } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import type { EquityParams } from '../../shared/messages.js';
import { QueryRunner } from '../../server/session/query-runner.js';
import { planEquity } from '../../server/session/queries/equity.js';
import { BadParamsError } from '../../server/session/queries/errors.js';
import { tradingCalendar, type Catalog } from '../../server/session/store.js';
import { TradingTime } from '../../shared/trading-time.js';

const START = Date.UTC(2024, 0, 2, 14, 35);
const STEP = 5 * 60_000;
const RUNS = ['base', 'alt'];
const BARS = 3000;

interface Row { run: string; t: number; pnl: number }
const rows: Row[] = [];
let seed = 12345;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
for (const run of RUNS) {
  for (let i = 0; i < BARS; i++) rows.push({ run, t: START + i * STEP, pnl: (random() - 0.48) * 1000 });
}

let instance: DuckDBInstance;
let connection: DuckDBConnection;

before(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
  await connection.run(`CREATE TABLE portfolio_bar (run_key INTEGER, run_id VARCHAR, ts TIMESTAMP, pnl DOUBLE, fees DOUBLE, traded_value DOUBLE,
    gross_exposure DOUBLE, net_exposure DOUBLE, long_exposure DOUBLE, short_exposure DOUBLE)`);
  const appender = await connection.createAppender('portfolio_bar');
  const runKey = (run: string) => [...RUNS].sort().indexOf(run) + 1;
  for (const row of rows) {
    appender.appendInteger(runKey(row.run));
    appender.appendVarchar(row.run);
    appender.appendTimestamp(new DuckDBTimestampValue(BigInt(row.t) * 1000n));
    appender.appendDouble(row.pnl);
    for (let i = 0; i < 6; i++) appender.appendDouble(0);
    appender.endRow();
  }
  appender.closeSync();
});

after(() => {
  connection.closeSync();
  instance.closeSync();
});

/** The store catalog the planner checks values against: two runs, their trading days. */
function catalog(): Catalog {
  const days = new Map<string, { iso: string; first: number; last: number }>();
  for (const { t } of rows) {
    const iso = new Date(t).toISOString().slice(0, 10);
    const d = days.get(iso) ?? days.set(iso, { iso, first: t, last: t }).get(iso)!;
    d.first = Math.min(d.first, t);
    d.last = Math.max(d.last, t);
  }
  const sorted = [...days.values()].sort((a, b) => a.first - b.first);
  // Bars every 5 minutes around the clock: trading time is calendar time, as the reference below assumes.
  const calendar = tradingCalendar(sorted, STEP);
  return {
    timezone: { zone: 'UTC', source: 'test' },
    bars: { origin: 'input', period: 'intraday' },
    benchmark: { kind: 'market', name: 'Equal-weighted market (2 symbols)', source: 'test' },
    riskFreeRate: 0,
    runs: new Map(RUNS.map((runId) => [runId, { runId, name: runId, capital: 1e6, capitalSource: 'test', params: {} }])),
    runKeys: new Map([...RUNS].sort().map((runId, i) => [runId, i + 1])),
    sectors: new Set(),
    symbols: new Map(),
    tags: new Set(),
    days: sorted,
    calendar,
    tradingTime: new TradingTime(calendar),
    tradeCount: 0,
    tradeRanks: true,
  };
}

async function runEquity(params: EquityParams) {
  const plan = planEquity(params, catalog());
  const runner = new QueryRunner(instance, 1);
  const out: { run_id: string; ts: number; equity: number; drawdown: number }[] = [];
  try {
    await runner.run({
      planner: () => plan,
      signal: new AbortController().signal,
      onBatch: async (ipc) => {
        for (const row of tableFromIPC(ipc).toArray()) out.push(row.toJSON() as (typeof out)[number]);
      },
    });
  } finally {
    runner.close();
  }
  return out;
}

function reference(from: number | undefined, to: number | undefined, runs: string[]) {
  const byRun = new Map<string, { t: number; equity: number; drawdown: number }[]>();
  for (const run of runs) {
    let equity = 0;
    let peak = 0;
    const series = rows
      .filter((r) => r.run === run && (from === undefined || r.t >= from) && (to === undefined || r.t <= to))
      .map((r) => {
        equity += r.pnl;
        peak = Math.max(peak, equity);
        return { t: r.t, equity, drawdown: equity - peak };
      });
    byRun.set(run, series);
  }
  return byRun;
}

test('M4 keeps the exact first, last, min and max of every pixel column, of equity and of drawdown', async () => {
  const width = 40;
  const out = await runEquity({ width });
  const ref = reference(undefined, undefined, RUNS);
  const all = [...ref.values()].flat();
  const t0 = Math.min(...all.map((p) => p.t));
  const span = Math.max(...all.map((p) => p.t)) - t0;
  for (const run of RUNS) {
    const series = ref.get(run)!;
    const got = out.filter((r) => r.run_id === run);
    assert.ok(got.length <= width * 6 && got.length >= width, `${run}: ${got.length} points for ${width} columns`);
    const byTs = new Map(series.map((p) => [p.t, p]));
    for (const point of got) {
      const exact = byTs.get(point.ts);
      assert.ok(exact, `${run}: ${point.ts} is not a bar of the input`);
      assert.ok(Math.abs(exact.equity - point.equity) < 1e-6, `${run} equity at ${point.ts}`);
      assert.ok(Math.abs(exact.drawdown - point.drawdown) < 1e-6, `${run} drawdown at ${point.ts}`);
    }
    for (let px = 0; px < width; px++) {
      const column = series.filter((p) => Math.min(Math.floor(((p.t - t0) / span) * width), width - 1) === px);
      if (column.length === 0) continue;
      const kept = got.filter((p) => Math.min(Math.floor(((p.ts - t0) / span) * width), width - 1) === px);
      const keptTs = new Set(kept.map((p) => p.ts));
      assert.ok(keptTs.has(column[0]!.t) && keptTs.has(column.at(-1)!.t), `${run} px ${px}: first/last kept`);
      const values = kept.map((p) => p.equity);
      assert.ok(Math.abs(Math.min(...values) - Math.min(...column.map((p) => p.equity))) < 1e-6, `${run} px ${px}: min`);
      assert.ok(Math.abs(Math.max(...values) - Math.max(...column.map((p) => p.equity))) < 1e-6, `${run} px ${px}: max`);
      const deepest = Math.min(...column.map((p) => p.drawdown));
      assert.ok(Math.abs(Math.min(...kept.map((p) => p.drawdown)) - deepest) < 1e-6, `${run} px ${px}: deepest drawdown`);
      const shallowest = Math.max(...column.map((p) => p.drawdown));
      assert.ok(Math.abs(Math.max(...kept.map((p) => p.drawdown)) - shallowest) < 1e-6, `${run} px ${px}: shallowest drawdown`);
    }
    const ts = got.map((p) => p.ts);
    assert.deepEqual(ts, [...ts].sort((a, b) => a - b), `${run}: sorted by time`);
  }
});

test('a zoomed range restarts equity and drawdown at its start', async () => {
  const from = START + 1000 * STEP;
  const to = START + 1999 * STEP;
  const out = await runEquity({ width: 10_000, from, to, runs: ['alt'] });
  const ref = reference(from, to, ['alt']).get('alt')!;
  // A width above the row count keeps every row, so the answer must equal the reference exactly.
  assert.equal(out.length, ref.length);
  out.forEach((point, i) => {
    assert.equal(point.run_id, 'alt');
    assert.equal(point.ts, ref[i]!.t);
    assert.ok(Math.abs(point.equity - ref[i]!.equity) < 1e-6);
    assert.ok(Math.abs(point.drawdown - ref[i]!.drawdown) < 1e-6);
  });
  assert.ok(Math.abs(out[0]!.equity - rows.find((r) => r.run === 'alt' && r.t === from)!.pnl) < 1e-9);
});

test('an empty range and a range inside one bar give no rows; a reversed range is refused', async () => {
  assert.deepEqual(await runEquity({ width: 100, from: START - 10 * STEP, to: START - STEP }), []);
  assert.deepEqual(await runEquity({ width: 100, from: START + 60_000, to: START + 120_000 }), []);
  assert.throws(() => planEquity({ width: 10, from: START + STEP, to: START }, catalog()), BadParamsError);
});

test('a run that is not in the dataset is refused by name, never reaching SQL', () => {
  assert.throws(
    () => planEquity({ width: 10, runs: ["base'; DROP TABLE portfolio_bar; --"] }, catalog()),
    (error: Error) => error instanceof BadParamsError && /unknown run/.test(error.message),
  );
});
