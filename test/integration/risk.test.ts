// The `risk` and `benchmark` queries and the risk-free rate of `summary` against an independent
// computation from the tiny fixture's raw rows (test/support/risk-reference.ts), through the
// session's own path: the default benchmark (the equal-weighted market), a symbol of the dataset,
// and a file of prices with missing days; ranges that cut days, filters, a run of one day, an
// empty range.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RISK_COLUMNS } from '../../shared/constants.js';
import { repoRoot } from '../../fixtures/generate.js';
import { testStoreDir, tinyDataset } from '../support/datasets.js';
import { nearRows, scopeParams } from '../support/checks.js';
import { LocalSession } from '../support/local-session.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { barsInRange, dailySeries, loadRaw, marketRef, rawCalendar, sdSample, tradesIn, type RawData, type RawDay, type RefScope } from '../support/reference.js';
import { benchmarkLineRef, riskRef, symbolBenchmarkRef } from '../support/risk-reference.js';
import { sqlString } from '../../server/sql/text.js';
import { tinyWithBarsLeftOut, workDir } from '../support/tiny-variants.js';

let dir: string;
let session: LocalSession;
let raw: RawData;
let capital: (run: string) => number | null;
let days: RawDay[];
let sectors: string[];
let symbols: string[];

before(async () => {
  dir = await tinyDataset();
  session = await LocalSession.open(dir);
  raw = await loadRaw(dir);
  capital = (run) => session.store.catalog.runs.get(run)?.capital ?? null;
  ({ days, sectors, symbols } = rawCalendar(raw));
});

after(() => session?.close());

const BAR = 5 * 60_000;
/** A range from the middle of day a to the middle of day b: both ends cut a day. */
const cutRange = (a: number, b: number) => ({ from: days[a]!.first + 37 * BAR + 60_000, to: days[b]!.first + 20 * BAR + 1 });

const cases: [string, () => RefScope][] = [
  ['everything', () => ({})],
  ['one run, a range cutting two days', () => ({ runs: [raw.runs[1]!], ...cutRange(1, 6) })],
  ['a sector over a cut range', () => ({ ...cutRange(2, 7), sectors: [sectors[1]!] })],
  // Ranges late in the data: more whole days before them than any look-back window.
  ['a range late in the data, cutting two days', () => cutRange(7, 9)],
  ['whole days at the end of the data', () => ({ from: days[6]!.first, to: days[9]!.last })],
  ['two symbols, every day', () => ({ symbols: [symbols[3]!, symbols[8]!] })],
  ['trade filters: long trades', () => ({ sides: ['long'] })],
  // The best of the losing trades are far from the best of all: the rank-bounded read of the best
  // trades finds none of them and reads the run again without the bound.
  ['trade filters: losing trades', () => ({ pnl: { max: -0.01 } })],
  ['a run of one day', () => ({ runs: [raw.runs[0]!], from: days[4]!.first, to: days[4]!.last })],
  ['an empty range before the data', () => ({ from: days[0]!.first - 10 * 86_400_000, to: days[0]!.first - 86_400_000 })],
];

test('the hello names the default benchmark as the equal-weighted market; the risk-free rate defaults to 0', () => {
  assert.equal(session.store.schema.benchmark.kind, 'market');
  assert.match(session.store.schema.benchmark.name, /^Equal-weighted market \(\d+ symbols\)$/);
  assert.equal(session.store.schema.riskFreeRate, 0);
});

for (const [name, scope] of cases) {
  test(`risk: ${name}`, async () => {
    const s = scope();
    const answer = await session.ask({ query: 'risk', params: scopeParams(s) });
    assert.deepEqual(answer.tables[0]!.schema.fields.map((f) => f.name), [...RISK_COLUMNS]);
    nearRows(answer.rows, riskRef(raw, s, capital, marketRef(raw)), 'risk', 1e-8);
    for (const row of answer.rows) for (const [k, v] of Object.entries(row)) assert.ok(typeof v !== 'number' || Number.isFinite(v), `${k} is ${v}`);
    if (name === 'a run of one day') {
      const row = answer.rows[0]!;
      assert.equal(row.days, 1);
      for (const k of ['beta', 'alpha', 'correlation', 'tracking_error', 'information_ratio', 'sharpe', 'psr']) assert.equal(row[k], null, k);
    }
    if (name.startsWith('an empty range')) {
      for (const row of answer.rows) {
        assert.equal(row.days, 0);
        assert.equal(row.trades, 0);
        assert.equal(row.total_pnl, null);
      }
    }
    // The answer never reads the bar table of symbols for whole days.
    if (name === 'everything') assert.doesNotMatch(answer.outcome.source, /\bbars\b|bars_by_time/);
  });
}

