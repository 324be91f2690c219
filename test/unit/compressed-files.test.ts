// archives/compressed-files.ts and zstd.ts: what a compressed file's name says it holds, and
// inflation that is whole or nothing: the committed fixtures pandas compressed (bzip2, xz, zstd)
// and Node's gzip inflate to the bytes they hold; a cut-off file, a damaged one and a file that
// is not what its name says are refused by name, leaving nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { repoRoot } from '../../fixtures/generate.js';
import { compressionOf, inflatedBytes, inflatedName, inflateFile } from '../../server/prepare/archives/compressed-files.js';
import { zstdStored } from '../support/zstd-frames.js';

const PANDAS = path.join(repoRoot(), 'fixtures', 'formats', 'pandas-files', 'pandas-2.2.3');

test('a compressed file holds the file its name says, tar short forms included', () => {
  const cases: [string, string | null, string][] = [
    ['trades.csv.bz2', 'bzip2', 'trades.csv'],
    ['perf.PKL.XZ', 'xz', 'perf.PKL'],
    ['positions.pkl.gz', 'gzip', 'positions.pkl'],
    ['backtest.tgz', 'gzip', 'backtest.tar'],
    ['backtest.tbz2', 'bzip2', 'backtest.tar'],
    ['backtest.tbz', 'bzip2', 'backtest.tar'],
    ['backtest.txz', 'xz', 'backtest.tar'],
    ['backtest.tar.xz', 'xz', 'backtest.tar'],
    ['trades.csv.zst', 'zstd', 'trades.csv'],
    ['backtest.tar.zst', 'zstd', 'backtest.tar'],
    ['backtest.tzst', 'zstd', 'backtest.tar'],
    ['trades.csv', null, 'trades.csv'],
  ];
  for (const [name, compression, holds] of cases) {
    assert.equal(compressionOf(name), compression, name);
    assert.equal(inflatedName(name), holds, name);
  }
});

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-compressed-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("pandas' bzip2 and xz files, and gzip, inflate to the bytes they hold", () =>
  withDir(async (dir) => {
    const returns = await readFile(path.join(PANDAS, 'returns.csv'));
    await inflateFile(path.join(PANDAS, 'compressed', 'returns.csv.bz2'), path.join(dir, 'r.csv'), 'bzip2');
    assert.deepEqual(await readFile(path.join(dir, 'r.csv')), returns);
    await inflateFile(path.join(PANDAS, 'compressed', 'transactions.csv.xz'), path.join(dir, 't.csv'), 'xz');
    assert.deepEqual(await readFile(path.join(dir, 't.csv')), await readFile(path.join(PANDAS, 'transactions.csv')));
    await writeFile(path.join(dir, 'r.csv.gz'), gzipSync(returns));
    await inflateFile(path.join(dir, 'r.csv.gz'), path.join(dir, 'g.csv'), 'gzip');
    assert.deepEqual(await readFile(path.join(dir, 'g.csv')), returns);
  }));

