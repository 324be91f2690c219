// A session process killed while it wrote a download or spilled a query leaves its folder in the
// OS temp folder; the next session process to start removes the folders of processes that are gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeProcessFolder, removeOwnProcessFolders, removeStaleProcessFolders } from '../../server/session/process-folders.js';

test('folders of gone processes are removed; those of live ones (this one) stay; nothing else is touched', async () => {
  // A pid that was just used and is gone: a child that has exited.
  const gone = spawnSync(process.execPath, ['-e', '']).pid!;
  const staleDownload = path.join(tmpdir(), `tickscope-download-${gone}-unit`);
  const staleSpill = path.join(tmpdir(), `tickscope-spill-${gone}-unit`);
  const live = await makeProcessFolder('spill');
  const other = path.join(tmpdir(), `tickscope-downloader-${gone}-unit`);
  const dirs = [staleDownload, staleSpill, live, other];
  try {
    assert.match(path.basename(live), new RegExp(`^tickscope-spill-${process.pid}-`));
    for (const dir of dirs) {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'answer.csv'), 'a,b\n1,2\n');
    }
    await removeStaleProcessFolders();
    assert.equal(existsSync(staleDownload), false, "the gone process's download folder is removed");
    assert.equal(existsSync(staleSpill), false, "the gone process's spill folder is removed");
    assert.equal(existsSync(live), true, "a live process's folder stays");
    assert.equal(existsSync(other), true, 'only the session folders are touched');
  } finally {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
});

test("a process going away removes its own folders, and only those", async () => {
  const own = [await makeProcessFolder('spill'), await makeProcessFolder('download')];
  // Another live process's folder: the parent's pid is alive as long as this test runs.
  const others = path.join(tmpdir(), `tickscope-spill-${process.ppid}-unit`);
  try {
    await mkdir(others, { recursive: true });
    for (const dir of own) await writeFile(path.join(dir, 'block.tmp'), 'x');
    removeOwnProcessFolders();
    for (const dir of own) assert.equal(existsSync(dir), false, dir);
    assert.equal(existsSync(others), true, "another process's folder stays");
  } finally {
    for (const dir of [...own, others]) await rm(dir, { recursive: true, force: true });
  }
});

test('a folder whose creation was under way when the process removed its folders is removed too, and its maker told', async () => {
  // A warm process ended while it opened its store: the spill folder's mkdtemp is in flight as the
  // exit sweep runs (the test above has already swept, so any folder made now is "after").
  const making = makeProcessFolder('spill');
  removeOwnProcessFolders();
  await assert.rejects(making, /was made while the session process was exiting/);
  const left = (await readdir(tmpdir())).filter((name) => name.startsWith(`tickscope-spill-${process.pid}-`));
  assert.deepEqual(left, [], 'no folder of this process is left');
});
