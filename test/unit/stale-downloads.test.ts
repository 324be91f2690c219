// A session process killed while it wrote or sent a download leaves its folder in the OS temp
// folder; the next session process to start removes the folders of processes that are gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { removeStaleDownloads } from '../../server/session/download.js';

test('folders of gone processes are removed; those of live ones (this one) stay', async () => {
  // A pid that was just used and is gone: a child that has exited.
  const gone = spawnSync(process.execPath, ['-e', '']).pid!;
  const stale = path.join(tmpdir(), `tickscope-download-${gone}-unit`);
  const live = path.join(tmpdir(), `tickscope-download-${process.pid}-unit`);
  const other = path.join(tmpdir(), `tickscope-downloader-${gone}-unit`);
  try {
    for (const dir of [stale, live, other]) {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'answer.csv'), 'a,b\n1,2\n');
    }
    await removeStaleDownloads();
    assert.equal(existsSync(stale), false, 'the gone process\'s folder is removed');
    assert.equal(existsSync(live), true, 'a live process\'s folder stays');
    assert.equal(existsSync(other), true, 'only download folders are touched');
  } finally {
    for (const dir of [stale, live, other]) await rm(dir, { recursive: true, force: true });
  }
});
