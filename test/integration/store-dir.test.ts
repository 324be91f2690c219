// The folder of prepared stores: listing what is there, and pruning only what this build cannot
// read (other format versions, files that are not stores), never a current store.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { listStores, pruneStores, readCurrentStoreMeta, unreadableByThisBuild } from '../../server/prepare/store-dir.js';
import { ANSWERS_FOLDER, META_TABLE, MetaKey, STORE_FORMAT_VERSION } from '../../server/store/format.js';
import { testStoreDir, tinyDataset } from '../support/datasets.js';

/** A store file as an older build left it: only its meta table matters here. */
async function oldStore(file: string, version: number): Promise<void> {
  const instance = await DuckDBInstance.create(file);
  const connection = await instance.connect();
  await connection.run(`CREATE TABLE ${META_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)`);
  await connection.run(`INSERT INTO ${META_TABLE} VALUES ('${MetaKey.formatVersion}', '${version}'), ('${MetaKey.inputs}', '["/data/old-backtest"]')`);
  connection.closeSync();
  instance.closeSync();
}

test('stores of other format versions and files that are not stores are listed as such and pruned; the current one stays', async () => {
  const prepared = await prepareDataset({ input: await tinyDataset(), storeDir: testStoreDir() });
  const dir = await mkdtemp(path.join(tmpdir(), 'tickscope-stores-'));
  try {
    const current = path.join(dir, `${prepared.fingerprint}.duckdb`);
    await copyFile(prepared.storePath, current);
    await oldStore(path.join(dir, '00000000000000aa.duckdb'), STORE_FORMAT_VERSION - 1);
    await writeFile(path.join(dir, '00000000000000bb.duckdb'), 'not a database');
    await writeFile(path.join(dir, 'notes.txt'), 'not a store name: never touched');
    // Kept answers (session/answer-cache.ts) go with their store; the current store's stay.
    for (const folder of ['00000000000000aa-0123456789abcdef', `${prepared.fingerprint}-0123456789abcdef`]) {
      await mkdir(path.join(dir, ANSWERS_FOLDER, folder), { recursive: true });
      await writeFile(path.join(dir, ANSWERS_FOLDER, folder, 'x.answer'), 'an answer');
    }

    const entries = await listStores(dir);
    assert.deepEqual(
      entries.map((e) => [path.basename(e.path), e.formatVersion]),
      [
        ['00000000000000aa.duckdb', STORE_FORMAT_VERSION - 1],
        ['00000000000000bb.duckdb', null],
        [path.basename(current), STORE_FORMAT_VERSION],
      ].sort(),
    );
    const old = entries.find((e) => e.fingerprint === '00000000000000aa')!;
    assert.deepEqual(old.inputs, ['/data/old-backtest']);
    assert.match(entries.find((e) => e.fingerprint === '00000000000000bb')!.problem!, /00000000000000bb\.duckdb/);
    assert.ok(entries.every((e) => e.bytes > 0));
    assert.deepEqual(unreadableByThisBuild(entries).map((e) => e.fingerprint).sort(), ['00000000000000aa', '00000000000000bb']);

    const removed = await pruneStores(dir);
    assert.deepEqual(removed.map((e) => e.fingerprint).sort(), ['00000000000000aa', '00000000000000bb']);
    assert.deepEqual((await readdir(dir)).sort(), [path.basename(current), ANSWERS_FOLDER, 'notes.txt'].sort());
    assert.deepEqual(await readdir(path.join(dir, ANSWERS_FOLDER)), [`${prepared.fingerprint}-0123456789abcdef`]);
    assert.equal((await readCurrentStoreMeta(current))?.get(MetaKey.formatVersion), String(STORE_FORMAT_VERSION));
    assert.deepEqual(await pruneStores(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing store folder lists as empty', async () => {
  assert.deepEqual(await listStores(path.join(tmpdir(), 'tickscope-no-such-folder')), []);
});
