// Arrow IPC files as pandas and polars write them (fixtures/formats/feather): to_feather's default
// LZ4, ZSTD and uncompressed, in record batches of 250 rows, with a categorical column, zoned
// times and missing values; polars' write_ipc (uncompressed, LZ4 with block checksums, ZSTD) and
// write_ipc_stream, every text column a Utf8View, some longer than a view's 12 inline bytes.
// Each gives the trades the same frame's to_csv gives, value for value. Before the codecs
// (server/prepare/arrow-ipc/codecs.ts) and views, every one but pandas' uncompressed file was
// refused: "Record batch is compressed but codec not found", "has type Arrow Utf8View".
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../fixtures/generate.js';
import { LocalSession } from '../support/local-session.js';

const FEATHER = path.join(repoRoot(), 'fixtures', 'formats', 'feather');
const dirs: string[] = [];
const sessions: LocalSession[] = [];
after(async () => {
  for (const s of sessions) s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** The trades of a dataset made of one fixture file, named trades.<ext>, as sorted text rows. */
async function tradesOf(file: string): Promise<string[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-feather-'));
  dirs.push(dir);
  await copyFile(path.join(FEATHER, file), path.join(dir, `trades${path.extname(file)}`));
  const session = await LocalSession.open(dir);
  sessions.push(session);
  const con = await session.store.instance.connect();
  try {
    const rows = await con.runAndReadAll(
      `SELECT symbol, side, epoch_ms(entry_ts), epoch_ms(exit_ts), qty, entry_price, exit_price, fees, pnl, tag FROM trades ORDER BY entry_ts, symbol`,
    );
    return rows.getRows().map((r) => r.map(String).join(' '));
  } finally {
    con.closeSync();
  }
}

test("pandas' to_feather (LZ4 by default, ZSTD, uncompressed) and polars' write_ipc give the trades the CSV gives", async () => {
  const want = await tradesOf('trades.csv');
  assert.equal(want.length, 600);
  assert.ok(want.some((r) => r.endsWith(' null')) && want.some((r) => r.endsWith(' breakout above the range')), 'tags, some missing, some past 12 bytes');
  for (const file of [
    'trades-lz4.feather',
    'trades-zstd.feather',
    'trades-uncompressed.feather',
    'trades-polars-uncompressed.arrow',
    'trades-polars-lz4.arrow',
    'trades-polars-zstd.arrow',
    'trades-polars.arrows',
  ]) {
    assert.deepEqual(await tradesOf(file), want, file);
  }
});
