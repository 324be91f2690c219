// Feather files as pandas writes them (fixtures/formats/feather: to_feather's default LZ4, ZSTD,
// and uncompressed; record batches of 400 rows; a categorical column, zoned times, missing
// values): each gives the trades the same frame's to_csv gives, value for value. Before the
// codecs (server/prepare/arrow-ipc/codecs.ts), the default one was refused: "Record batch is compressed but codec not
// found".
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

test("pandas' to_feather (LZ4 by default, ZSTD, uncompressed) gives the trades its to_csv gives", async () => {
  const want = await tradesOf('trades.csv');
  assert.equal(want.length, 1000);
  assert.ok(want.some((r) => r.endsWith(' null')) && want.some((r) => r.endsWith(' breakout')), 'tags, some missing');
  for (const compression of ['lz4', 'zstd', 'uncompressed']) {
    assert.deepEqual(await tradesOf(`trades-${compression}.feather`), want, `trades-${compression}.feather`);
  }
});
