// The drawdown episodes and the attribution of a range against independent computations from the
// raw rows of the tiny fixture (test/support/reference.ts's daily series and raw bars), through the
// session's own path (LocalSession). Edge cases: an episode still open at the end of the range, a
// run of one day, a range cutting days, a range with no trades, a sector's symbols.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BadParamsError } from '../../server/session/queries/errors.js';
import { planRequest } from '../../server/session/queries/index.js';
import { sqlString } from '../../server/sql/text.js';
import { ATTRIBUTION_COLUMNS, EPISODE_COLUMNS } from '../../shared/constants.js';
import { tinyDataset } from '../support/datasets.js';
import { near, nearRows, scopeParams } from '../support/checks.js';
import { LocalSession } from '../support/local-session.js';
import { tinyWithBarsLeftOut, workDir } from '../support/tiny-variants.js';
import { dailySeries, dayMs, dimOk, loadRaw, rawCalendar, runsOf, summaryRef, tradesIn, type RawData, type RawDay, type RefScope } from '../support/reference.js';

let session: LocalSession;
let raw: RawData;
let capital: (run: string) => number | null;
let days: RawDay[];
let sectors: string[];

before(async () => {
  const dir = await tinyDataset();
  session = await LocalSession.open(dir);
  raw = await loadRaw(dir);
  capital = (run) => session.store.catalog.runs.get(run)?.capital ?? null;
  ({ days, sectors } = rawCalendar(raw));
});

after(() => session?.close());

const BAR = 5 * 60_000;

/** A range from the middle of day a to the middle of day b: both ends cut a day. */
const cutRange = (a: number, b: number) => ({ from: days[a]!.first + 37 * BAR + 60_000, to: days[b]!.first + 20 * BAR + 1 });

// ---------------------------------------------------------------------------------------------
// Episodes

/**
 * Reference episodes: the wealth index's running maximum (the starting 1 included) marks each
 * day above or under water; each maximal stretch of days under water is an episode, its peak the
 * day before the stretch (the start of the range when there is none), its trough the first
 * lowest day of the stretch, its recovery the day after the stretch (none at the end).
 */
function episodesRef(scope: RefScope, limit: number): Record<string, unknown>[] {
  const daily = dailySeries(raw, scope, capital);
  const out: Record<string, unknown>[] = [];
  for (const run of runsOf(raw, scope)) {
    const rows = daily.filter((d) => d.run === run);
    const wealth: number[] = [];
    let w = 1;
    for (const d of rows) wealth.push((w *= 1 + d.ret!));
    const runningMax: number[] = [];
    wealth.forEach((x, i) => runningMax.push(Math.max(x, i === 0 ? 1 : runningMax[i - 1]!)));
    const under = wealth.map((x, i) => x < runningMax[i]!);
    const cum: number[] = [];
    rows.forEach((d, i) => cum.push(d.pnl + (i === 0 ? 0 : cum[i - 1]!)));
    const episodes: { peak: number; trough: number; recovery: number | null; depth: number; depthPnl: number }[] = [];
    for (let i = 0; i < rows.length; i++) {
      if (!under[i] || (i > 0 && under[i - 1])) continue;
      let end = i;
      while (end + 1 < rows.length && under[end + 1]) end++;
      const peak = i - 1;
      const peakWealth = peak < 0 ? 1 : wealth[peak]!;
      let trough = i;
      for (let j = i; j <= end; j++) if (wealth[j]! < wealth[trough]!) trough = j;
      episodes.push({
        peak,
        trough,
        recovery: end + 1 < rows.length ? end + 1 : null,
        depth: wealth[trough]! / peakWealth - 1,
        depthPnl: cum[trough]! - (peak < 0 ? 0 : cum[peak]!),
      });
    }
    episodes.sort((a, b) => a.depth - b.depth || a.peak - b.peak);
    episodes.slice(0, limit).forEach((e, rank) => {
      out.push({
        run_id: run,
        rank: rank + 1,
        peak_ts: dayMs(rows[Math.max(e.peak, 0)]!.day),
        from_start: e.peak < 0 ? 1 : 0,
        trough_ts: dayMs(rows[e.trough]!.day),
        recovery_ts: e.recovery === null ? null : dayMs(rows[e.recovery]!.day),
        depth: e.depth,
        depth_pnl: e.depthPnl,
        days_to_trough: e.trough - e.peak,
        days_to_recovery: e.recovery === null ? null : e.recovery - e.peak,
      });
    });
  }
  return out;
}

