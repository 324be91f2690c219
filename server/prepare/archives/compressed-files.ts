// Files compressed whole, as Python writes them when the name asks (pandas' to_csv('trades.csv.bz2'),
// to_pickle('perf.pkl.xz'), a backtest folder shared as a .tar.xz): inflated into the
// preparation's unpack folder (members.ts), then read as the file they hold.
//
// gzip by Node's zlib; xz by xz-decompress (XZ Embedded, compiled to WebAssembly: no native build,
// streamed); bzip2 by seek-bzip (pure JS) in a worker thread, since it decodes synchronously; zstd
// by fzstd (pure JS, streamed), its frames' checksums checked here (zstd.ts). DuckDB reads
// `.csv.zst` and `.json.zst` itself, as it does `.csv.gz` (inputs/), so those are never inflated here.
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';
import xzDecompress from 'xz-decompress';
import { errorMessage } from '../../../shared/errors.js';
import { PrepareError } from '../errors.js';
import { isSkippableFrame, zstdInflater } from './zstd.js';

export type Compression = 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** Name suffixes and what they say, tar's short forms (`.tgz`: `.tar.gz`) included. */
const SUFFIXES: readonly (readonly [string, Compression, string])[] = [
  ['.gz', 'gzip', ''],
  ['.tgz', 'gzip', '.tar'],
  ['.bz2', 'bzip2', ''],
  ['.tbz2', 'bzip2', '.tar'],
  ['.tbz', 'bzip2', '.tar'],
  ['.xz', 'xz', ''],
  ['.txz', 'xz', '.tar'],
  ['.zst', 'zstd', ''],
  ['.tzst', 'zstd', '.tar'],
];

/** Each compression's first bytes, which a file named for it must start with. */
const MAGIC: Record<Compression, { bytes: number[]; says: string; or?: (head: Buffer) => boolean }> = {
  gzip: { bytes: [0x1f, 0x8b], says: '1f 8b' },
  bzip2: { bytes: [0x42, 0x5a, 0x68], says: '"BZh"' },
  xz: { bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], says: 'fd "7zXZ" 00' },
  // A zstd frame's magic, or a skippable frame's (pzstd starts its files with one).
  zstd: { bytes: [0x28, 0xb5, 0x2f, 0xfd], says: '28 b5 2f fd', or: isSkippableFrame },
};

/** The compression a file's name says, or null. */
export function compressionOf(file: string): Compression | null {
  const lower = file.toLowerCase();
  return SUFFIXES.find(([suffix]) => lower.endsWith(suffix))?.[1] ?? null;
}

/** The name of what a compressed file holds: `trades.csv.bz2` holds `trades.csv`, `backtest.tgz` `backtest.tar`. */
export function inflatedName(file: string): string {
  const lower = file.toLowerCase();
  const found = SUFFIXES.find(([suffix]) => lower.endsWith(suffix));
  return found ? file.slice(0, -found[0].length) + found[2] : file;
}

/**
 * Inflates `source` (compressed as `compression`) into `target`, whole or not at all: on any error
 * `target` is removed, and the PrepareError names the file and what was wrong with it.
 */
export async function inflateFile(source: string, target: string, compression: Compression): Promise<void> {
  await checkMagic(source, compression);
  try {
    if (compression === 'bzip2') await inflateBzip2(source, target);
    else if (compression === 'xz') await pipeline(inflatedXz(source), createWriteStream(target));
    else await pipeline(createReadStream(source), await streamInflater(compression), createWriteStream(target));
  } catch (err) {
    await rm(target, { force: true });
    throw new PrepareError(`input ${source} cannot be inflated as ${compression}: ${compression === 'xz' ? xzReason(err) : errorMessage(err)}`, { cause: err });
  }
}

/**
 * What `source` (gzip or zstd) inflates to, in memory, or null when that is more than `maxBytes`:
 * for a document read whole (a result's keys, formats/candidates.ts). Its first bytes are checked
 * and errors name the file, as inflateFile's are and do.
 */
export async function inflatedBytes(source: string, compression: 'gzip' | 'zstd', maxBytes: number): Promise<Buffer | null> {
  await checkMagic(source, compression);
  const parts: Buffer[] = [];
  let size = 0;
  let over = false;
  const collect = new Writable({
    write(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      over = size > maxBytes;
      if (!over) parts.push(chunk);
      done(over ? new Error(`inflates to more than ${maxBytes} bytes`) : null);
    },
  });
  try {
    await pipeline(createReadStream(source), await streamInflater(compression), collect);
  } catch (err) {
    if (over) return null;
    throw new PrepareError(`input ${source} cannot be inflated as ${compression}: ${errorMessage(err)}`, { cause: err });
  }
  return Buffer.concat(parts);
}

/** The decoder of a compression inflated as a stream transform: gzip by Node's zlib, zstd checked (zstd.ts). */
async function streamInflater(compression: 'gzip' | 'zstd'): Promise<Transform> {
  return compression === 'gzip' ? createGunzip() : zstdInflater();
}

/** XZ Embedded's return codes (xz.h enum xz_ret), which xz-decompress reports as bare numbers. */
const XZ_ERRORS: Record<string, string> = {
  '2': 'its integrity check is of a kind not supported',
  '3': 'out of memory',
  '4': 'it needs more memory than its decoder may use',
  '5': 'it is not in the .xz format',
  '6': 'it uses options not supported (a filter other than LZMA2)',
  '7': 'its compressed data is damaged',
  '8': 'the file ends inside its compressed data: it was cut off',
};

function xzReason(err: unknown): string {
  const code = /error code (\d+)/.exec(errorMessage(err))?.[1];
  return (code !== undefined && XZ_ERRORS[code]) || errorMessage(err);
}

/** The inflated bytes of an xz file; a read error of the file reaches the stream (toWeb carries it). */
function inflatedXz(source: string): Readable {
  const compressed = Readable.toWeb(createReadStream(source)) as ReadableStream<Uint8Array>;
  return Readable.fromWeb(new xzDecompress.XzReadableStream(compressed) as import('node:stream/web').ReadableStream<Uint8Array>);
}

async function inflateBzip2(source: string, target: string): Promise<void> {
  // No flags of this process's (a worker refuses some, e.g. --input-type): it needs none.
  const worker = new Worker(new URL('./bunzip-worker.js', import.meta.url), { workerData: { source, target }, execArgv: [] });
  const [code] = (await Promise.race([once(worker, 'exit'), once(worker, 'error').then(([err]) => Promise.reject(err))])) as [number];
  if (code !== 0) throw new Error(`the bzip2 decoder stopped with code ${code}`);
}

async function checkMagic(source: string, compression: Compression): Promise<void> {
  const { bytes, says, or } = MAGIC[compression];
  const head = Buffer.alloc(bytes.length);
  const fh = await open(source, 'r');
  try {
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead < bytes.length || (bytes.some((b, i) => head[i] !== b) && !or?.(head))) {
      throw new PrepareError(`input ${source} is not ${compression} data: its name ends as ${compression}'s do, but its first bytes are not ${says}`);
    }
  } finally {
    await fh.close();
  }
}
