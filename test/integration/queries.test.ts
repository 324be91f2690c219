// Every query of the session against an independent computation in plain TypeScript from the raw
// rows of the tiny fixture (test/support/reference.ts), through the session's own path: the
// prepared store opened READ_ONLY, the planner, the QueryRunner, Arrow IPC decoded. Ranges that
// cut days (answered partly from bar tables, partly from day rollups), filters, and the edge
// cases: an empty range, a range inside one bar, a symbol with no trades, a run with one day,
// all-losing trades.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BREAKDOWN_COLUMNS, TRADE_COLUMNS, type BreakdownDimension, type TradeSortColumn } from '../../shared/constants.js';
import { BadParamsError } from '../../server/session/queries/errors.js';
import { planRequest } from '../../server/session/queries/index.js';
import { NOTHING_TO_READ } from '../../server/session/queries/plan.js';
import { tinyDataset } from '../support/datasets.js';
import { checkM4, near, nearRows, scopeParams } from '../support/checks.js';
import { LocalSession, type Ask } from '../support/local-session.js';
import { barsInRange, dailySeries, dayMs, dimOk, equityRef, loadRaw, marketRef, perBar, rawCalendar, runsOf, sdSample, summaryRef, tradesIn, tradingTimeRef, type RawData, type RawDay, type RefScope, type Trade } from '../support/reference.js';

let session: LocalSession;
let raw: RawData;
let capital: (run: string) => number | null;
/** Trading days of the fixture, ascending, with their first and last bar. */
let days: RawDay[];
let sectors: string[];
let symbols: string[];

before(async () => {
  const dir = await tinyDataset();
  session = await LocalSession.open(dir);
  raw = await loadRaw(dir);
  capital = (run) => session.store.catalog.runs.get(run)?.capital ?? null;
  ({ days, sectors, symbols } = rawCalendar(raw));
});

after(() => session?.close());

// ---------------------------------------------------------------------------------------------
// Helpers

const BAR = 5 * 60_000;

async function ask(request: Ask) {
  return session.ask(request);
}

/** A range from the middle of day a to the middle of day b: both ends cut a day. */
function cutRange(a: number, b: number): { from: number; to: number } {
  return { from: days[a]!.first + 37 * BAR + 60_000, to: days[b]!.first + 20 * BAR + 1 };
}

// ---------------------------------------------------------------------------------------------
// The fixture is what the tests assume

test('the tiny fixture has what the edge cases need', () => {
  assert.ok(days.length >= 8, `${days.length} days`);
  assert.ok(raw.runs.length >= 2 && sectors.length >= 3);
  const base = raw.runs[0]!;
  assert.ok(symbols.some((s) => !raw.trades.some((t) => t.run === base && t.symbol === s && t.close <= days[1]!.last)));
  // The capital base is stated in the runs' params (docs/metrics.md).
  for (const run of raw.runs) {
    const info = session.store.catalog.runs.get(run)!;
    assert.ok(info.capital !== null && info.capital > 0, `${run} has a capital`);
    assert.match(info.capitalSource, /^params\./);
  }
});

// ---------------------------------------------------------------------------------------------
// summary

const summaryCases: [string, () => RefScope][] = [
  ['everything', () => ({})],
  ['one run, a range cutting two days', () => ({ runs: [raw.runs[1]!], ...cutRange(1, 6) })],
  ['a sector over a cut range', () => ({ ...cutRange(2, 7), sectors: [sectors[1]!] })],
  ['two symbols, every day', () => ({ symbols: [symbols[3]!, symbols[8]!] })],
  ['trade filters: long trades tagged q5 or q1', () => ({ sides: ['long'], tags: ['q5', 'q1'] })],
  ['all-losing trades', () => ({ pnl: { max: -0.01 } })],
  ['a run with one day', () => ({ runs: [raw.runs[0]!], from: days[4]!.first, to: days[4]!.last })],
  ['a range inside one day, sector and symbol filters', () => ({ from: days[3]!.first + 10 * BAR, to: days[3]!.first + 30 * BAR, sectors: [sectors[0]!, sectors[2]!] })],
  ['an empty range before the data', () => ({ from: days[0]!.first - 10 * 86_400_000, to: days[0]!.first - 86_400_000 })],
  ['a range inside one bar', () => ({ from: days[2]!.first + 60_000, to: days[2]!.first + 120_000 })],
];