/** The first run's first day whose P&L `ok` accepts, as a range. */
function oneDay(ok: (pnl: number) => boolean): RefScope {
  const run = raw.runs[0]!;
  const day = days.find((d) => ok(dailySeries(raw, { runs: [run], from: d.first, to: d.last }, capital)[0]!.pnl));
  assert.ok(day, 'the fixture has such a day');
  return { runs: [run], from: day.first, to: day.last };
}

const episodeCases: [string, () => RefScope][] = [
  ['everything', () => ({})],
  ['one run, a range cutting two days', () => ({ runs: [raw.runs[1]!], ...cutRange(1, 6) })],
  ['a sector over a cut range', () => ({ ...cutRange(2, 7), sectors: [sectors[1]!] })],
  ['a run of one losing day', () => oneDay((pnl) => pnl < 0)],
  ['a run of one winning day', () => oneDay((pnl) => pnl > 0)],
  ['an empty range before the data', () => ({ from: days[0]!.first - 10 * 86_400_000, to: days[0]!.first - 86_400_000 })],
];

for (const [name, scope] of episodeCases) {
  test(`episodes: ${name}`, async () => {
    const s = scope();
    const answer = await session.ask({ query: 'episodes', params: { ...scopeParams(s), limit: 50 } });
    nearRows(answer.rows, episodesRef(s, 50), 'episodes', 1e-9);
    if (name === 'a run of one losing day') {
      // One episode from the starting capital, open at the end: one day to the trough.
      assert.equal(answer.rows.length, 1);
      assert.deepEqual([answer.rows[0]!.from_start, answer.rows[0]!.days_to_trough, answer.rows[0]!.recovery_ts], [1, 1, null]);
    }
    if (name === 'a run of one winning day') assert.equal(answer.rows.length, 0);
    if (name === 'everything') assert.ok(answer.rows.some((e) => e.recovery_ts !== null) && answer.rows.some((e) => e.recovery_ts === null));
    assert.deepEqual(answer.tables[0]?.schema.fields.map((f) => f.name), [...EPISODE_COLUMNS]);
  });
}

test('episodes: the deepest is summary max drawdown, with its peak, trough and recovery', async () => {
  for (const s of [{}, { ...cutRange(1, 6) }, { ...cutRange(2, 7), sectors: [sectors[0]!] }] as RefScope[]) {
    const episodes = (await session.ask({ query: 'episodes', params: { ...scopeParams(s), limit: 1 } })).rows;
    for (const summary of summaryRef(raw, s, capital)) {
      const top = episodes.find((e) => e.run_id === summary.run_id);
      if (summary.max_drawdown === 0) {
        assert.equal(top, undefined);
        continue;
      }
      assert.ok(top, `${String(summary.run_id)} has an episode`);
      near(top.depth, summary.max_drawdown, 'depth');
      assert.equal(top.peak_ts, summary.max_drawdown_peak === null ? null : summary.max_drawdown_peak);
      assert.equal(top.trough_ts, summary.max_drawdown_trough);
      assert.equal(top.recovery_ts ?? null, summary.max_drawdown_recovery ?? null);
    }
  }
});

test('episodes: an episode still open at the end of the range', async () => {
  // End the range on the trough day of the deepest recovered episode: it is then open.
  const run = raw.runs[0]!;
  const all = episodesRef({ runs: [run] }, 1000);
  const recovered = all.find((e) => e.recovery_ts !== null);
  assert.ok(recovered, 'the fixture has a recovered episode');
  const troughDay = days.find((d) => dayMs(d.iso) === recovered.trough_ts)!;
  const s: RefScope = { runs: [run], to: troughDay.last };
  const want = episodesRef(s, 1000);
  assert.ok(want.some((e) => e.recovery_ts === null && e.trough_ts === recovered.trough_ts), 'the episode is open at the end');
  const answer = await session.ask({ query: 'episodes', params: { ...scopeParams(s), limit: 1000 } });
  nearRows(answer.rows, want, 'episodes', 1e-9);
  const open = answer.rows.find((e) => e.recovery_ts === null)!;
  assert.equal(open.days_to_recovery, null);
});

