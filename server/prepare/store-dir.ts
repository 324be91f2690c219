// The folder of prepared stores: what is in it, and removing the stores this build cannot read.
//
// A store is keyed by a fingerprint that includes the format version, so a new build prepares a
// dataset again next to the store an older build left: gigabytes nobody will read. Nothing is
// removed behind the user's back (an older build sharing the folder may still use its stores):
// `tickscope stores` lists them and `--prune` removes them; `tickscope serve` says when there are.
import { existsSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { ANSWERS_FOLDER, META_TABLE, MetaKey, STORE_FORMAT_VERSION } from '../store/format.js';

const STORE_FILE = /^([0-9a-f]{16})\.duckdb$/;

export interface StoreEntry {
  path: string;
  fingerprint: string;
  /** null: not a readable store (no meta table, not a DuckDB file, a newer DuckDB's file...). */
  formatVersion: number | null;
  /** The input paths it was prepared from (meta `inputs`), when readable. */
  inputs: string[];
  /** The file and its write-ahead log, if any. */
  bytes: number;
  /** Why it cannot be read, when formatVersion is null. */
  problem?: string;
}

/**
 * The meta table of a store (key -> value), opened READ_ONLY, or an error saying why not. Many
 * processes may have the store open: READ_ONLY opens share it.
 */
export async function readStoreMeta(storePath: string): Promise<Map<string, string> | Error> {
  let instance: DuckDBInstance | null = null;
  try {
    instance = await DuckDBInstance.create(storePath, { access_mode: 'READ_ONLY' });
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(`SELECT key, value FROM ${META_TABLE}`);
      return new Map(reader.getRowsJson().map(([key, value]) => [String(key), String(value)]));
    } finally {
      connection.closeSync();
    }
  } catch (error) {
    return new Error(`${storePath}: ${errorMessage(error).split('\n')[0]}`, { cause: error });
  } finally {
    instance?.closeSync();
  }
}

function formatVersionOf(meta: ReadonlyMap<string, string>): number | null {
  const version = Number(meta.get(MetaKey.formatVersion));
  return Number.isFinite(version) ? version : null;
}

/**
 * The meta table of the store at `storePath` when it is one this build reads; null when there is
 * none there, it is of another format version, or it cannot be read (preparation builds it again).
 */
export async function readCurrentStoreMeta(storePath: string): Promise<Map<string, string> | null> {
  if (!existsSync(storePath)) return null;
  const meta = await readStoreMeta(storePath);
  return meta instanceof Error || formatVersionOf(meta) !== STORE_FORMAT_VERSION ? null : meta;
}

/** The published stores in `storeDir` (not the temporaries of builds in progress), by fingerprint. */
export async function listStores(storeDir: string): Promise<StoreEntry[]> {
  let names: string[];
  try {
    names = await readdir(storeDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new Error(`cannot list the prepared stores in ${storeDir}: ${errorMessage(error)}`, { cause: error });
  }
  const entries: StoreEntry[] = [];
  for (const name of names.sort()) {
    const match = STORE_FILE.exec(name);
    if (!match) continue;
    const file = path.join(storeDir, name);
    const bytes = (await stat(file)).size + (await stat(`${file}.wal`).then((s) => s.size, () => 0));
    const meta = await readStoreMeta(file);
    if (meta instanceof Error) {
      entries.push({ path: file, fingerprint: match[1]!, formatVersion: null, inputs: [], bytes, problem: meta.message });
      continue;
    }
    const version = formatVersionOf(meta);
    let inputs: string[] = [];
    try {
      inputs = JSON.parse(meta.get(MetaKey.inputs) ?? '[]') as string[];
    } catch {
      // Not the JSON list this build writes: show the text as it is.
      inputs = [meta.get(MetaKey.inputs) ?? ''];
    }
    entries.push({
      path: file,
      fingerprint: match[1]!,
      formatVersion: version,
      inputs,
      bytes,
      ...(version !== null ? {} : { problem: `${file}: its meta table has no format version` }),
    });
  }
  return entries;
}

/** Stores this build does not read: another format version, or not a readable store at all. */
export function unreadableByThisBuild(entries: readonly StoreEntry[]): StoreEntry[] {
  return entries.filter((e) => e.formatVersion !== STORE_FORMAT_VERSION);
}

/** Removes the stores this build does not read (their write-ahead logs and kept answers too); returns them. */
export async function pruneStores(storeDir: string): Promise<StoreEntry[]> {
  const stale = unreadableByThisBuild(await listStores(storeDir));
  const answers = path.join(storeDir, ANSWERS_FOLDER);
  const answerFolders = await readdir(answers).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw new Error(`cannot list the kept answers in ${answers}: ${errorMessage(error)}`, { cause: error });
  });
  for (const entry of stale) {
    try {
      await rm(entry.path);
      await rm(`${entry.path}.wal`, { force: true });
      for (const folder of answerFolders.filter((name) => name.startsWith(`${entry.fingerprint}-`))) {
        await rm(path.join(answers, folder), { recursive: true, force: true });
      }
    } catch (error) {
      throw new Error(`cannot remove the prepared store ${entry.path}: ${errorMessage(error)}`, { cause: error });
    }
  }
  return stale;
}
