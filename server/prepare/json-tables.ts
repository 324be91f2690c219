// A JSON document of named tables: an object whose keys name tables and hold arrays of records,
// as Jesse writes its backtest export (`storage/json/<session>.json`: {"trades": [...],
// "considering_timeframes": [...]}) and in-house tools write a run's result ({"trades": [...],
// "symbols": [...], "params": {...}}). DuckDB reads such a document as one row of lists, so each
// array of records under a key that names a table is written out as JSON Lines into the
// preparation's unpack folder and read as that table, lying in a folder named after the document
// (inputs/): two such documents beside each other are two runs, as two folders of files are.
// Keys that name no table (parameters, timeframes) are not read. Arrays nested deeper are the
// format adapters' (Freqtrade's strategy.<name>.trades).
import { createReadStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import { memberPath, unpackFolderOf, type ArchiveMember, type UnpackedMember } from './archives/index.js';
import { PrepareError } from './errors.js';
import { jsonLinesText } from './json-lines.js';

/** The documents parsed: a result document too large for this is rare, and parsing is in memory. */
const MAX_BYTES = 512 * 2 ** 20;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The arrays of records under the document's top-level keys that `namesTable` accepts, by key;
 * null when `text` is not such a document (not JSON, not an object, or no such key holds a
 * non-empty array of records).
 */
export function namedTables(text: string, namesTable: (key: string) => boolean): Map<string, Record<string, unknown>[]> | null {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // Not JSON: DuckDB's reader says what is wrong with it, as for any other JSON file.
    return null;
  }
  if (!isRecord(doc)) return null;
  const tables = new Map<string, Record<string, unknown>[]>();
  for (const [key, value] of Object.entries(doc)) {
    if (namesTable(key) && Array.isArray(value) && value.length > 0 && value.every(isRecord)) tables.set(key, value);
  }
  return tables.size > 0 ? tables : null;
}

const OPEN_BRACKET = 0x5b; // [
const OPEN_BRACE = 0x7b; // {
const isJsonSpace = (byte: number | undefined) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/** The key before an array's bracket (up to 64 characters, no escapes): `"trades": ` of `"trades": [ {`. */
const KEY_BEFORE = /"([^"\\]{1,64})"\s*:\s*$/;
const KEY_BEFORE_BYTES = 160;

/** What of one chunk is looked at again with the next: a key and the spaces around its bracket. */
const CARRY_BYTES = 320;

/**
 * Whether a key `namesTable` accepts opens an array of records (`"trades": [ {`) anywhere in the
 * file: the quick look before a document is parsed. Read as bytes, `chunkBytes` at a time, so a
 * large document of another shape (a Lean result of hundreds of MB) is scanned once and never
 * held whole; only the bytes before a bracket that opens records are decoded. (Decoding the whole
 * stream as text took 1.8-2.0 s of the 2.6-3.1 s such a look took on a 334 MB Lean-shaped result.)
 */
export async function opensNamedTable(file: string, namesTable: (key: string) => boolean, chunkBytes = 2 ** 20): Promise<boolean> {
  const stream = createReadStream(file, { highWaterMark: chunkBytes });
  try {
    let carried: Buffer | null = null;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const bytes: Buffer = carried ? Buffer.concat([carried, chunk]) : chunk;
      for (let at = bytes.indexOf(OPEN_BRACKET); at >= 0; at = bytes.indexOf(OPEN_BRACKET, at + 1)) {
        let next = at + 1;
        while (isJsonSpace(bytes[next])) next++;
        // A bracket whose next byte is not read yet is looked at again with the next chunk.
        if (bytes[next] !== OPEN_BRACE) continue;
        const key = KEY_BEFORE.exec(bytes.toString('utf8', Math.max(0, at - KEY_BEFORE_BYTES), at))?.[1];
        if (key !== undefined && namesTable(key)) return true;
      }
      // A copy: a view would keep the whole chunk.
      carried = Buffer.from(bytes.subarray(-CARRY_BYTES));
    }
    return false;
  } finally {
    stream.destroy();
  }
}

/**
 * A document of named tables (see the header) written out into `into`: for each table, the member
 * that names it (`<file>!<stem>/<key>.jsonl`) and its path there; null when the file is not one.
 * Parsed only when a key `namesTable` accepts opens an array of records somewhere in it
 * (opensNamedTable): a large result of another tool is not read whole.
 */
export async function jsonTableMembers(file: string, size: number, into: string, namesTable: (key: string) => boolean): Promise<UnpackedMember[] | null> {
  if (size > MAX_BYTES || !(await opensNamedTable(file, namesTable))) return null;
  const tables = namedTables(await readFile(file, 'utf8'), namesTable);
  if (!tables) return null;
  const stem = path.basename(file).replace(/\.json$/i, '');
  const folder = unpackFolderOf(into, file);
  const out: UnpackedMember[] = [];
  for (const [key, rows] of tables) {
    const member: ArchiveMember = { archive: file, member: `${stem}/${key}.jsonl` };
    const unpacked = path.join(folder, stem, `${key}.jsonl`);
    try {
      await mkdir(path.dirname(unpacked), { recursive: true });
      await writeFile(unpacked, jsonLinesText(rows));
    } catch (err) {
      throw new PrepareError(`input ${file}: its table ${key} (${memberPath(member)}) cannot be written out to ${unpacked}: ${errorMessage(err)}`, { cause: err });
    }
    out.push({ member, unpacked });
  }
  return out;
}