/** The tiny fixture with the bars matching `leftOut` left out, opened as a session, with its raw rows. */
async function openVariant(name: string, leftOut: string) {
  const variantDir = path.join(await workDir(name), 'variant');
  await tinyWithBarsLeftOut(variantDir, leftOut);
  const raw = await loadRaw(variantDir);
  const session = await LocalSession.open(variantDir);
  return { raw, session, capital: (run: string) => session.store.catalog.runs.get(run)?.capital ?? null, market: marketRef(raw) };
}

test('risk: the best symbols of ranges around a symbol without bars for six days', async () => {
  // The tiny fixture with one symbol's bars left out of days 2-7 in every run: ranges that start
  // after the gap, end in it and lie inside it, which leaves the symbol out of the range's symbols.
  const symbol = [...symbols].sort()[3]!;
  const { raw: sparseRaw, session: sparse, capital: sparseCapital, market } = await openVariant(
    'risk-sparse',
    `symbol = ${sqlString(symbol)} AND ts::DATE BETWEEN ${sqlString(days[2]!.iso)} AND ${sqlString(days[7]!.iso)}`,
  );
  try {
    for (const s of [
      { from: days[8]!.first + 40 * BAR, to: days[9]!.first + 3 * BAR },
      { from: days[8]!.first, to: days[9]!.last },
      { from: days[7]!.first, to: days[7]!.last },
      { from: days[5]!.first + 10 * BAR, to: days[9]!.first + 3 * BAR },
    ] as RefScope[]) {
      const answer = await sparse.ask({ query: 'risk', params: scopeParams(s) });
      nearRows(answer.rows, riskRef(sparseRaw, s, sparseCapital, market), `risk with a sparse symbol over ${JSON.stringify(s)}`, 1e-8);
    }
    const inGap = await sparse.ask({ query: 'risk', params: scopeParams({ from: days[7]!.first, to: days[7]!.last }) });
    for (const row of inGap.rows) assert.equal(row.symbols, symbols.length - 1, 'the symbol without bars that day is not among the range\'s symbols');
  } finally {
    sparse.close();
  }
});

test('risk and breakdown: a cut day read as its rollup less the bars outside the range, with a symbol all outside', async () => {
  // A range that holds most of its first day is read as that day's rollup less the bars before
  // it (sources.ts, cutDayAsComplement). One symbol's bars stop 10 bars into that day: they are
  // all before the range, so the symbol must not be among the range's symbols.
  const symbol = [...symbols].sort()[5]!;
  const { raw: variantRaw, session: variant, capital: variantCapital, market } = await openVariant(
    'risk-complement',
    `symbol = ${sqlString(symbol)} AND epoch_ms(ts) >= ${days[4]!.first + 10 * BAR}`,
  );
  try {
    for (const s of [
      { from: days[4]!.first + 12 * BAR, to: days[9]!.last },
      { from: days[4]!.first + 12 * BAR, to: days[7]!.first + 60 * BAR + 1 },
      { from: days[2]!.first + 5 * BAR, to: days[4]!.first + 70 * BAR },
    ] as RefScope[]) {
      const what = `over ${JSON.stringify(s)}`;
      const answer = await variant.ask({ query: 'risk', params: scopeParams(s) });
      nearRows(answer.rows, riskRef(variantRaw, s, variantCapital, market), `risk ${what}`, 1e-8);
      const inRange = barsInRange(variantRaw, s);
      const want = new Map<string, number>();
      for (const bar of inRange) want.set(bar.symbol, (want.get(bar.symbol) ?? 0) + bar.pnl);
      for (const row of answer.rows) assert.equal(row.symbols, want.size, `risk ${what}: the symbols with bars in the range`);
      // A breakdown's groups are the symbols with bars or with trades closed in the range.
      const breakdown = await variant.ask({ query: 'breakdown', params: { ...scopeParams(s), by: 'symbol', limit: 10_000 } });
      const got = new Map(breakdown.rows.map((row) => [String(row.key), Number(row.pnl)]));
      const groups = new Set([...want.keys(), ...tradesIn(variantRaw, s).map((t) => t.symbol)]);
      assert.deepEqual([...got.keys()].sort(), [...groups].sort(), `breakdown ${what}: one row per symbol with bars or trades in the range`);
      for (const key of groups) if (!want.has(key)) assert.equal(got.get(key), 0, `breakdown ${what}: ${key} has trades in the range but no bars`);
      for (const [key, pnl] of want) assert.ok(Math.abs(got.get(key)! - pnl) <= 1e-8 * Math.max(1, Math.abs(pnl)), `breakdown ${what}: P&L of ${key} ${got.get(key)} vs ${pnl}`);
    }
    assert.ok(!barsInRange(variantRaw, { from: days[4]!.first + 12 * BAR, to: days[9]!.last }).some((bar) => bar.symbol === symbol), 'the variant leaves the symbol out of the range');
  } finally {
    variant.close();
  }
});

