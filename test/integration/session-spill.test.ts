// Sessions of one store spill to folders of their own (store.ts, process-folders.ts). DuckDB's
// default, `<store>.tmp`, is shared by every process of the store while its spill files are named
// per instance, so sessions spilling at once overwrote and removed each other's blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { openStore, type OpenStore } from '../../server/session/store.js';
import { testStoreDir, tinyDataset } from '../support/datasets.js';

/** A window over 3M rows sorts them all: past a 32 MiB limit it spills. Order-sensitive sum. */
const SPILLING = `SELECT sum(rn * (h % 1000))::HUGEINT::VARCHAR AS checksum
  FROM (SELECT h, row_number() OVER (ORDER BY h) AS rn FROM (SELECT hash(range) AS h FROM range(3000000)))`;

async function one(instance: DuckDBInstance, sql: string): Promise<unknown> {
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRows()[0]![0];
  } finally {
    connection.closeSync();
  }
}

test('two sessions of a store spill side by side into folders of their own, removed when they close', async () => {
  const { storePath } = await prepareDataset({ input: await tinyDataset(), storeDir: testStoreDir() });
  const expected = await (async () => {
    const roomy = await DuckDBInstance.create(':memory:', { memory_limit: '2GB' });
    try {
      return await one(roomy, SPILLING);
    } finally {
      roomy.closeSync();
    }
  })();
  const stores: OpenStore[] = [];
  try {
    for (let i = 0; i < 2; i++) stores.push(await openStore({ storePath, memoryLimit: '32MiB', threads: 2 }));
    const folders = await Promise.all(stores.map((s) => one(s.instance, `SELECT current_setting('temp_directory')`)));
    for (const folder of folders) {
      assert.equal(path.dirname(String(folder)), tmpdir());
      assert.match(path.basename(String(folder)), new RegExp(`^tickscope-spill-${process.pid}-`));
    }
    assert.notEqual(folders[0], folders[1]);
    assert.ok(!existsSync(`${storePath}.tmp`) || (await readdir(`${storePath}.tmp`)).length === 0, 'nothing in the store\'s shared folder');

    // Spilling, both at once, three times over: every answer is the roomy one.
    let spilled = false;
    const watch = setInterval(() => {
      if (folders.some((folder) => holdsFiles(String(folder)))) spilled = true;
    }, 5);
    try {
      for (let round = 0; round < 3; round++) {
        assert.deepEqual(await Promise.all(stores.map((s) => one(s.instance, SPILLING))), [expected, expected]);
      }
    } finally {
      clearInterval(watch);
    }
    assert.ok(spilled, 'the queries spilled (a spill file was seen in a session\'s folder)');

    stores.pop()!.close();
    assert.equal(existsSync(String(folders[1])), false, 'a closed session\'s folder is gone');
    assert.equal(existsSync(String(folders[0])), true, 'the other session\'s folder stays');
  } finally {
    for (const store of stores) store.close();
  }
});

/** Whether a folder has anything in it now (false once it is gone). */
function holdsFiles(folder: string): boolean {
  try {
    return readdirSync(folder).length > 0;
  } catch {
    return false;
  }
}