for (const [name, scope] of summaryCases) {
  test(`summary: ${name}`, async () => {
    const s = scope();
    const answer = await ask({ query: 'summary', params: scopeParams(s) });
    const want = summaryRef(raw, s, capital);
    nearRows(answer.rows, want, 'summary', 1e-8);
    if (name === 'all-losing trades') {
      for (const row of answer.rows) {
        assert.ok((row.trade_count as number) > 0);
        assert.equal(row.trade_win_rate, 0);
        assert.equal(row.profit_factor, 0);
        assert.equal(row.gross_profit, 0);
      }
    }
    if (name === 'a run with one day') {
      assert.equal(answer.rows[0]!.days, 1);
      assert.equal(answer.rows[0]!.sharpe, null);
      assert.equal(answer.rows[0]!.annual_volatility, null);
    }
    if (name.startsWith('an empty range') || name.startsWith('a range inside one bar')) {
      for (const row of answer.rows) {
        assert.equal(row.days, 0);
        assert.equal(row.trade_count, 0);
        assert.equal(row.total_pnl, 0);
      }
    }
  });
}

test('summary: a cut range is answered from day rollups for whole days and bar tables for the cut ones', async () => {
  const answer = await ask({ query: 'summary', params: { ...cutRange(1, 6), filters: { sectors: [sectors[0]!] } } });
  assert.match(answer.outcome.source, /portfolio_day/);
  assert.match(answer.outcome.source, /portfolio_bar/);
  assert.match(answer.outcome.source, /sector_day/);
  assert.match(answer.outcome.source, /sector_bar/);
  const whole = await ask({ query: 'summary', params: {} });
  assert.doesNotMatch(whole.outcome.source, /portfolio_bar|bars/);
  const filtered = await ask({ query: 'summary', params: { filters: { sides: ['long'] } } });
  assert.equal(filtered.outcome.notes.length, 1);
});