test('risk and summary: the risk-free rate of the request goes into Sharpe, Sortino and alpha', async () => {
  const s: RefScope = { ...cutRange(1, 8) };
  const rate = 0.04;
  const answer = await session.ask({ query: 'risk', params: { ...scopeParams(s), riskFreeRate: rate } });
  nearRows(answer.rows, riskRef(raw, s, capital, marketRef(raw), rate), 'risk at 4%', 1e-8);
  const summary = await session.ask({ query: 'summary', params: { ...scopeParams(s), riskFreeRate: rate } });
  const rf = (1 + rate) ** (1 / 252) - 1;
  const want = raw.runs.map((run) => {
    const rets = dailySeries(raw, s, capital).filter((d) => d.run === run).map((d) => d.ret! - rf);
    const m = rets.reduce((a, b) => a + b, 0) / rets.length;
    const sd = sdSample(rets.map((x) => x + rf))!;
    const downside = Math.sqrt(rets.reduce((a, x) => a + Math.min(x, 0) ** 2, 0) / rets.length);
    return { run_id: run, sharpe: (m / sd) * Math.sqrt(252), sortino: (m * 252) / (downside * Math.sqrt(252)) };
  });
  nearRows(summary.rows, want, 'summary at 4%', 1e-9);
  const zero = await session.ask({ query: 'summary', params: scopeParams(s) });
  assert.ok((zero.rows[0]!.sharpe as number) > (summary.rows[0]!.sharpe as number), 'a positive rate lowers Sharpe');
});

test('risk asked again: its look-ups come from the session look-up cache, and the answer is the same', async () => {
  const s: RefScope = { ...cutRange(2, 7), sectors: [sectors[0]!] };
  const first = await session.ask({ query: 'risk', params: scopeParams(s) });
  const hits = session.runner.stats.lookupHits;
  const again = await session.ask({ query: 'risk', params: scopeParams(s) });
  assert.ok(session.runner.stats.lookupHits > hits, 'the repeat read its look-ups from the cache');
  assert.deepEqual(again.rows, first.rows);
  nearRows(again.rows, riskRef(raw, s, capital, marketRef(raw)), 'risk from cached look-ups', 1e-8);
  // Another range is other look-ups: nothing of the first is reused for it.
  const other: RefScope = { ...cutRange(1, 5), sectors: [sectors[0]!] };
  nearRows((await session.ask({ query: 'risk', params: scopeParams(other) })).rows, riskRef(raw, other, capital, marketRef(raw)), 'risk of another range', 1e-8);
});

test('benchmark: the line is the run capital in the benchmark over the range', async () => {
  for (const s of [{}, { runs: [raw.runs[1]!], ...cutRange(2, 6), sectors: [sectors[0]!] }] as RefScope[]) {
    const answer = await session.ask({ query: 'benchmark', params: scopeParams(s) });
    nearRows(answer.rows, benchmarkLineRef(raw, s, capital, marketRef(raw)), 'benchmark line', 1e-8);
  }
});

test('risk: a symbol of the dataset as the benchmark, and the risk-free rate of tickscope.json as the default', async () => {
  const symbol = symbols[2]!;
  const named = await LocalSession.open(dir, 1, { description: { benchmark: symbol, riskFreeRate: 0.03 } });
  try {
    assert.deepEqual({ kind: named.store.schema.benchmark.kind, name: named.store.schema.benchmark.name }, { kind: 'symbol', name: symbol });
    assert.equal(named.store.schema.riskFreeRate, 0.03);
    const s: RefScope = { ...cutRange(1, 7) };
    const answer = await named.ask({ query: 'risk', params: scopeParams(s) });
    nearRows(answer.rows, riskRef(raw, s, capital, symbolBenchmarkRef(raw, symbol), 0.03), 'risk vs symbol at 3%', 1e-8);
    const asked = await named.ask({ query: 'risk', params: { ...scopeParams(s), riskFreeRate: 0 } });
    nearRows(asked.rows, riskRef(raw, s, capital, symbolBenchmarkRef(raw, symbol), 0), 'the request wins over the dataset', 1e-8);
  } finally {
    named.close();
  }
});

