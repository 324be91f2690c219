// The scatter and the close hour and weekday filters against a plain-JS computation over the tiny
// fixture's raw trades (test/support/reference.ts): the points are exactly the trades in scope, in
// entry order, sampled by their md5 keys when capped; an hour or weekday filter selects exactly the trades
// closing then, and exactly the trades the hour and weekday breakdowns count in that bar.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { SCATTER_COLUMNS } from '../../shared/constants.js';
import { sqlString } from '../../server/sql/text.js';
import { planScatter } from '../../server/session/queries/scatter.js';
import { tinyDataset } from '../support/datasets.js';
import { near, scopeParams } from '../support/checks.js';
import { LocalSession } from '../support/local-session.js';
import { loadRaw, tradesIn, type RawData, type RefScope, type Trade } from '../support/reference.js';
import { copyTiny, duck, workDir } from '../support/tiny-variants.js';

let session: LocalSession;
let raw: RawData;
let zone: string;
let days: { first: number; last: number }[];

before(async () => {
  const dir = await tinyDataset();
  session = await LocalSession.open(dir);
  raw = await loadRaw(dir);
  zone = session.store.catalog.timezone.zone;
  days = session.store.catalog.days.map((d) => ({ first: d.first, last: d.last }));
});

after(() => session?.close());

/** A scope with the close hour and weekday filters, which the shared reference does not know. */
interface CloseScope extends RefScope {
  hours?: number[];
  weekdays?: number[];
}

/** The hour of an instant in the exchange time zone (what the hour breakdown groups by). */
function exchangeHour(ms: number): number {
  const hour = new Intl.DateTimeFormat('en-US', { timeZone: zone, hour: 'numeric', hourCycle: 'h23' }).format(new Date(ms));
  return Number(hour);
}

/** ISO weekday (1 = Monday) of an instant's UTC date. */
const utcWeekday = (ms: number) => ((new Date(ms).getUTCDay() + 6) % 7) + 1;

function tradesOf(s: CloseScope): Trade[] {
  return tradesIn(raw, s).filter((t) => (!s.hours || s.hours.includes(exchangeHour(t.close))) && (!s.weekdays || s.weekdays.includes(utcWeekday(t.close))));
}

/** In entry order: (entry, run, trade id), as trade_list's rk_entry_ts. */
const byEntry = (trades: Trade[]) => [...trades].sort((a, b) => a.entry - b.entry || (a.run < b.run ? -1 : a.run > b.run ? 1 : 0) || a.id - b.id);

function paramsOf(s: CloseScope) {
  const base = scopeParams(s);
  const filters = { ...base.filters, ...(s.hours ? { hours: s.hours } : {}), ...(s.weekdays ? { weekdays: s.weekdays } : {}) };
  return { ...base, ...(Object.keys(filters).length ? { filters } : {}) };
}

function checkPoints(rows: Record<string, unknown>[], want: Trade[], what: string): void {
  assert.deepEqual(rows.map((r) => `${String(r.run_id)}#${String(r.trade_id)}`), want.map((t) => `${t.run}#${t.id}`), what);
  rows.forEach((r, i) => {
    const t = want[i]!;
    assert.equal(r.symbol, t.symbol, `${what} ${i} symbol`);
    near(r.entry_ts, t.entry, `${what} ${i} entry_ts`);
    near(r.exit_ts, t.exit, `${what} ${i} exit_ts`);
    near(r.mae, t.mae, `${what} ${i} mae`);
    near(r.mfe, t.mfe, `${what} ${i} mfe`);
    near(r.ret, t.ret, `${what} ${i} ret`);
    near(r.pnl, t.pnl, `${what} ${i} pnl`);
  });
}

const BAR = 5 * 60_000;

/** A trade's sample key as docs/metrics.md defines it: md5("<run>#<id>"), first 8 bytes little-endian. */
const sampleKey = (t: Trade) => createHash('md5').update(`${t.run}#${t.id}`).digest().readBigUInt64LE(0);
const compareKeys = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

test('the tiny fixture has trades at several close hours and weekdays', () => {
  assert.ok(new Set(raw.trades.map((t) => exchangeHour(t.close))).size >= 3);
  assert.ok(new Set(raw.trades.map((t) => utcWeekday(t.close))).size >= 3);
});

