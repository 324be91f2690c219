// Answers kept on disk for every session of a store. An answer is a pure function of the store,
// the code that computes it and the request, and most tabs of a dataset ask the same first
// questions (the whole history's summary, equity, leaderboard; on a sweep, the ranking behind the
// default pin, about a second of CPU). The first session to compute one writes it here; the
// tenth tab's session reads it back in a millisecond instead of redoing the work.
//
// Layout: `<answers dir>/<store name>-<identity>/<sha256 of the request>.answer`. The identity
// hashes what an answer depends on besides the request: the store file's (or the segment
// manifest's) path, size and modification time, the session's own code (every module under
// dist/server and dist/shared that a session loads) and DuckDB's version. A store republished,
// a run added to a segmented dataset, or a new build of Tickscope gets a new folder, so nothing
// is ever invalidated in place: stale folders age out with the budget.
//
// Writes go to a temporary name and are renamed into place, so a reader sees a whole answer or
// none, whichever session wrote it and however it died. The folder is kept under a byte budget,
// least recently used first (a hit refreshes the file's time). A folder the session cannot
// write (a read-only store volume) turns the cache off for that session, with one warning.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rmdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { version as duckdbVersion } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import type { QueryRequest } from '../../shared/messages.js';
import type { QueryOutcome } from './query-outcome.js';

/** An answer as the runner streamed it: its Arrow IPC batches and its done message's fields. */
export interface KeptAnswer {
  outcome: QueryOutcome;
  batches: Uint8Array[];
}