test('risk: a benchmark file of prices with missing days aligns on the days both have a return', async () => {
  // Prices on every day but the 3rd and the 6th: the days after a gap carry the return over it.
  const folder = path.join(repoRoot(), '.cache', 'test-benchmarks');
  await mkdir(folder, { recursive: true });
  const file = path.join(folder, 'prices-with-gaps.csv');
  const kept = days.filter((_, i) => i !== 2 && i !== 5);
  const prices = kept.map((d, i) => ({ date: d.iso, price: 100 * (1 + 0.01 * Math.sin(i * 1.7)) + i * 0.3 }));
  await writeFile(file, `date,price\n${prices.map((p) => `${p.date},${p.price}`).join('\n')}\n`);
  const want = new Map<string, number | null>(prices.map((p, i) => [p.date, i === 0 ? null : p.price / prices[i - 1]!.price - 1]));
  const withFile = await LocalSession.open(dir, 1, { description: { benchmark: file } });
  try {
    assert.equal(withFile.store.schema.benchmark.kind, 'file');
    for (const s of [{}, { runs: [raw.runs[0]!], ...cutRange(1, 8) }] as RefScope[]) {
      const answer = await withFile.ask({ query: 'risk', params: scopeParams(s) });
      const ref = riskRef(raw, s, capital, want);
      nearRows(answer.rows, ref, 'risk vs file', 1e-8);
      for (const row of answer.rows) assert.ok((row.benchmark_days as number) < (row.days as number));
      const line = await withFile.ask({ query: 'benchmark', params: scopeParams(s) });
      nearRows(line.rows, benchmarkLineRef(raw, s, capital, want), 'benchmark line vs file', 1e-8);
    }
  } finally {
    withFile.close();
  }
});

test('benchmark: a rewritten benchmark file named in tickscope.json is a new store, not the old one reused', async () => {
  const folder = path.join(repoRoot(), '.cache', 'test-benchmarks');
  await mkdir(folder, { recursive: true });
  const file = path.join(folder, 'rewritten.csv');
  const write = (scale: number) => writeFile(file, `date,return\n${days.map((d, i) => `${d.iso},${scale * 0.001 * (i + 1)}`).join('\n')}\n`);
  await write(1);
  const first = await prepareDataset({ input: dir, storeDir: testStoreDir(), description: { benchmark: file } });
  const again = await prepareDataset({ input: dir, storeDir: testStoreDir(), description: { benchmark: file } });
  assert.equal(again.fingerprint, first.fingerprint, 'the same file: the store is reused');
  assert.equal(again.reused, true);
  await write(2.5);
  const rewritten = await prepareDataset({ input: dir, storeDir: testStoreDir(), description: { benchmark: file } });
  assert.notEqual(rewritten.fingerprint, first.fingerprint, 'the benchmark file changed: another store');
  assert.equal(rewritten.reused, false);
});

test('risk: a benchmark file among the inputs (returns, two rows some days, days missing) is the benchmark, not bars', async () => {
  const copy = path.join(repoRoot(), '.cache', 'test-benchmarks', 'tiny-with-benchmark');
  await rm(copy, { recursive: true, force: true });
  await cp(dir, copy, { recursive: true });
  // Two returns on even days (compounded into the day's), none on the 4th and 7th day.
  const rows: string[] = [];
  const want = new Map<string, number | null>();
  days.forEach((d, i) => {
    if (i === 3 || i === 6) return;
    const a = 0.004 * Math.cos(i);
    const b = i % 2 === 0 ? -0.002 * i : null;
    rows.push(`${new Date(d.first).toISOString()},${a}`);
    if (b !== null) rows.push(`${new Date(d.last).toISOString()},${b}`);
    want.set(d.iso, b === null ? a : (1 + a) * (1 + b) - 1);
  });
  await writeFile(path.join(copy, 'benchmark.csv'), `ts,return\n${rows.join('\n')}\n`);
  const withInput = await LocalSession.open(copy);
  try {
    assert.deepEqual({ kind: withInput.store.schema.benchmark.kind, name: withInput.store.schema.benchmark.name }, { kind: 'file', name: 'benchmark.csv' });
    assert.equal(withInput.store.schema.barCount, session.store.schema.barCount, 'the benchmark file is not read as bars');
    for (const s of [{}, { runs: [raw.runs[1]!], ...cutRange(2, 8), sectors: [sectors[2]!] }] as RefScope[]) {
      const answer = await withInput.ask({ query: 'risk', params: scopeParams(s) });
      nearRows(answer.rows, riskRef(raw, s, capital, want), 'risk vs input file', 1e-8);
      const line = await withInput.ask({ query: 'benchmark', params: scopeParams(s) });
      nearRows(line.rows, benchmarkLineRef(raw, s, capital, want), 'benchmark line vs input file', 1e-8);
    }
  } finally {
    withInput.close();
  }
});

test('risk: a benchmark that is neither a symbol nor a file fails preparation, saying so', async () => {
  await assert.rejects(LocalSession.open(dir, 1, { description: { benchmark: 'NO-SUCH-THING' } }), /benchmark 'NO-SUCH-THING'.*neither a symbol of the dataset nor a readable file/);
});