test('scatter: the points are the trades in scope, in entry order, with their MAE, MFE, return and P&L', async () => {
  const hour = exchangeHour(raw.trades[0]!.close);
  const weekday = utcWeekday(raw.trades[1]!.close);
  const cases: [string, CloseScope][] = [
    ['everything', {}],
    ['one run over a range cutting two days', { runs: [raw.runs[1]!], from: days[1]!.first + 37 * BAR + 60_000, to: days[5]!.first + 20 * BAR + 1 }],
    ['a sector, long trades', { sectors: [raw.trades[0]!.sector], sides: ['long'] }],
    ['two symbols (the base trades table)', { symbols: [raw.trades[0]!.symbol, raw.trades[3]!.symbol] }],
    ['losing trades held an hour or more', { pnl: { max: -0.01 }, holdingMs: { min: 3_600_000 } }],
    ['one close hour', { hours: [hour] }],
    ['two weekdays over a cut range', { weekdays: [weekday, 5], from: days[2]!.first + 7 * BAR, to: days[6]!.last - 11 * BAR }],
    ['an hour, a weekday and a symbol', { hours: [hour], weekdays: [weekday], symbols: [raw.trades[0]!.symbol] }],
    ['a run of one day', { runs: [raw.runs[0]!], from: days[4]!.first, to: days[4]!.last }],
    ['a range with no trades', { from: days[0]!.first - 10 * 86_400_000, to: days[0]!.first - 86_400_000 }],
    ['an hour without trades', { hours: [3] }],
  ];
  for (const [name, s] of cases) {
    const want = byEntry(tradesOf(s));
    const answer = await session.ask({ query: 'scatter', params: paramsOf(s) });
    assert.equal(answer.outcome.total, want.length, `${name}: total`);
    checkPoints(answer.rows, want, name);
    if (answer.tables[0]) assert.deepEqual(answer.tables[0].schema.fields.map((f) => f.name), [...SCATTER_COLUMNS]);
    assert.deepEqual(answer.outcome.notes, [], name);
    assert.doesNotMatch(answer.outcome.source, /bar/, `${name}: read ${answer.outcome.source}`);
  }
  assert.ok(tradesOf({ hours: [3] }).length === 0, 'the fixture has no trade closing at 03:00 exchange time');
});

test('scatter above its cap: exactly the cap trades with the smallest sample keys, in entry order, and the note says so', async () => {
  const cases: [string, CloseScope, number][] = [
    ['every trade', {}, 7],
    ['one run over a cut range', { runs: [raw.runs[1]!], from: days[1]!.first + 37 * BAR, to: days[6]!.last }, 5],
    ['a symbol (base table)', { symbols: [raw.trades[0]!.symbol] }, 2],
    ['a weekday', { weekdays: [utcWeekday(raw.trades[2]!.close)] }, 3],
    ['a sector (its head of trade_sample_by_sector)', { sectors: [raw.trades[0]!.sector] }, 3],
    ['two sectors, one side, a cut range', { sectors: [...new Set(raw.trades.map((t) => t.sector))].slice(0, 2), sides: ['long'], from: days[1]!.first + 37 * BAR, to: days[6]!.last }, 4],
  ];
  for (const [name, s, cap] of cases) {
    const all = byEntry(tradesOf(s));
    assert.ok(all.length > cap, `${name}: ${all.length} trades, need more than ${cap}`);
    const want = byEntry([...all].sort((a, b) => compareKeys(sampleKey(a), sampleKey(b)) || (a.run < b.run ? -1 : a.run > b.run ? 1 : 0) || a.id - b.id).slice(0, cap));
    assert.equal(want.length, cap);
    const rows: Record<string, unknown>[] = [];
    const outcome = await session.runner.run({
      planner: planScatter(paramsOf(s), session.store.catalog, cap),
      signal: new AbortController().signal,
      batchRows: 1000,
      onBatch: async (ipc) => {
        for (const row of tableFromIPC(ipc).toArray()) rows.push(row.toJSON() as Record<string, unknown>);
      },
    });
    assert.equal(outcome.total, all.length, name);
    if (s.sectors) assert.equal(outcome.source, 'trade_sample_by_sector', name);
    checkPoints(rows, want, name);
    assert.deepEqual(outcome.notes, [`a uniform sample: the ${cap} of ${all.length} trades with the smallest sample keys, in entry order`]);
  }
});

