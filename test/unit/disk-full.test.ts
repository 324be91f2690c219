// A full disk anywhere in an error's causes is reported as a full disk, with the full folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { diskFullCause, diskFullError } from '../../server/prepare/disk-full.js';
import { PrepareError } from '../../server/prepare/errors.js';

const storeDir = path.join(os.tmpdir(), 'stores');
const folders = { inputs: '/data/backtest', storeDir, spillDir: path.join(storeDir, '.tmp') };

test('DuckDB commit, DuckDB spill and Node ENOSPC errors are found under the PrepareErrors that wrapped them', async () => {
  const commit = new Error(`TransactionContext Error: Failed to commit: Could not write file "${storeDir}/ab.duckdb.tmp-1-x.wal": No space left on device`);
  const misread = new PrepareError(`bars in /data/backtest/bars: cannot be read: ${commit.message}`, { cause: commit });
  assert.equal(diskFullCause(misread), commit);
  const wrapped = await diskFullError(misread, folders);
  assert.ok(wrapped instanceof PrepareError);
  assert.match(wrapped.message, new RegExp(`the disk is full: no space left on device in the store folder ${storeDir} \\(`));
  assert.match(wrapped.message, /while writing .*ab\.duckdb\.tmp-1-x\.wal/);
  assert.doesNotMatch(wrapped.message, /^bars in .* cannot be read/);

  const spill = new Error(`IO Error: Could not write file "${storeDir}/.tmp/ab.duckdb.tmp-1-x/duckdb_temp_storage-0.tmp": No space left on device`);
  assert.match((await diskFullError(spill, folders))!.message, /in the spill folder .*\.tmp \(--temp-dir\)/);

  const node = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', path: `${storeDir}/ab.lock` });
  assert.match((await diskFullError(node, folders))!.message, new RegExp(`in the store folder ${storeDir}.* while writing ${storeDir}/ab\\.lock`));
  const quota = Object.assign(new Error('EDQUOT: disk quota exceeded, write'), { code: 'EDQUOT' });
  assert.match((await diskFullError(quota, folders))!.message, /in the store folder .* or the spill folder/);
});

test('other errors, and input text that merely says so, are not a full disk', async () => {
  assert.equal(diskFullCause(new Error('Invalid Input Error: No magic bytes found at end of file')), null);
  assert.equal(await diskFullError(new Error('Conversion Error: Could not convert string'), folders), null);
  // A column named like the error, quoted by a PrepareError of the pipeline: not a full disk.
  assert.equal(diskFullCause(new PrepareError("required column 'ts' is missing; columns found: No space left on device")), null);
  assert.equal(diskFullCause('No space left on device'), null, 'a thrown string has no cause chain to trust');
});
