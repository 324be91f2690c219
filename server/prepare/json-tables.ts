// A JSON document of named tables: an object whose keys name tables and hold arrays of records,
// as Jesse writes its backtest export (`storage/json/<session>.json`: {"trades": [...],
// "considering_timeframes": [...]}) and in-house tools write a run's result ({"trades": [...],
// "symbols": [...], "params": {...}}). DuckDB reads such a document as one row of lists, so each
// array of records under a key that names a table is written out as JSON Lines into the
// preparation's unpack folder and read as that table, lying in a folder named after the document
// (inputs.ts): two such documents beside each other are two runs, as two folders of files are.
// Keys that name no table (parameters, timeframes) are not read. Arrays nested deeper are the
// format adapters' (Freqtrade's strategy.<name>.trades).
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

/**
 * A document of named tables (see the header) written out into `into`: for each table, the member
 * that names it (`<file>!<stem>/<key>.jsonl`) and its path there; null when the file is not one.
 */
export async function jsonTableMembers(file: string, size: number, into: string, namesTable: (key: string) => boolean): Promise<UnpackedMember[] | null> {
  if (size > MAX_BYTES) return null;
  const text = await readFile(file, 'utf8');
  // Parsed only when a key of a table's name (tableOfComponent's and the benchmark's, inputs.ts)
  // opens an array of records somewhere in it: a large result of another tool is not parsed.
  if (!/"(?:trades?|bars?|symbols?|runs?|benchmarks?)\w*"\s*:\s*\[\s*\{/i.test(text)) return null;
  const tables = namedTables(text, namesTable);
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