test('a cut-off file, or one whose bytes are not its compression, is refused by name and leaves nothing behind', () =>
  withDir(async (dir) => {
    const gone = async (file: string) => assert.equal(await stat(file).catch(() => null), null, `${file} removed`);
    for (const [name, compression] of [['returns.csv.bz2', 'bzip2'], ['transactions.csv.xz', 'xz']] as const) {
      const bytes = await readFile(path.join(PANDAS, 'compressed', name));
      const cut = path.join(dir, name);
      await writeFile(cut, bytes.subarray(0, bytes.length - 30));
      await assert.rejects(inflateFile(cut, path.join(dir, 'out'), compression), (err: Error) => {
        assert.match(err.message, new RegExp(`^input ${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be inflated as ${compression}: the file ends inside its compressed data: it was cut off$`));
        return true;
      });
      await gone(path.join(dir, 'out'));
    }
    const damaged = Buffer.from(await readFile(path.join(PANDAS, 'compressed', 'transactions.csv.xz')));
    damaged[100]! ^= 0xff;
    await writeFile(path.join(dir, 'damaged.xz'), damaged);
    await assert.rejects(inflateFile(path.join(dir, 'damaged.xz'), path.join(dir, 'out'), 'xz'), /damaged\.xz cannot be inflated as xz: its compressed data is damaged$/);
    await gone(path.join(dir, 'out'));
    const gz = path.join(dir, 'cut.csv.gz');
    await writeFile(gz, gzipSync(Buffer.alloc(100_000, 'a')).subarray(0, 60));
    await assert.rejects(inflateFile(gz, path.join(dir, 'out'), 'gzip'), /cut\.csv\.gz cannot be inflated as gzip: /);
    await gone(path.join(dir, 'out'));
    const plain = path.join(dir, 'plain.xz');
    await writeFile(plain, 'date,ret\n');
    await assert.rejects(inflateFile(plain, path.join(dir, 'out'), 'xz'), /plain\.xz is not xz data: its name ends as xz's do, but its first bytes are not fd "7zXZ" 00/);
    await gone(path.join(dir, 'out'));
  }));

test("zstd: pandas' frames (no checksum), the zstd command's (checksummed, with a skippable frame and a second frame) inflate to the bytes they hold; damage the checksum finds, a cut-off frame, bytes after the last frame and a window past the bound are refused", () =>
  withDir(async (dir) => {
    const out = path.join(dir, 'out');
    // pandas 2.2.3's to_pickle('positions.pkl.zst') holds what its to_pickle('positions.pickle') wrote.
    await inflateFile(path.join(PANDAS, 'compressed', 'positions.pkl.zst'), out, 'zstd');
    assert.deepEqual(await readFile(out), await readFile(path.join(PANDAS, 'positions.pickle')));
    const tarZst = await readFile(path.join(PANDAS, 'compressed', 'pyfolio.tar.zst'));
    await inflateFile(path.join(PANDAS, 'compressed', 'pyfolio.tar.zst'), out, 'zstd');
    const tar = await readFile(out);
    assert.equal(tar.length % 512, 0, 'a tar of whole records');
    // A skippable frame first (as pzstd writes), then the frame, then the pickle's frame after it.
    const skippable = Buffer.concat([Buffer.from([0x53, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]), Buffer.from('notes')]);
    const pickleZst = await readFile(path.join(PANDAS, 'compressed', 'positions.pkl.zst'));
    await writeFile(path.join(dir, 'two.zst'), Buffer.concat([skippable, tarZst, pickleZst]));
    await inflateFile(path.join(dir, 'two.zst'), out, 'zstd');
    assert.deepEqual(await readFile(out), Buffer.concat([tar, await readFile(path.join(PANDAS, 'positions.pickle'))]));
    const refused: [string, Buffer, RegExp][] = [
      ['cut.tar.zst', tarZst.subarray(0, tarZst.length - 100), /cut\.tar\.zst cannot be inflated as zstd: the file ends inside frame 1's block: it was cut off$/],
      ['nochecksum.tar.zst', tarZst.subarray(0, tarZst.length - 2), /nochecksum\.tar\.zst cannot be inflated as zstd: the file ends inside frame 1's checksum: it was cut off$/],
      ['flipped.tar.zst', Buffer.from(tarZst).fill(tarZst[400]! ^ 1, 400, 401), /flipped\.tar\.zst cannot be inflated as zstd: what a frame inflates to does not match its checksum \(frame 1 at byte 0\): the compressed data is damaged$/],
      ['trailing.tar.zst', Buffer.concat([tarZst, Buffer.from('trailing')]), new RegExp(`trailing\\.tar\\.zst cannot be inflated as zstd: byte ${tarZst.length} starts no zstd frame \\(74726169\\): the file is not zstd data there$`)],
      ['plain.zst', Buffer.from('date,ret\n'), /plain\.zst is not zstd data: its name ends as zstd's do, but its first bytes are not 28 b5 2f fd$/],
      // A frame whose window is 2 GiB (zstd --long=31 from a stream): one empty raw block.
      ['long.zst', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8, 0x01, 0x00, 0x00]), /long\.zst cannot be inflated as zstd: frame 1 asks for a window of 2048 MiB \(written with zstd --long=31\), more than the 1024 MiB this reader decodes with/],
    ];
    for (const [name, bytes, why] of refused) {
      await writeFile(path.join(dir, name), bytes);
      await assert.rejects(inflateFile(path.join(dir, name), out, 'zstd'), why, name);
      assert.equal(await stat(out).catch(() => null), null, `${name}: nothing left behind`);
    }
  }));

test('a document inflated in memory (gzip, zstd): its bytes, or null past the bound; damage named', () =>
  withDir(async (dir) => {
    const doc = Buffer.from(JSON.stringify({ strategy: { x: { trades: Array.from({ length: 5000 }, (_, i) => ({ i })) } } }));
    await writeFile(path.join(dir, 'r.json.gz'), gzipSync(doc));
    // Raw blocks of 128 KiB, so the document spans several blocks of one frame.
    await writeFile(path.join(dir, 'r.json.zst'), await zstdStored(Buffer.concat([doc, Buffer.alloc(300_000, 0x20)])));
    assert.deepEqual(await inflatedBytes(path.join(dir, 'r.json.gz'), 'gzip', doc.length), doc);
    assert.deepEqual((await inflatedBytes(path.join(dir, 'r.json.zst'), 'zstd', 1e6))?.subarray(0, doc.length), doc);
    assert.equal(await inflatedBytes(path.join(dir, 'r.json.gz'), 'gzip', doc.length - 1), null);
    assert.equal(await inflatedBytes(path.join(dir, 'r.json.zst'), 'zstd', 200_000), null);
    const damaged = await zstdStored(doc);
    damaged[20] = damaged[20]! ^ 1;
    await writeFile(path.join(dir, 'd.json.zst'), damaged);
    await assert.rejects(inflatedBytes(path.join(dir, 'd.json.zst'), 'zstd', 1e6), /d\.json\.zst cannot be inflated as zstd: what a frame inflates to does not match its checksum/);
    // Named as what it is not, as inflateFile names it, not with zlib's "incorrect header check".
    await writeFile(path.join(dir, 'plain.json.gz'), doc);
    await assert.rejects(inflatedBytes(path.join(dir, 'plain.json.gz'), 'gzip', 1e6), /plain\.json\.gz is not gzip data: its name ends as gzip's do, but its first bytes are not 1f 8b$/);
  }));
