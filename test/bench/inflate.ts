// `npm run bench:inflate [-- FILE.bz2|FILE.xz|FILE.gz|FILE.zst ...]`: what inflating a file compressed whole
// costs the preparation (server/prepare/archives/compressed-files.ts): each FILE inflated to a
// temporary file, timed, with the longest the event loop went unanswered meanwhile (bzip2 runs in
// a worker so that progress is still reported), beside the machine's floor for the same file:
// the system's own `bzip2 -dc`, `xz -dc`, `gzip -dc` or `zstd -dc` into /dev/null, when it has one.
//
// Without a FILE, a CSV of 3,000,000 trade-like rows (about 90 MB) is written and compressed with
// the system's bzip2, xz (-1: its default level takes minutes here), gzip and zstd, those it has.
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { compressionOf, inflateFile, type Compression } from '../../server/prepare/archives/compressed-files.js';

const TOOLS: Record<Compression, string> = { bzip2: 'bzip2', xz: 'xz', gzip: 'gzip', zstd: 'zstd' };

const hasTool = (tool: string) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;

/** Seconds the system's tool takes to inflate `file` into /dev/null; null without the tool. */
function floorSeconds(file: string, compression: Compression): number | null {
  const tool = TOOLS[compression];
  if (!hasTool(tool)) return null;
  const started = performance.now();
  const r = spawnSync('sh', ['-c', `${tool} -dc "$1" > /dev/null`, 'sh', file], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${tool} -dc ${file} failed`);
  return (performance.now() - started) / 1000;
}

async function sampleFiles(work: string): Promise<string[]> {
  const csv = path.join(work, 'trades.csv');
  const out = createWriteStream(csv);
  out.write('symbol,entry_ts,exit_ts,qty,entry_price,exit_price,pnl\n');
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 3_000_000; i++) {
    const entry = 1704205800 + i * 37;
    const price = (50 + next() * 150).toFixed(2);
    const line = `S${String(i % 3000).padStart(4, '0')},${entry},${entry + 600 + Math.floor(next() * 36000)},${1 + Math.floor(next() * 500)},${price},${(Number(price) + next() * 4 - 2).toFixed(2)},${(next() * 400 - 200).toFixed(4)}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const files: string[] = [];
  for (const [compression, args, ext] of [['bzip2', ['-k', '-9'], '.bz2'], ['xz', ['-k', '-1', '-T1'], '.xz'], ['gzip', ['-k', '-6'], '.gz'], ['zstd', ['-q', '-k', '-3'], '.zst']] as const) {
    if (!hasTool(TOOLS[compression])) {
      console.log(`no ${TOOLS[compression]} here: ${compression} is not measured`);
      continue;
    }
    spawnSync(TOOLS[compression], [...args, csv], { stdio: 'inherit' });
    files.push(`${csv}${ext}`);
  }
  return files;
}

const work = await mkdtemp(path.join(os.tmpdir(), 'tickscope-bench-inflate-'));
try {
  const given = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const files = given.length ? given.map((f) => path.resolve(f)) : await sampleFiles(work);
  console.log('file                         compressed MB  inflated MB   tickscope s    MB/s  longest stall ms   floor s  ratio');
  for (const file of files) {
    const compression = compressionOf(file);
    if (!compression) throw new Error(`${file}: its name says no compression (.bz2, .xz, .gz, .zst)`);
    const target = path.join(work, 'inflated');
    let stall = 0;
    let last = performance.now();
    const tick = setInterval(() => {
      const now = performance.now();
      stall = Math.max(stall, now - last - 10);
      last = now;
    }, 10);
    const started = performance.now();
    await inflateFile(file, target, compression);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(tick);
    const inflated = (await stat(target)).size / 2 ** 20;
    await rm(target);
    const floor = floorSeconds(file, compression);
    console.log(
      `${path.basename(file).padEnd(28)} ${((await stat(file)).size / 2 ** 20).toFixed(1).padStart(13)} ${inflated.toFixed(1).padStart(12)} ${seconds.toFixed(2).padStart(13)} ${(inflated / seconds).toFixed(1).padStart(7)} ${stall.toFixed(0).padStart(18)} ${floor === null ? '        -' : floor.toFixed(2).padStart(9)} ${floor === null ? '     -' : `${(seconds / floor).toFixed(2)}x`.padStart(6)}`,
    );
  }
  console.log('floor: the system tool inflating the same file into /dev/null (- when it has none); longest stall: the event loop, in the process that inflates');
} finally {
  await rm(work, { recursive: true, force: true });
}