test('episodes: limit keeps the deepest of each run', async () => {
  const answer = await session.ask({ query: 'episodes', params: { limit: 2 } });
  nearRows(answer.rows, episodesRef({}, 2), 'episodes', 1e-9);
});

// ---------------------------------------------------------------------------------------------
// Attribution

/** Each symbol's position value and price at its last bar that `ok` accepts, per run. */
function lastBars(data: RawData, scope: RefScope, ok: (ts: number) => boolean): Map<string, { pv: number; price: number; ts: number }> {
  const out = new Map<string, { pv: number; price: number; ts: number }>();
  const runs = new Set(runsOf(data, scope));
  for (const b of data.bars) {
    if (!runs.has(b.run) || !dimOk(scope, b) || !ok(b.ts)) continue;
    const key = `${b.run}|${b.symbol}`;
    const at = out.get(key);
    if (!at || b.ts > at.ts) out.set(key, { pv: b.pv, price: b.price, ts: b.ts });
  }
  return out;
}

/** Reference attribution: group P&L from raw bars in range, held from the raw bars either side of it. */
function attributionRef(scope: RefScope, sector?: string, data: RawData = raw): Record<string, unknown>[] {
  const s: RefScope = sector === undefined ? scope : { ...scope, sectors: !scope.sectors || scope.sectors.includes(sector) ? [sector] : [] };
  const keyOf = (x: { symbol: string; sector: string }) => (sector === undefined ? x.sector : x.symbol);
  const groups = new Map<string, { run: string; key: string; pnl: number; held: number; trades: number }>();
  const group = (run: string, key: string) =>
    groups.get(`${run}|${key}`) ?? groups.set(`${run}|${key}`, { run, key, pnl: 0, held: 0, trades: 0 }).get(`${run}|${key}`)!;
  const runs = new Set(runsOf(data, s));
  for (const b of data.bars) {
    if (!runs.has(b.run) || !dimOk(s, b)) continue;
    if ((s.from !== undefined && b.ts < s.from) || (s.to !== undefined && b.ts > s.to)) continue;
    group(b.run, keyOf(b)).pnl += b.pnl;
  }
  for (const t of tradesIn(data, s)) group(t.run, keyOf(t)).trades++;
  if (s.from !== undefined) {
    const start = lastBars(data, s, (ts) => ts < s.from!);
    const end = lastBars(data, s, (ts) => s.to === undefined || ts <= s.to);
    for (const [k, b0] of start) {
      const [run, symbol] = k.split('|') as [string, string];
      const g = groups.get(`${run}|${keyOf({ symbol, sector: data.sectorOf.get(symbol)! })}`);
      if (!g || b0.price === 0) continue;
      g.held += (b0.pv / b0.price) * (end.get(k)!.price - b0.price);
    }
  }
  return [...groups.values()]
    .sort((a, b) => (a.run < b.run ? -1 : a.run > b.run ? 1 : b.pnl - a.pnl || (a.key < b.key ? -1 : 1)))
    .map((g) => ({
      run_id: g.run,
      key: g.key,
      pnl: g.pnl,
      held_pnl: g.held,
      traded_pnl: g.pnl - g.held,
      contribution: g.pnl / capital(g.run)!,
      trades: g.trades,
    }));
}

const attributionCases: [string, () => RefScope, (() => string)?][] = [
  ['everything by sector', () => ({})],
  ['a range cutting two days, by sector', () => cutRange(1, 6)],
  ['a range cutting two days, one sector by symbol', () => cutRange(1, 6), () => sectors[1]!],
  ['whole days, one run', () => ({ runs: [raw.runs[1]!], from: days[2]!.first, to: days[5]!.last })],
  ['a sector filter and symbols of another sector', () => ({ ...cutRange(2, 4), sectors: [sectors[0]!] }), () => sectors[2]!],
  ['a symbol filter by sector', () => ({ ...cutRange(0, 3), symbols: [...new Set(raw.bars.map((b) => b.symbol))].sort().slice(2, 5) })],
  ['a run of one day', () => ({ runs: [raw.runs[0]!], from: days[4]!.first, to: days[4]!.last })],
];