test('hour and weekday filters: every trade measure counts exactly the trades closing then', async () => {
  const hours = [...new Set(raw.trades.map((t) => exchangeHour(t.close)))].sort((a, b) => a - b);
  const weekdays = [...new Set(raw.trades.map((t) => utcWeekday(t.close)))].sort((a, b) => a - b);
  const cutRange = { from: days[1]!.first + 37 * BAR + 60_000, to: days[6]!.first + 20 * BAR + 1 };
  const cases: CloseScope[] = [
    { hours: [hours[0]!] },
    { hours: hours.slice(1, 3) },
    { weekdays: [weekdays[0]!] },
    { weekdays: weekdays.slice(1), hours: [hours.at(-1)!] },
    { hours: [hours[1]!], ...cutRange, runs: [raw.runs[0]!] },
    { weekdays: [weekdays[1]!], sectors: [raw.trades[0]!.sector], sides: ['short'] },
  ];
  for (const s of cases) {
    const want = tradesOf(s);
    const what = JSON.stringify(s);
    const summary = await session.ask({ query: 'summary', params: paramsOf(s) });
    const counted = summary.rows.reduce((sum, r) => sum + Number(r.trade_count), 0);
    assert.equal(counted, want.length, `summary trade_count ${what}`);
    const wins = summary.rows.reduce((sum, r) => sum + Number(r.winning_trades), 0);
    assert.equal(wins, want.filter((t) => (t.pnl ?? 0) > 0).length, `summary winning_trades ${what}`);
    const list = await session.ask({ query: 'trades', params: { ...paramsOf(s), sort: { column: 'pnl', descending: true }, limit: 10_000 } });
    assert.equal(list.outcome.total, want.length, `trades total ${what}`);
    assert.deepEqual(new Set(list.rows.map((r) => `${String(r.run_id)}#${String(r.trade_id)}`)), new Set(want.map((t) => `${t.run}#${t.id}`)));
    const bySector = await session.ask({ query: 'breakdown', params: { ...paramsOf(s), by: 'sector', limit: 100 } });
    assert.equal(bySector.rows.reduce((sum, r) => sum + Number(r.trades), 0), want.length, `breakdown trades ${what}`);
  }
});

test('a click on an hour or weekday bar selects exactly the trades that bar counted', async () => {
  for (const by of ['hour', 'weekday'] as const) {
    const bars = await session.ask({ query: 'breakdown', params: { by, limit: 24 } });
    assert.ok(bars.rows.length >= 3, `${by}: ${bars.rows.length} bars`);
    for (const bar of bars.rows) {
      const key = by === 'hour' ? Number(bar.key) : ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(String(bar.key)) + 1;
      const filters = by === 'hour' ? { hours: [key] } : { weekdays: [key] };
      const summary = await session.ask({ query: 'summary', params: { filters } });
      assert.equal(summary.rows.reduce((sum, r) => sum + Number(r.trade_count), 0), Number(bar.trades), `${by} ${String(bar.key)}`);
      assert.equal(tradesOf(filters).length, Number(bar.trades), `${by} ${String(bar.key)} against the raw trades`);
    }
  }
});

test('in an exchange time zone, an hour filter selects by the exchange hour of the close', async () => {
  // The tiny fixture written as New York wall clock with the zone stated (as timezone.test.ts
  // does): each trade's exchange hour is then the hour of its raw (wall-clock) close.
  const NY = 'America/New_York';
  const work = await workDir('scatter-zone');
  const local = path.join(work, 'new-york');
  const tiny = await copyTiny(local, ['bars', 'trades']);
  await mkdir(path.join(local, 'trades'), { recursive: true });
  const wallClock = (ts: string) => `timezone('${NY}', timezone('UTC', ${ts}))`;
  await duck(
    `COPY (SELECT * REPLACE (${wallClock('ts')} AS ts) FROM read_parquet(${sqlString(path.join(tiny, 'bars', '*', '*.parquet'))}, hive_partitioning = true))
      TO ${sqlString(path.join(local, 'bars'))} (FORMAT parquet, PARTITION_BY (run_id))`,
    `COPY (SELECT * REPLACE (${wallClock('entry_ts')} AS entry_ts, ${wallClock('exit_ts')} AS exit_ts) FROM read_parquet(${sqlString(path.join(tiny, 'trades', 'trades.parquet'))}))
      TO ${sqlString(path.join(local, 'trades', 'trades.parquet'))} (FORMAT parquet)`,
  );
  const zoned = await LocalSession.open(local, 1, { storeDir: path.join(work, '.stores'), description: { timezone: NY } });
  try {
    assert.equal(zoned.store.catalog.timezone.zone, NY);
    const wall = await loadRaw(local);
    const bars = await zoned.ask({ query: 'breakdown', params: { by: 'hour', limit: 24 } });
    const hours = bars.rows.filter((r) => Number(r.trades) > 0).map((r) => Number(r.key));
    assert.ok(hours.length >= 3 && hours.every((h) => h >= 9 && h <= 16), `exchange hours ${hours.join(', ')}`);
    for (const hour of hours) {
      const want = byEntry(wall.trades.filter((t) => new Date(t.close).getUTCHours() === hour));
      const points = await zoned.ask({ query: 'scatter', params: { filters: { hours: [hour] } } });
      assert.deepEqual(points.rows.map((r) => `${String(r.run_id)}#${String(r.trade_id)}`), want.map((t) => `${t.run}#${t.id}`), `hour ${hour}`);
      const bar = bars.rows.find((r) => Number(r.key) === hour)!;
      assert.equal(Number(bar.trades), want.length, `the ${hour}:00 bar counts the trades the filter selects`);
    }
  } finally {
    zoned.close();
  }
});