test('leaderboard: after the whole history, ranges that cut days and UTC days give the KPIs of the reference', async () => {
  // The whole history first: the session keeps every run's whole days (queries/sweep-days.ts), and
  // the ranges below are its slices plus the cut days' bars and the cut UTC days' trades.
  await ask({ query: 'leaderboard', params: { limit: 100 } });
  const metrics = ['total_pnl', 'total_return', 'cagr', 'sharpe', 'sortino', 'max_drawdown', 'calmar', 'trade_count', 'trade_win_rate', 'turnover', 'fees'];
  const ranges: [string, RefScope][] = [
    ['cutting two days', cutRange(1, 6)],
    ['cutting two other days', cutRange(2, 7)],
    ['open at the start', { to: cutRange(0, 4).to }],
    ['open at the end', { from: cutRange(3, 5).from }],
    ['inside one day', { from: days[3]!.first + 10 * BAR, to: days[3]!.first + 30 * BAR }],
    ['one whole day, bar to bar', { from: days[4]!.first, to: days[4]!.last }],
    ['before the data', { from: days[0]!.first - 10 * 86_400_000, to: days[0]!.first - 86_400_000 }],
  ];
  for (const [name, scope] of ranges) {
    const answer = await ask({ query: 'leaderboard', params: { ...scopeParams(scope), limit: 100 } });
    const want = summaryRef(raw, scope, capital);
    assert.equal(answer.rows.length, want.length, name);
    answer.rows.forEach((row, i) => {
      assert.equal(row['run_id'], want[i]!['run_id'], name);
      for (const metric of metrics) near(row[metric], want[i]![metric], `leaderboard ${name} ${String(row['run_id'])} ${metric}`, 1e-8);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// equity and exposure

const curveCases: [string, () => RefScope, number][] = [
  ['everything, 40 columns', () => ({}), 40],
  ['one run over a cut range, 25 columns', () => ({ runs: [raw.runs[0]!], ...cutRange(2, 5) }), 25],
  ['a sector, 60 columns', () => ({ sectors: [sectors[2]!] }), 60],
  ['two symbols over a cut range, 33 columns', () => ({ symbols: [symbols[0]!, symbols[5]!], ...cutRange(0, 3) }), 33],
  ['one pixel column', () => ({}), 1],
];

for (const [name, scope, width] of curveCases) {
  test(`equity: ${name}`, async () => {
    const s = scope();
    const answer = await ask({ query: 'equity', params: { ...scopeParams(s), width } });
    checkM4(answer.rows, equityRef(raw, s) as never, width, ['equity', 'drawdown'], 'equity', tradingTimeRef(raw));
  });
  test(`exposure: ${name}`, async () => {
    const s = scope();
    const answer = await ask({ query: 'exposure', params: { ...scopeParams(s), width } });
    checkM4(answer.rows, perBar(raw, s) as never, width, ['gross', 'net', 'long', 'short'], 'exposure', tradingTimeRef(raw));
  });
}

test('equity and exposure: wider than the series keeps every bar; drawdown restarts at the range start', async () => {
  const s: RefScope = { runs: [raw.runs[1]!], ...cutRange(3, 5), sectors: [sectors[1]!] };
  const equity = await ask({ query: 'equity', params: { ...scopeParams(s), width: 16_384 } });
  const want = equityRef(raw, s).get(raw.runs[1]!)!;
  nearRows(equity.rows, want.map((p) => ({ run_id: raw.runs[1]!, ts: p.t, equity: p.equity, drawdown: p.drawdown })), 'equity');
  assert.ok((equity.rows[0]!.drawdown as number) <= 0 && (equity.rows[0]!.equity as number) === want[0]!.equity);
  const exposure = await ask({ query: 'exposure', params: { ...scopeParams(s), width: 16_384 } });
  assert.equal(exposure.rows.length, want.length);
});

test('equity and exposure: an empty range and a range inside one bar have no rows', async () => {
  for (const range of [
    { from: days[0]!.first - 86_400_000, to: days[0]!.first - 1 },
    { from: days[1]!.first + 60_000, to: days[1]!.first + 120_000 },
  ]) {
    assert.equal((await ask({ query: 'equity', params: { ...range, width: 100 } })).rows.length, 0);
    assert.equal((await ask({ query: 'exposure', params: { ...range, width: 100 } })).rows.length, 0);
  }
});

// ---------------------------------------------------------------------------------------------
// breakdown

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

function breakdownRef(by: BreakdownDimension, s: RefScope): (Record<string, unknown> & { gkey: string | number })[] {
  const runs = runsOf(raw, s);
  const caps = runs.map(capital);
  const totalCapital = caps.some((c) => c === null) ? null : caps.reduce((a, c) => a! + c!, 0)!;
  const isoDow = (t: number) => ((new Date(t).getUTCDay() + 6) % 7) + 1;
  /** The group of a bar (at its time) or of a trade (at its close, `at`). */
  const groupOf = (x: { run: string; sector: string; symbol: string }, at: number): string | number => {
    switch (by) {
      case 'sector':
        return x.sector;
      case 'symbol':
        return x.symbol;
      case 'run':
        return x.run;
      case 'month':
        return new Date(at).toISOString().slice(0, 7);
      case 'weekday':
        return isoDow(at);
      case 'hour':
        return new Date(at).getUTCHours();
    }
  };
  const groups = new Map<string | number, { pnl: number; fees: number; gross: number; trades: number; wins: number; bars: boolean }>();
  const g = (k: string | number) => groups.get(k) ?? groups.set(k, { pnl: 0, fees: 0, gross: 0, trades: 0, wins: 0, bars: false }).get(k)!;
  const stamps = new Map<string | number, Set<string>>();
  const allStamps = new Set<string>();
  const timeDim = by === 'month' || by === 'weekday' || by === 'hour' || by === 'run';
  for (const b of barsInRange(raw, s)) {
    const stamp = `${b.run}|${b.ts}`;
    allStamps.add(stamp);
    if (timeDim) {
      const k = groupOf(b, b.ts);
      (stamps.get(k) ?? stamps.set(k, new Set()).get(k)!).add(stamp);
    }
    if (!dimOk(s, b)) continue;
    const x = g(groupOf(b, b.ts));
    x.pnl += b.pnl;
    x.fees += b.fees;
    x.gross += Math.abs(b.pv);
    x.bars = true;
  }
  for (const t of tradesIn(raw, s)) {
    const x = g(groupOf(t, t.close));
    x.trades++;
    if ((t.pnl ?? 0) > 0) x.wins++;
  }
  return [...groups].map(([gkey, x]) => {
    const den = timeDim ? (stamps.get(gkey)?.size ?? 0) : allStamps.size;
    const key =
      by === 'weekday' ? WEEKDAYS[(gkey as number) - 1]! : by === 'hour' ? String(gkey).padStart(2, '0') : String(gkey);
    return {
      gkey,
      key,
      pnl: x.pnl,
      contribution: totalCapital === null ? null : x.pnl / totalCapital,
      fees: x.fees,
      trades: x.trades,
      win_rate: x.trades === 0 ? null : x.wins / x.trades,
      avg_exposure: den === 0 ? null : x.gross / den,
    };
  });
}

function sortRows<T extends Record<string, unknown> & { gkey: string | number }>(rows: T[], column: string, descending: boolean): T[] {
  const cmp = (a: unknown, b: unknown) => ((a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0);
  return [...rows].sort((a, b) => {
    const x = column === 'key' ? a.gkey : a[column];
    const y = column === 'key' ? b.gkey : b[column];
    if (x === null && y === null) return cmp(a.gkey, b.gkey);
    if (x === null) return 1;
    if (y === null) return -1;
    return (descending ? -cmp(x, y) : cmp(x, y)) || cmp(a.gkey, b.gkey);
  });
}

const breakdownScopes: [string, () => RefScope][] = [
  ['everything', () => ({})],
  ['a cut range', () => cutRange(1, 7)],
  ['one run, a sector, a cut range', () => ({ runs: [raw.runs[0]!], sectors: [sectors[1]!, sectors[3]!], ...cutRange(2, 4) })],
  ['symbols and long trades', () => ({ symbols: symbols.slice(0, 6), sides: ['long'] })],
];

for (const by of ['sector', 'symbol', 'run', 'month', 'weekday', 'hour'] as const) {
  for (const [name, scope] of breakdownScopes) {
    test(`breakdown by ${by}: ${name}`, async () => {
      const s = scope();
      const ref = breakdownRef(by, s);
      const strip = (rows: Record<string, unknown>[]) => rows.map(({ gkey: _gkey, ...rest }) => rest);
      for (const column of BREAKDOWN_COLUMNS) {
        for (const descending of [false, true]) {
          const answer = await ask({ query: 'breakdown', params: { ...scopeParams(s), by, sort: { column, descending }, limit: 10_000 } });
          assert.equal(answer.outcome.total, ref.length, `${by} total groups`);
          nearRows(answer.rows, strip(sortRows(ref, column, descending)), `${by} by ${column} ${descending ? 'desc' : 'asc'}`);
        }
      }
      // A window of the default order (time groups by key, the others by P&L descending).
      const time = by === 'month' || by === 'weekday' || by === 'hour';
      const ordered = strip(sortRows(ref, time ? 'key' : 'pnl', !time));
      const page = await ask({ query: 'breakdown', params: { ...scopeParams(s), by, offset: 1, limit: 3 } });
      nearRows(page.rows, ordered.slice(1, 4), `${by} window`);
      assert.equal(page.outcome.total, ref.length);
      const past = await ask({ query: 'breakdown', params: { ...scopeParams(s), by, offset: 10_000, limit: 3 } });
      assert.equal(past.rows.length, 0);
      assert.equal(past.outcome.total, ref.length, 'total when the window is past the end');
    });
  }
}

test('breakdown: an empty range has no groups; a symbol without trades has zero trades and no win rate', async () => {
  const empty = await ask({ query: 'breakdown', params: { by: 'symbol', from: 0, to: 1000, limit: 10 } });
  assert.equal(empty.rows.length, 0);
  assert.equal(empty.outcome.total, 0);
  const run = raw.runs[0]!;
  const range = { from: days[0]!.first, to: days[1]!.last };
  const quiet = symbols.find((sym) => !raw.trades.some((t) => t.run === run && t.symbol === sym && t.close >= range.from && t.close <= range.to))!;
  const answer = await ask({ query: 'breakdown', params: { runs: [run], ...range, by: 'symbol', filters: { symbols: [quiet] }, limit: 10 } });
  assert.equal(answer.rows.length, 1);
  assert.equal(answer.rows[0]!.key, quiet);
  assert.equal(answer.rows[0]!.trades, 0);
  assert.equal(answer.rows[0]!.win_rate, null);
});

// ---------------------------------------------------------------------------------------------
// series

test('series: one symbol, M4 on price, position value and cumulative P&L, with its trades in range', async () => {
  for (const [symbol, s, width] of [
    [symbols[4]!, {} as RefScope, 30],
    [symbols[7]!, { runs: [raw.runs[1]!], ...cutRange(2, 6), sides: ['short'] } as RefScope, 12],
    [symbols[2]!, { ...cutRange(0, 9) } as RefScope, 16_384],
  ] as const) {
    const answer = await ask({ query: 'series', params: { ...scopeParams(s), symbol, width } });
    const full = new Map<string, { t: number; price: number; position_qty: number; position_value: number; cum_pnl: number }[]>();
    for (const run of runsOf(raw, s)) {
      let cum = 0;
      full.set(
        run,
        barsInRange(raw, s)
          .filter((b) => b.run === run && b.symbol === symbol)
          .sort((a, b) => a.ts - b.ts)
          .map((b) => ({ t: b.ts, price: b.price, position_qty: b.qty, position_value: b.pv, cum_pnl: (cum += b.pnl) })),
      );
    }
    const points = answer.parts.get('points')!;
    checkM4(points, full as never, width, ['price', 'position_value', 'cum_pnl', 'position_qty'].slice(0, 3), `series ${symbol}`, tradingTimeRef(raw));
    for (const row of points) {
      const exact = full.get(row.run_id as string)!.find((p) => p.t === row.ts)!;
      assert.equal(row.position_qty, exact.position_qty);
    }
    if (width === 16_384) assert.equal(points.length, [...full.values()].reduce((n, p) => n + p.length, 0));
    const inRange = (t: number | null) => t !== null && (s.from === undefined || t >= s.from) && (s.to === undefined || t <= s.to);
    const want = tradesIn(raw, { ...s, from: undefined, to: undefined, symbols: undefined }, { range: false, dims: false })
      .filter((t) => t.symbol === symbol && (inRange(t.entry) || inRange(t.exit)))
      .sort((a, b) => (a.run < b.run ? -1 : a.run > b.run ? 1 : a.entry - b.entry || a.id - b.id));
    const trades = answer.parts.get('trades')!;
    assert.deepEqual(
      trades.map((t) => `${String(t.run_id)}#${String(t.trade_id)}`),
      want.map((t) => `${t.run}#${t.id}`),
      `series ${symbol} trades`,
    );
    assert.equal(answer.outcome.total, want.length);
  }
});

test('series: a symbol with no trades in range has an empty trades part; too many trades are reported truncated', async () => {
  const run = raw.runs[0]!;
  const range = { from: days[0]!.first, to: days[1]!.last };
  const quiet = symbols.find((sym) => !raw.trades.some((t) => t.run === run && t.symbol === sym && ((t.entry >= range.from && t.entry <= range.to) || (t.exit !== null && t.exit >= range.from && t.exit <= range.to))));
  if (quiet) {
    const answer = await ask({ query: 'series', params: { runs: [run], ...range, symbol: quiet, width: 50 } });
    assert.ok(answer.parts.get('points')!.length > 0);
    assert.equal(answer.parts.get('trades')!.length, 0);
    assert.deepEqual(answer.tables.at(-1)!.schema.fields.map((f) => f.name), ['run_id', 'trade_id', 'side', 'entry_ts', 'exit_ts', 'qty', 'entry_price', 'exit_price', 'pnl', 'ret', 'tag']);
  }
  const busy = await ask({ query: 'series', params: { symbol: symbols[0]!, width: 10, maxTrades: 2 } });
  assert.equal(busy.parts.get('trades')!.length, 2);
  assert.equal(busy.outcome.approximate, true);
  assert.match(busy.outcome.notes.join(' '), /first 2 of/);
});

// ---------------------------------------------------------------------------------------------
// trades

function tradeValue(t: Trade, column: TradeSortColumn): string | number | null {
  const map: Record<TradeSortColumn, string | number | null> = {
    trade_id: t.id,
    run_id: t.run,
    symbol: t.symbol,
    sector: t.sector,
    side: t.side,
    tag: t.tag,
    entry_ts: t.entry,
    exit_ts: t.exit,
    qty: t.qty,
    entry_price: t.entryPrice,
    exit_price: t.exitPrice,
    fees: t.fees,
    pnl: t.pnl,
    ret: t.ret,
    bars_held: t.barsHeld,
    holding_ms: t.holdingMs,
    mae: t.mae,
    mfe: t.mfe,
  };
  return map[column];
}

function sortTrades(trades: Trade[], column: TradeSortColumn, descending: boolean): Trade[] {
  const cmp = (a: unknown, b: unknown) => ((a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0);
  const asc = [...trades].sort((a, b) => {
    const x = tradeValue(a, column);
    const y = tradeValue(b, column);
    const byValue = x === null && y === null ? 0 : x === null ? 1 : y === null ? -1 : cmp(x, y);
    return byValue || cmp(a.run, b.run) || a.id - b.id;
  });
  return descending ? asc.reverse() : asc;
}

test('trades: every sort column, both directions, windows at the top, in the middle, at the end and past it', async () => {
  const s: RefScope = {};
  const all = tradesIn(raw, s);
  const columns: TradeSortColumn[] = ['pnl', 'symbol', 'entry_ts', 'ret', 'trade_id', 'holding_ms', 'mae', 'sector', 'tag', 'side', 'run_id', 'qty', 'exit_price', 'bars_held', 'mfe', 'fees', 'entry_price', 'exit_ts'];
  for (const column of columns) {
    for (const descending of [false, true]) {
      const sorted = sortTrades(all, column, descending);
      for (const [offset, limit] of [[0, 7], [Math.floor(all.length / 2) - 3, 11], [all.length - 4, 10], [all.length + 5, 10]] as const) {
        const answer = await ask({ query: 'trades', params: { sort: { column, descending }, offset, limit } });
        const want = sorted.slice(offset, offset + limit);
        assert.equal(answer.outcome.total, all.length);
        assert.deepEqual(
          answer.rows.map((r) => `${String(r.run_id)}#${String(r.trade_id)}`),
          want.map((t) => `${t.run}#${t.id}`),
          `${column} ${descending ? 'desc' : 'asc'} at ${offset}`,
        );
      }
    }
  }
});

test('trades: filters on symbol, sector, side, tag, pnl, return, holding time and MAE/MFE, over a cut range', async () => {
  const cases: RefScope[] = [
    { symbols: [symbols[1]!, symbols[2]!] },
    { sectors: [sectors[0]!], sides: ['short'] },
    { tags: ['q1'], pnl: { min: 0 } },
    { ret: { min: -0.01, max: 0.01 }, holdingMs: { min: 60 * 60_000 } },
    { mae: { min: -0.01 }, mfe: { max: 0.02 }, barsHeld: { min: 10 } },
    { runs: [raw.runs[1]!], ...cutRange(2, 5) },
    { pnl: { max: -0.01 } },
    { from: 0, to: 1000 },
  ];
  for (const s of cases) {
    const want = sortTrades(tradesIn(raw, s), 'pnl', true);
    const answer = await ask({ query: 'trades', params: { ...scopeParams(s), sort: { column: 'pnl', descending: true }, limit: 10_000 } });
    assert.equal(answer.outcome.total, want.length, JSON.stringify(s));
    assert.deepEqual(answer.rows.map((r) => `${String(r.run_id)}#${String(r.trade_id)}`), want.map((t) => `${t.run}#${t.id}`));
    assert.deepEqual(answer.tables[0]!.schema.fields.map((f) => f.name), [...TRADE_COLUMNS]);
    const first = answer.rows[0];
    if (first) {
      const t = want[0]!;
      near(first.entry_ts, t.entry, 'entry_ts');
      near(first.exit_ts, t.exit, 'exit_ts');
      near(first.holding_ms, t.holdingMs, 'holding_ms');
      assert.equal(first.sector, t.sector);
      near(first.pnl, t.pnl, 'pnl');
    }
  }
});

// ---------------------------------------------------------------------------------------------
// histogram

/** Bins over [lo, hi]; `domain` (null: no values) defaults to the values' own (the daily-return rule). */
function histogramRef(values: { run: string; v: number }[], runs: string[], bins: number, min?: number, max?: number, domain?: [number, number] | null) {
  const own: [number, number] | null = values.length ? [Math.min(...values.map((x) => x.v)), Math.max(...values.map((x) => x.v))] : null;
  const bounds = domain === undefined ? own : domain;
  let lo = min ?? bounds?.[0] ?? null;
  let hi = max ?? bounds?.[1] ?? null;
  if (lo !== null && hi !== null && lo > hi) lo = hi = null;
  const out: Record<string, unknown>[] = [];
  for (const run of runs) {
    const counts = new Map<number, number>();
    for (const { v } of values.filter((x) => x.run === run)) {
      const bin = v < lo! ? -1 : v > hi! ? bins : hi === lo ? 0 : Math.min(Math.floor(((v - lo!) / (hi! - lo!)) * bins), bins - 1);
      counts.set(bin, (counts.get(bin) ?? 0) + 1);
    }
    const keys = [...new Set([...Array.from({ length: bins }, (_, i) => i), ...counts.keys()])].sort((a, b) => a - b);
    for (const bin of keys) {
      out.push({
        run_id: run,
        bin,
        lo: lo === null ? null : bin < 0 ? -Infinity : bin >= bins ? hi : lo + ((hi! - lo) * bin) / bins,
        hi: hi === null ? null : bin < 0 ? lo : bin >= bins ? Infinity : lo! + ((hi - lo!) * (bin + 1)) / bins,
        count: counts.get(bin) ?? 0,
      });
    }
  }
  return out;
}

test('histogram: trade fields with their own bounds and with given bounds, daily returns', async () => {
  const fields = { pnl: (t: Trade) => t.pnl, ret: (t: Trade) => t.ret, holding_ms: (t: Trade) => t.holdingMs, mae: (t: Trade) => t.mae, mfe: (t: Trade) => t.mfe, bars_held: (t: Trade) => t.barsHeld };
  const rangeKey = { pnl: 'pnl', ret: 'ret', holding_ms: 'holdingMs', mae: 'mae', mfe: 'mfe', bars_held: 'barsHeld' } as const;
  for (const [field, get] of Object.entries(fields)) {
    const values = (trades: Trade[]) => trades.flatMap((t) => (get(t) === null ? [] : [{ run: t.run, v: get(t)! }]));
    for (const [s, bins, min, max] of [
      [{}, 20, undefined, undefined],
      [{ sectors: [sectors[2]!], ...cutRange(1, 6) }, 7, undefined, undefined],
      [{ sides: ['long'] }, 5, -0.005, 0.005],
      [{ symbols: [symbols[3]!, symbols[8]!], sides: ['short'], ...cutRange(0, 7) }, 9, undefined, undefined],
      [{ tags: [raw.trades.find((t) => t.tag !== null)!.tag!], pnl: { min: 0 } }, 8, undefined, undefined],
      [{ [rangeKey[field as keyof typeof rangeKey]]: { max: 0 } }, 6, undefined, undefined],
    ] as [RefScope, number, number | undefined, number | undefined][]) {
      // Bounds not given: the field's over the scope's runs, range and dimensions before the trade
      // filters, narrowed by a range filter on the field itself.
      const population = tradesIn(raw, { runs: s.runs, from: s.from, to: s.to, sectors: s.sectors, symbols: s.symbols } as RefScope);
      const own = s[rangeKey[field as keyof typeof rangeKey]];
      const bounds = values(population).map((x) => x.v);
      const clip: [number, number] | null = bounds.length
        ? [Math.max(Math.min(...bounds), own?.min ?? -Infinity), Math.min(Math.max(...bounds), own?.max ?? Infinity)]
        : null;
      const answer = await ask({
        query: 'histogram',
        params: { ...scopeParams(s), field: field as 'pnl', bins, ...(min !== undefined ? { min, max } : {}) },
      });
      const matching = values(tradesIn(raw, s));
      nearRows(answer.rows, histogramRef(matching, runsOf(raw, s), bins, min, max, clip), `histogram ${field} ${JSON.stringify(s)}`);
      const total = answer.rows.reduce((n, r) => n + (r.count as number), 0);
      assert.equal(total, matching.length, `${field}: every value counted once`);
    }
  }
  for (const s of [{}, { symbols: [symbols[9]!], ...cutRange(0, 8) }] as RefScope[]) {
    const values = dailySeries(raw, s, capital).map((d) => ({ run: d.run, v: d.ret! }));
    for (const [min, max] of [[undefined, undefined], [-0.002, 0.001]] as const) {
      const answer = await ask({ query: 'histogram', params: { ...scopeParams(s), field: 'daily_return', bins: 6, ...(min !== undefined ? { min, max } : {}) } });
      nearRows(answer.rows, histogramRef(values, runsOf(raw, s), 6, min, max), 'histogram daily_return');
    }
  }
  const empty = await ask({ query: 'histogram', params: { field: 'pnl', bins: 3, from: 0, to: 1 } });
  assert.ok(empty.rows.every((r) => r.count === 0 && r.lo === null));
});

// ---------------------------------------------------------------------------------------------
// heatmap and rolling

test('heatmap: monthly compounded returns by year', async () => {
  for (const s of [{}, { sectors: [sectors[4]!], ...cutRange(1, 8) }, { runs: [raw.runs[0]!], from: 0, to: 1 }] as RefScope[]) {
    const want: Record<string, unknown>[] = [];
    const daily = dailySeries(raw, s, capital);
    const groups = new Map<string, typeof daily>();
    for (const d of daily) {
      const k = `${d.run}|${d.day.slice(0, 7)}`;
      (groups.get(k) ?? groups.set(k, []).get(k)!).push(d);
    }
    for (const [k, ds] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const [run, ym] = k.split('|') as [string, string];
      want.push({
        run_id: run,
        year: Number(ym.slice(0, 4)),
        month: Number(ym.slice(5, 7)),
        ret: ds.reduce((p, d) => p * (1 + d.ret!), 1) - 1,
        pnl: ds.reduce((a, d) => a + d.pnl, 0),
        days: ds.length,
      });
    }
    const answer = await ask({ query: 'heatmap', params: scopeParams(s) });
    nearRows(answer.rows, want, 'heatmap');
  }
});

test('rolling: Sharpe, volatility and beta to the equal-weighted market over N days', async () => {
  const market = marketRef(raw);
  for (const [s, window] of [[{}, 3], [{ symbols: [symbols[1]!, symbols[11]!], ...cutRange(0, 9) }, 4], [{ runs: [raw.runs[1]!] }, 20]] as [RefScope, number][]) {
    const want: Record<string, unknown>[] = [];
    for (const run of runsOf(raw, s)) {
      const ds = dailySeries(raw, s, capital).filter((d) => d.run === run);
      ds.forEach((d, i) => {
        const row: Record<string, unknown> = { run_id: run, day: dayMs(d.day), ret: d.ret, sharpe: null, volatility: null, beta: null };
        if (i >= window - 1) {
          const w = ds.slice(i - window + 1, i + 1);
          const rets = w.map((x) => x.ret!);
          const sd = sdSample(rets)!;
          const m = rets.reduce((a, b) => a + b, 0) / rets.length;
          row.sharpe = sd === 0 ? null : (m / sd) * Math.sqrt(252);
          row.volatility = sd * Math.sqrt(252);
          const pairs = w.flatMap((x) => (market.get(x.day) === null || market.get(x.day) === undefined ? [] : [[x.ret!, market.get(x.day)!]]));
          if (pairs.length > 0) {
            const mr = pairs.reduce((a, p) => a + p[0]!, 0) / pairs.length;
            const mm = pairs.reduce((a, p) => a + p[1]!, 0) / pairs.length;
            const cov = pairs.reduce((a, p) => a + (p[0]! - mr) * (p[1]! - mm), 0) / pairs.length;
            const variance = pairs.reduce((a, p) => a + (p[1]! - mm) ** 2, 0) / pairs.length;
            row.beta = variance === 0 ? null : cov / variance;
          }
        }
        want.push(row);
      });
    }
    const answer = await ask({ query: 'rolling', params: { ...scopeParams(s), window } });
    nearRows(answer.rows, want, `rolling ${window}`, 1e-7);
  }
});

// ---------------------------------------------------------------------------------------------
// export

test('export: raw trades and bars, filtered and limited, in stored order', async () => {
  const trades = await ask({ query: 'export', params: { table: 'trades', filters: { sides: ['long'] } } });
  assert.equal(trades.rows.length, tradesIn(raw, { sides: ['long'] }).length);
  const s: RefScope = { runs: [raw.runs[1]!], symbols: [symbols[3]!], ...cutRange(1, 2) };
  const bars = await ask({ query: 'export', params: { table: 'bars', ...scopeParams(s) } });
  const want = barsInRange(raw, s).filter((b) => dimOk(s, b)).sort((a, b) => a.ts - b.ts);
  assert.equal(bars.rows.length, want.length);
  bars.rows.forEach((r, i) => {
    assert.equal(r.ts, want[i]!.ts);
    near(r.pnl, want[i]!.pnl, 'pnl');
    near(r.position_value, want[i]!.pv, 'position_value');
  });
  const limited = await ask({ query: 'export', params: { table: 'bars', limit: 2500 } });
  assert.equal(limited.rows.length, 2500);
  assert.ok(limited.tables.length >= 2, 'a large answer is several batches');
});

// ---------------------------------------------------------------------------------------------
// Allow-lists: client values never become SQL text

test('values outside the dataset are refused by name before any SQL; accepted ones are bound, not written', async () => {
  const catalog = session.store.catalog;
  const evil = "x'); DROP TABLE bars; --";
  const request = (query: string, params: Record<string, unknown>) => ({ type: 'request', id: 1, query, params }) as never;
  for (const [params, pattern] of [
    [{ runs: [evil] }, /unknown run/],
    [{ filters: { sectors: [evil] } }, /unknown sector/],
    [{ filters: { symbols: [evil] } }, /unknown symbol/],
    [{ filters: { tags: [evil] } }, /unknown tag/],
    [{ from: 10, to: 5 }, /reversed/],
    [{ filters: { pnl: { min: 5, max: 1 } } }, /reversed/],
  ] as const) {
    assert.throws(() => planRequest(request('summary', params), catalog), (e: Error) => e instanceof BadParamsError && pattern.test(e.message));
  }
  assert.throws(() => planRequest(request('series', { symbol: evil, width: 5 }), catalog), /unknown symbol/);
  // A legitimate value shows up in the bound parameters only.
  const symbol = symbols[0]!;
  const read: { sql: string; params: Record<string, unknown> }[] = [];
  const plan = await planRequest(request('series', { symbol, width: 5, filters: { tags: ['q1'] } }), catalog)(
    async (sql, params) => (read.push({ sql, params }), []),
    async (sql, params) => (read.push({ sql, params }), new Map()),
  );
  read.push(...plan.statements.filter((statement) => statement.sql !== NOTHING_TO_READ));
  assert.equal(read.length, 2, 'the trades with their count, and the bars: look-ups, side by side');
  for (const statement of read) {
    assert.ok(!statement.sql.includes(`'${symbol}'`) && !statement.sql.includes("'q1'"), 'values are not in the SQL text');
    assert.ok(Object.values(statement.params).includes(symbol) || Object.values(statement.params).includes('q1'));
  }
});