for (const [name, scope, sector] of attributionCases) {
  test(`attribution: ${name}`, async () => {
    const s = scope();
    const sec = sector?.();
    const answer = await session.ask({ query: 'attribution', params: { ...scopeParams(s), ...(sec ? { sector: sec } : {}) } });
    const want = attributionRef(s, sec);
    nearRows(answer.rows, want, 'attribution', 1e-7);
    assert.deepEqual(answer.tables[0]?.schema.fields.map((f) => f.name), [...ATTRIBUTION_COLUMNS]);
    for (const row of answer.rows) near((row.held_pnl as number) + (row.traded_pnl as number), row.pnl, 'held + traded');
  });
}

test('attribution: sectors sum to summary total_pnl for a range cutting days, with filters', async () => {
  for (const s of [{}, cutRange(1, 6), { ...cutRange(2, 7), sectors: [sectors[0]!, sectors[2]!] }] as RefScope[]) {
    const [rows, summary] = await Promise.all([
      session.ask({ query: 'attribution', params: scopeParams(s) }),
      session.ask({ query: 'summary', params: scopeParams(s) }),
    ]);
    for (const run of summary.rows) {
      const parts = rows.rows.filter((r) => r.run_id === run.run_id);
      const total = parts.reduce((a, r) => a + (r.pnl as number), 0);
      near(total, run.total_pnl, `${String(run.run_id)} total`, 1e-9);
      near(parts.reduce((a, r) => a + (r.held_pnl as number) + (r.traded_pnl as number), 0), run.total_pnl, 'held + traded', 1e-9);
      // A range starting mid-history holds positions at its start: the split is not all one side.
      if (s.from !== undefined) assert.ok(parts.some((r) => r.held_pnl !== 0) && parts.some((r) => r.traded_pnl !== 0), 'both parts of the split are there');
    }
  }
});

test('attribution: a sector symbol by symbol sums to the sector', async () => {
  const s = cutRange(1, 6);
  const bySector = (await session.ask({ query: 'attribution', params: scopeParams(s) })).rows;
  const bySymbol = (await session.ask({ query: 'attribution', params: { ...scopeParams(s), sector: sectors[1]! } })).rows;
  for (const row of bySector.filter((r) => r.key === sectors[1])) {
    const parts = bySymbol.filter((r) => r.run_id === row.run_id);
    for (const column of ['pnl', 'held_pnl', 'traded_pnl', 'trades']) {
      near(parts.reduce((a, r) => a + (r[column] as number), 0), row[column], `${column} of ${sectors[1]}`, 1e-9);
    }
  }
});

test('attribution: a range with no trades', async () => {
  // From 10:05 to 12:05: after the morning rebalance, before the midday one; bars but no trade closes.
  const s: RefScope = { from: days[3]!.first + 6 * BAR, to: days[3]!.first + 30 * BAR };
  assert.equal(tradesIn(raw, s).length, 0, 'no trade closes in the range');
  const answer = await session.ask({ query: 'attribution', params: scopeParams(s) });
  assert.ok(answer.rows.length > 0);
  nearRows(answer.rows, attributionRef(s), 'attribution', 1e-7);
  for (const row of answer.rows) assert.equal(row.trades, 0);
  // Nothing traded inside: the positions held at the start made all of it but the fees.
  const fees = raw.bars.filter((b) => b.ts >= s.from! && b.ts <= s.to!).reduce((a, b) => a + b.fees, 0);
  const traded = answer.rows.reduce((a, r) => a + (r.traded_pnl as number), 0);
  near(traded, -fees, 'traded P&L is minus the fees', 1e-7);
});

