// The exchange time zone (server/prepare/exchange-zone.ts): stated in the description, inferred
// from zoned timestamps (pandas' Parquet metadata), or none (UTC). The tiny fixture's New York
// session moved across the 2024 daylight-saving change (10 March) and written as New York wall
// clock: its hour breakdown reads 09..16 on both sides of the change, where UTC hours would read
// 13..21; the trades' hours are checked against the raw files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { sqlString } from '../../server/sql/text.js';
import { LocalSession } from '../support/local-session.js';
import { copyTiny, duck, workDir } from '../support/tiny-variants.js';

const NY = 'America/New_York';
/** Nine weeks: the fixture's first day, Tuesday 2 January 2024, moves to Tuesday 5 March. */
const SHIFT = 'INTERVAL 63 DAY';
const HOURS = ['09', '10', '11', '12', '13', '14', '15', '16'];

let work: string;
let local: string;
let stated: LocalSession;

/** `ts` (UTC) as New York wall clock, nine weeks later. */
const wallClock = (ts: string) => `timezone('${NY}', timezone('UTC', ${ts})) + ${SHIFT}`;

before(async () => {
  work = await workDir('timezone');
  local = path.join(work, 'new-york');
  const tiny = await copyTiny(local, ['bars', 'trades']);
  await duck(
    `COPY (SELECT * REPLACE (${wallClock('ts')} AS ts) FROM read_parquet(${sqlString(path.join(tiny, 'bars', '*', '*.parquet'))}, hive_partitioning = true))
      TO ${sqlString(path.join(local, 'bars'))} (FORMAT parquet, PARTITION_BY (run_id))`,
    `COPY (SELECT * REPLACE (${wallClock('entry_ts')} AS entry_ts, ${wallClock('exit_ts')} AS exit_ts) FROM read_parquet(${sqlString(path.join(tiny, 'trades', 'trades.parquet'))}))
      TO ${sqlString(path.join(local, 'trades.parquet'))} (FORMAT parquet)`,
  );
  stated = await LocalSession.open(local, 1, { storeDir: path.join(work, '.stores'), description: { timezone: NY } });
});

after(() => stated?.close());

async function hourBreakdown(session: LocalSession): Promise<Record<string, unknown>[]> {
  const answer = await session.ask({ query: 'breakdown', params: { by: 'hour', limit: 100 } });
  return answer.rows;
}

test('the stated time zone is the dataset\'s exchange zone, in the hello', () => {
  assert.deepEqual(stated.store.schema.timezone, { zone: NY, source: 'tickscope.json' });
});

test('hour breakdown in exchange time: 09..16 across the daylight-saving change, trades by their local close hour', async () => {
  const rows = await hourBreakdown(stated);
  assert.deepEqual(rows.map((r) => r['key']), HOURS);
  const want = await duck(`SELECT lpad(hour(coalesce(exit_ts, entry_ts))::VARCHAR, 2, '0') AS key, count(*)::INTEGER AS trades
    FROM read_parquet(${sqlString(path.join(local, 'trades.parquet'))}) GROUP BY 1 ORDER BY 1`);
  const got = new Map(rows.map((r) => [String(r['key']), Number(r['trades'])]));
  for (const w of want) assert.equal(got.get(String(w['key'])), Number(w['trades']), `trades closed in hour ${String(w['key'])}`);
  const bars = await duck(`SELECT sum(pnl) AS pnl FROM read_parquet(${sqlString(path.join(local, 'bars', '*', '*.parquet'))})`);
  const total = rows.reduce((s, r) => s + Number(r['pnl']), 0);
  assert.ok(Math.abs(total - Number(bars[0]!['pnl'])) < 1e-6 * Math.abs(Number(bars[0]!['pnl'])) + 1e-6, `hours add up to the total P&L: ${total}`);
  // Both sides of the change: 09:35 is 14:35 UTC before 10 March and 13:35 UTC after.
  const utcHours = await duck(`SELECT DISTINCT hour(timezone('UTC', timezone('${NY}', ts))) AS h
    FROM read_parquet(${sqlString(path.join(local, 'bars', '*', '*.parquet'))}) WHERE hour(ts) = 9 ORDER BY h`);
  assert.deepEqual(utcHours.map((r) => Number(r['h'])), [13, 14], 'the dataset crosses the daylight-saving change');
});

test('a hand-picked time range keeps exchange hours (cut days are answered from trade_list and bars)', async () => {
  const first = stated.store.catalog.days[2]!;
  const last = stated.store.catalog.days[6]!;
  const answer = await stated.ask({ query: 'breakdown', params: { by: 'hour', limit: 100, from: first.first + 3_600_000, to: last.last - 3_600_000 } });
  const keys = answer.rows.map((r) => String(r['key']));
  assert.ok(keys.every((k) => HOURS.includes(k)), `hours ${keys.join(', ')}`);
});

test('without a stated zone, naive timestamps name none: UTC, said so', async () => {
  const dir = path.join(work, 'utc');
  await copyTiny(dir);
  const session = await LocalSession.open(dir, 1, { storeDir: path.join(work, '.stores-utc') });
  try {
    assert.equal(session.store.schema.timezone.zone, 'UTC');
    assert.match(session.store.schema.timezone.source, /^none: .*"timezone"/);
    assert.deepEqual((await hourBreakdown(session)).map((r) => r['key']), ['14', '15', '16', '17', '18', '19', '20', '21']);
  } finally {
    session.close();
  }
});

test('the zone pandas records in Parquet metadata is inferred when every zoned column shares it', async () => {
  const dir = path.join(work, 'pandas');
  const tiny = await copyTiny(dir, ['bars']);
  const pandas = JSON.stringify({
    index_columns: [],
    columns: [{ name: 'ts', field_name: 'ts', pandas_type: 'datetimetz', numpy_type: 'datetime64[ns]', metadata: { timezone: NY } }],
  });
  await duck(`COPY (SELECT * REPLACE (timezone('UTC', ts) AS ts) FROM read_parquet(${sqlString(path.join(tiny, 'bars', '*', '*.parquet'))}, hive_partitioning = true))
    TO ${sqlString(path.join(dir, 'bars.parquet'))} (FORMAT parquet, KV_METADATA { pandas: ${sqlString(pandas)} })`);
  const session = await LocalSession.open(dir, 1, { storeDir: path.join(work, '.stores-pandas') });
  try {
    assert.deepEqual(session.store.schema.timezone, { zone: NY, source: `inferred: every zoned timestamp column is in ${NY}` });
    assert.deepEqual((await hourBreakdown(session)).map((r) => r['key']), HOURS);
  } finally {
    session.close();
  }
});