export interface AnswerCacheOptions {
  /** The folder of every store's answers (`answers` beside the stores by default). */
  dir: string;
  /** The store file or segment manifest the session opened. */
  storePath: string;
  /** Bytes all answers in `dir` may take together; the least recently used go first. */
  budgetBytes?: number;
  /** Session time (ms) under which an answer is not kept; default MIN_KEPT_COST_MS. */
  minCostMs?: number;
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

/** Whether an answer is worth a file: what took less session time than this is cheaper to redo. */
export const MIN_KEPT_COST_MS = 10;
/** A larger answer (a raw export, a whole trade list) is not kept: it would crowd out the rest. */
export const MAX_KEPT_ANSWER_BYTES = 8 * 1024 * 1024;
const DEFAULT_BUDGET_BYTES = 256 * 1024 * 1024;
/** What is left after an eviction, so that every write does not evict again. */
const EVICT_TO = 0.8;
const SUFFIX = '.answer';
const FILE_MAGIC = 'tickscope-answer 1\n';

/** The key of a request's answer: its query and its parameters with object keys sorted (the id and a download are not part of it). */
export function answerKey(request: Pick<QueryRequest, 'query' | 'params'>): string {
  return `${request.query}\u0000${canonicalJson(request.params)}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

let codeIdentity: Promise<string> | null = null;

/**
 * A hash of the code a session runs: every .js file under dist/server and dist/shared (this
 * module's own build), read once per process. A changed planner must not be answered by the
 * previous build's files.
 */
function sessionCodeIdentity(): Promise<string> {
  codeIdentity ??= (async () => {
    const dist = fileURLToPath(new URL('../../', import.meta.url));
    const hash = createHash('sha256');
    for (const folder of ['server', 'shared']) {
      const files = (await readdir(path.join(dist, folder), { recursive: true })).filter((name) => name.endsWith('.js')).sort();
      for (const file of files) {
        hash.update(`${folder}/${file}\u0000`);
        hash.update(await readFile(path.join(dist, folder, file)));
      }
    }
    return hash.digest('hex');
  })();
  return codeIdentity;
}

/** The folder of one store's answers under `dir` (see the top of this file). */
export async function answerFolder(dir: string, storePath: string): Promise<string> {
  const info = await stat(storePath);
  const hash = createHash('sha256');
  hash.update(`${path.resolve(storePath)}\u0000${info.size}\u0000${info.mtimeMs}\u0000`);
  // A manifest is rewritten (renamed over) when a segment is added: its time changes, and its
  // text names the segments.
  if (storePath.endsWith('.json')) hash.update(await readFile(storePath));
  hash.update(`${await sessionCodeIdentity()}\u0000${duckdbVersion()}`);
  const store = path.basename(storePath).replace(/\.(duckdb|segments\.json)$/, '');
  return path.join(dir, `${store}-${hash.digest('hex').slice(0, 16)}`);
}

export class AnswerCache {
  private readonly budgetBytes: number;
  private evicting = false;
  private hits = 0;
  private writes = 0;

  private constructor(
    /** This store's folder. */
    readonly folder: string,
    private readonly options: AnswerCacheOptions,
  ) {
    this.budgetBytes = options.budgetBytes ?? DEFAULT_BUDGET_BYTES;
  }

  /**
   * The cache of a store, or null (logged) when its folder cannot be made: the session then
   * computes every answer, as without a cache.
   */
  static async open(options: AnswerCacheOptions): Promise<AnswerCache | null> {
    try {
      const folder = await answerFolder(options.dir, options.storePath);
      await mkdir(folder, { recursive: true });
      return new AnswerCache(folder, options);
    } catch (error) {
      options.log('warn', 'the shared answer cache is off for this session: its folder cannot be made', { dir: options.dir, error: errorMessage(error) });
      return null;
    }
  }

  get stats(): { hits: number; writes: number } {
    return { hits: this.hits, writes: this.writes };
  }

  /** The kept answer of `key`, or null. A damaged file is a miss (logged, and removed). */
  async get(key: string): Promise<KeptAnswer | null> {
    const file = this.fileOf(key);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      this.options.log('warn', 'a kept answer cannot be read; computing it', { file, error: errorMessage(error) });
      return null;
    }
    const answer = decodeAnswer(bytes, key);
    if (typeof answer === 'string') {
      this.options.log('warn', 'a kept answer is damaged; computing it and removing the file', { file, problem: answer });
      await this.remove(file);
      return null;
    }
    this.hits++;
    // Least recently used goes first: a hit makes the file recent.
    const now = new Date();
    utimes(file, now, now).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.options.log('warn', 'a kept answer could not be marked as used', { file, error: errorMessage(error) });
    });
    return answer;
  }

  /** Whether an answer of this cost and size is written (see MIN_KEPT_COST_MS, MAX_KEPT_ANSWER_BYTES). */
  worthKeeping(outcome: QueryOutcome): boolean {
    const { planMs, executeMs, encodeMs } = outcome.timings;
    return planMs + executeMs + encodeMs >= (this.options.minCostMs ?? MIN_KEPT_COST_MS) && outcome.bytes <= MAX_KEPT_ANSWER_BYTES;
  }

  /** Writes an answer (whole or not at all), then keeps the folder within its budget. */
  async put(key: string, answer: KeptAnswer): Promise<void> {
    const file = this.fileOf(key);
    const temporary = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(temporary, encodeAnswer(key, answer));
      await rename(temporary, file);
      this.writes++;
    } catch (error) {
      await this.remove(temporary);
      this.options.log('warn', 'an answer could not be kept for other sessions', { file, error: errorMessage(error) });
      return;
    }
    await this.evict();
  }

  private fileOf(key: string): string {
    return path.join(this.folder, `${createHash('sha256').update(key).digest('hex')}${SUFFIX}`);
  }

  /**
   * Removes the least recently used answers of every store's folder in `dir` until they fit the
   * budget, and the folders left empty. Several sessions may evict at once: a file another one
   * removed first is simply gone.
   */
  private async evict(): Promise<void> {
    if (this.evicting) return;
    this.evicting = true;
    try {
      const files: { file: string; bytes: number; usedMs: number }[] = [];
      let total = 0;
      for (const folder of await readdir(this.options.dir)) {
        const names = await readdir(path.join(this.options.dir, folder)).catch(ignoreGone);
        for (const name of names ?? []) {
          const file = path.join(this.options.dir, folder, name);
          const info = await stat(file).catch(ignoreGone);
          if (!info?.isFile()) continue;
          files.push({ file, bytes: info.size, usedMs: info.mtimeMs });
          total += info.size;
        }
      }
      if (total <= this.budgetBytes) return;
      files.sort((a, b) => a.usedMs - b.usedMs);
      for (const { file, bytes } of files) {
        if (total <= this.budgetBytes * EVICT_TO) break;
        await this.remove(file);
        total -= bytes;
      }
      for (const folder of await readdir(this.options.dir)) {
        if (path.join(this.options.dir, folder) === this.folder) continue;
        // Only an empty folder goes (ENOTEMPTY otherwise: another session's answers are in it).
        await rmdir(path.join(this.options.dir, folder)).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST' && error.code !== 'ENOENT' && error.code !== 'ENOTDIR') throw error;
        });
      }
    } catch (error) {
      this.options.log('warn', 'the shared answer cache could not be kept within its budget', { dir: this.options.dir, error: errorMessage(error) });
    } finally {
      this.evicting = false;
    }
  }

  private async remove(file: string): Promise<void> {
    await unlink(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') this.options.log('warn', 'a kept answer could not be removed', { file, error: errorMessage(error) });
    });
  }
}

function ignoreGone(error: NodeJS.ErrnoException): undefined {
  // Removed by another session's eviction between the listing and this read (or not a folder).
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
  throw error;
}

/**
 * The file: FILE_MAGIC, a little-endian uint32 header length, a JSON header (the key, the
 * outcome, each batch's length), then the batches' IPC bytes one after another.
 */
export function encodeAnswer(key: string, { outcome, batches }: KeptAnswer): Buffer {
  const header = Buffer.from(JSON.stringify({ key, outcome, batchBytes: batches.map((b) => b.byteLength) }));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.byteLength);
  return Buffer.concat([Buffer.from(FILE_MAGIC), length, header, ...batches]);
}

/** The answer in a file's bytes, or what is wrong with them. */
export function decodeAnswer(bytes: Buffer, key: string): KeptAnswer | string {
  const magic = Buffer.byteLength(FILE_MAGIC);
  if (bytes.byteLength < magic + 4 || bytes.toString('utf8', 0, magic) !== FILE_MAGIC) return 'not an answer file of this version';
  const headerBytes = bytes.readUInt32LE(magic);
  const start = magic + 4 + headerBytes;
  if (start > bytes.byteLength) return `its header says ${headerBytes} bytes; the file ends before`;
  let header: { key?: unknown; outcome?: QueryOutcome; batchBytes?: unknown };
  try {
    header = JSON.parse(bytes.toString('utf8', magic + 4, start)) as typeof header;
  } catch (error) {
    return `its header is not JSON: ${errorMessage(error)}`;
  }
  // The file name is a hash of the key: the key itself rules out a collision or a misplaced file.
  if (header.key !== key) return 'it holds the answer of another request';
  const sizes = header.batchBytes;
  if (!header.outcome || !Array.isArray(sizes) || !sizes.every((n) => Number.isInteger(n) && (n as number) >= 0)) return 'its header has no outcome or batch sizes';
  const batches: Uint8Array[] = [];
  let at = start;
  for (const size of sizes as number[]) {
    if (at + size > bytes.byteLength) return `batch ${batches.length} runs past the end of the file`;
    batches.push(bytes.subarray(at, at + size));
    at += size;
  }
  if (at !== bytes.byteLength) return `${bytes.byteLength - at} bytes follow the last batch`;
  return { outcome: header.outcome, batches };
}