test('attribution: a symbol without bars in the days before a boundary is held at its last bar before them', async () => {
  // The tiny fixture with one symbol's bars left out of days 2-7 in every run: at a range starting
  // on day 8 its last position is day 1's, further back than the days a boundary reads
  // (POSITION_LOOKBACK_DAYS), so it comes from symbol_day_gaps.
  const work = await workDir('attribution-sparse');
  const sparseDir = path.join(work, 'sparse');
  const symbol = [...raw.sectorOf.keys()].sort()[3]!;
  const gap = { from: days[2]!.iso, to: days[7]!.iso };
  await tinyWithBarsLeftOut(sparseDir, `symbol = ${sqlString(symbol)} AND ts::DATE BETWEEN ${sqlString(gap.from)} AND ${sqlString(gap.to)}`);
  const sparseRaw = await loadRaw(sparseDir);
  assert.ok(!sparseRaw.bars.some((b) => b.symbol === symbol && b.day >= gap.from && b.day <= gap.to));
  const sparse = await LocalSession.open(sparseDir);
  let heldSomewhere = false;
  try {
    for (const s of [
      { from: days[8]!.first + 40 * BAR, to: days[9]!.first + 3 * BAR },
      { from: days[8]!.first, to: days[9]!.last },
      { from: days[5]!.first + 10 * BAR, to: days[8]!.first + 3 * BAR },
    ] as RefScope[]) {
      const ref = attributionRef(s, undefined, sparseRaw);
      const sectorOfSymbol = sparseRaw.sectorOf.get(symbol)!;
      const row = ref.find((r) => r.key === sectorOfSymbol);
      assert.ok(row, "the symbol's sector is in the answer");
      const answer = await sparse.ask({ query: 'attribution', params: scopeParams(s) });
      nearRows(answer.rows, ref, 'attribution with a sparse symbol', 1e-7);
      const bySymbol = await sparse.ask({ query: 'attribution', params: { ...scopeParams(s), sector: sectorOfSymbol } });
      const held = bySymbol.rows.find((r) => r.key === symbol)?.held_pnl as number;
      const refHeld = attributionRef(s, sectorOfSymbol, sparseRaw).find((r) => r.key === symbol)?.held_pnl as number;
      near(held, refHeld, `held P&L of ${symbol}`, 1e-7);
      if (Math.abs(refHeld) > 0) heldSomewhere = true;
    }
  } finally {
    sparse.close();
  }
  assert.ok(heldSomewhere, `${symbol} is held across the gap in some range (else the case tests nothing)`);
});

test('attribution: a symbol whose last bar before a boundary in a cut day is more than RECENT_BARS bars before it', async () => {
  // The tiny fixture with one symbol's bars left out of day 8 from its 31st bar on, in every run: a
  // boundary at day 8's 41st bar finds its last bar outside the last RECENT_BARS bars, so the
  // session reads the whole day up to the boundary (the look-up sees a symbol missing there).
  const work = await workDir('attribution-cut-gap');
  const dir = path.join(work, 'cut-gap');
  const symbol = [...raw.sectorOf.keys()].sort()[2]!;
  const hole = days[8]!.first + 30 * BAR;
  await tinyWithBarsLeftOut(dir, `symbol = ${sqlString(symbol)} AND ts >= make_timestamp(${hole * 1000}) AND ts::DATE = ${sqlString(days[8]!.iso)}`);
  const holed = await loadRaw(dir);
  const session2 = await LocalSession.open(dir);
  try {
    const sectorOfSymbol = holed.sectorOf.get(symbol)!;
    for (const s of [
      { from: days[8]!.first + 40 * BAR, to: days[9]!.first + 20 * BAR },
      { from: days[6]!.first + 20 * BAR, to: days[8]!.first + 40 * BAR },
    ] as RefScope[]) {
      nearRows((await session2.ask({ query: 'attribution', params: scopeParams(s) })).rows, attributionRef(s, undefined, holed), 'attribution', 1e-7);
      const bySymbol = await session2.ask({ query: 'attribution', params: { ...scopeParams(s), sector: sectorOfSymbol } });
      nearRows(bySymbol.rows, attributionRef(s, sectorOfSymbol, holed), `attribution of ${sectorOfSymbol}`, 1e-7);
    }
    // The symbol is held over the hole: its start position is its 30th bar's.
    const start = lastBars(holed, { symbols: [symbol] }, (ts) => ts < days[8]!.first + 40 * BAR);
    assert.ok([...start.values()].some((b) => b.ts === hole - BAR && b.pv !== 0), `${symbol} holds a position at its last bar before the hole`);
  } finally {
    session2.close();
  }
});

test('attribution: an unknown sector is bad-params', () => {
  const request = { type: 'request', id: 1, query: 'attribution', params: { sector: 'No such sector' } } as const;
  assert.throws(() => planRequest(request, session.store.catalog), (e: Error) => e instanceof BadParamsError && /unknown sector/.test(e.message));
});
