// Trade fields derived from the bars at preparation (server/prepare/derive-trades.ts): the tiny
// fixture's trades written again without bars_held, mae, mfe, fees and ret, prepared, and every
// derived value compared with the one the fixture's generator computed for the same trade; the
// column sources in the store and in the hello say which columns were derived.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { sqlString } from '../../server/sql/text.js';
import { near } from '../support/checks.js';
import { LocalSession } from '../support/local-session.js';
import { copyTiny, duck, workDir } from '../support/tiny-variants.js';

const DERIVED = ['bars_held', 'mae', 'mfe', 'fees', 'ret'] as const;
let work: string;
let session: LocalSession;

/** The fixture's trades, keyed by run, symbol and entry. */
type TradeRow = Record<string, unknown>;
let original: Map<string, TradeRow>;

const keyOf = (r: TradeRow) => `${String(r['run_id'])}|${String(r['symbol'])}|${String(r['entry_ts'])}`;

before(async () => {
  work = await workDir('derived-trades');
  const dir = path.join(work, 'without');
  const tiny = await copyTiny(dir, ['trades']);
  const trades = sqlString(path.join(tiny, 'trades', 'trades.parquet'));
  await duck(`COPY (SELECT * EXCLUDE (${DERIVED.join(', ')}) FROM read_parquet(${trades}))
    TO ${sqlString(path.join(dir, 'trades.parquet'))} (FORMAT parquet)`);
  original = new Map((await duck(`SELECT run_id, symbol, entry_ts::VARCHAR AS entry_ts, ${DERIVED.join(', ')} FROM read_parquet(${trades})`)).map((r) => [keyOf(r), r]));
  session = await LocalSession.open(dir, 1, { storeDir: path.join(work, '.stores') });
});

after(() => session?.close());

test('bars held, MAE, MFE, fees and return are derived from the bars as the generator computed them', async () => {
  const answer = await session.ask({ query: 'export', params: { table: 'trades', limit: 100_000 } });
  assert.equal(answer.rows.length, original.size);
  let compared = 0;
  for (const row of answer.rows) {
    const entry = new Date(Number(row['entry_ts'])).toISOString().replace('T', ' ').replace('.000Z', '');
    const want = original.get(`${String(row['run_id'])}|${String(row['symbol'])}|${entry}`);
    assert.ok(want, `trade ${String(row['run_id'])} ${String(row['trade_id'])} has no original`);
    for (const f of DERIVED) near(Number(row[f]), Number(want[f]), `${String(row['run_id'])} trade ${String(row['trade_id'])} ${f}`, 1e-9);
    compared++;
  }
  assert.ok(compared > 50, `compared ${compared} trades`);
});

test('the column sources say which trade columns were derived, in the store and in the hello', () => {
  const sources = session.store.schema.columnSources;
  const trades = new Map(sources.filter((s) => s.table === 'trades').map((s) => [s.column, s]));
  for (const f of DERIVED) assert.equal(trades.get(f)?.source, 'derived', `trades.${f}`);
  assert.equal(trades.get('mae')?.note, 'bars');
  assert.deepEqual({ source: trades.get('pnl')?.source, input: trades.get('pnl')?.inputColumn }, { source: 'input', input: 'pnl' });
  assert.equal(trades.get('entry_price')?.source, 'input');
  const bars = new Map(sources.filter((s) => s.table === 'bars').map((s) => [s.column, s]));
  assert.equal(bars.get('price')?.source, 'input');
  assert.equal(bars.get('run_id')?.inputColumn, 'run_id');
});

test('trades that come with their fields keep them: nothing is derived', async () => {
  const dir = path.join(work, 'plain');
  await copyTiny(dir);
  const plain = await LocalSession.open(dir, 1, { storeDir: path.join(work, '.stores-plain') });
  try {
    const trades = plain.store.schema.columnSources.filter((s) => s.table === 'trades');
    assert.deepEqual(trades.filter((s) => s.source === 'derived').map((s) => s.column), []);
    for (const f of DERIVED) assert.equal(trades.find((s) => s.column === f)?.source, 'input', f);
  } finally {
    plain.close();
  }
});

test('fills between bars: the bars after entry up to exit, fees from the bars the fills fall in', async () => {
  const dir = path.join(work, 'between');
  await mkdir(dir, { recursive: true });
  const bars = ['X', 'Y']
    .flatMap((symbol) =>
      [
        ['10:00', 100, 0, 0],
        ['10:05', 101, 1, 10],
        ['10:10', 98, 0, 10],
        ['10:15', 103, 0, 10],
        ['10:20', 102, 2, 0],
      ].map(([time, price, fees, qty]) => `('${symbol}', TIMESTAMP '2024-03-01 ${String(time)}', ${String(price)}, ${String(qty)}, ${String(fees)}, 0.0)`),
    )
    .join(', ');
  await duck(
    `COPY (SELECT * FROM (VALUES ${bars}) b(symbol, ts, price, position_qty, fees, pnl)) TO ${sqlString(path.join(dir, 'bars.parquet'))} (FORMAT parquet)`,
    `COPY (SELECT * FROM (VALUES
        ('X', 'long', TIMESTAMP '2024-03-01 10:03', TIMESTAMP '2024-03-01 10:17', 10.0, 100.5, 102.5, 18.0),
        ('Y', 'short', TIMESTAMP '2024-03-01 10:03', TIMESTAMP '2024-03-01 10:17', 10.0, 100.5, 102.5, -22.0)
      ) t(symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price, pnl)) TO ${sqlString(path.join(dir, 'trades.parquet'))} (FORMAT parquet)`,
  );
  const s = await LocalSession.open(dir, 1, { storeDir: path.join(work, '.stores-between') });
  try {
    const rows = (await s.ask({ query: 'export', params: { table: 'trades' } })).rows;
    const bySymbol = new Map(rows.map((r) => [String(r['symbol']), r]));
    const x = bySymbol.get('X')!;
    const y = bySymbol.get('Y')!;
    // Bars ending 10:05, 10:10 and 10:15; the entry falls in the 10:05 bar (fee 1), the exit in the 10:20 bar (fee 2).
    for (const t of [x, y]) {
      assert.equal(Number(t['bars_held']), 3);
      near(Number(t['fees']), 3, 'fees');
    }
    near(Number(x['mae']), 98 / 100.5 - 1, 'long mae');
    near(Number(x['mfe']), 103 / 100.5 - 1, 'long mfe');
    near(Number(y['mae']), 1 - 103 / 100.5, 'short mae');
    near(Number(y['mfe']), 1 - 98 / 100.5, 'short mfe');
    near(Number(x['ret']), 18 / (10 * 100.5), 'ret');
  } finally {
    s.close();
  }
});
