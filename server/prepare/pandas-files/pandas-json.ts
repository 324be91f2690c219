// A pandas frame or series saved with `to_json`, whose layout is not rows unless told
// `orient='records'`: a frame's default is orient='columns' ({"pnl": {"0": 1.5, "1": -2.0}}), a
// series' orient='index' ({"1704153600000": 0.01}); 'index', 'split' ({"columns", "index",
// "data"}) and 'table' ({"schema", "data"}) are one argument away. Read as DuckDB reads JSON they
// are one row of structs. Such a file is written out as JSON Lines, a row per index label, into
// the preparation's unpack folder and read in its place (inputs/), named as the file is.
// The index becomes a column `index` (pandas' name for it in reset_index) unless it is the
// default 0..n-1; a DatetimeIndex (epoch milliseconds, to_json's default) as ISO text in UTC,
// other numbers as numbers. Values are as written: a datetime column's epoch milliseconds are
// read as any epoch integer is (and lose nothing: JSON numbers are doubles, exact to 2^53). A
// document is taken for a frame only when every column holds scalars under the same labels, and
// the labels are an index's (integers or ISO times): a result JSON of nested objects (Lean's), or
// records keyed by name (freqtrade's .meta.json), is left as it is.
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../../shared/errors.js';
import { memberPath, unpackFolderOf, type ArchiveMember, type UnpackedMember } from '../archives/index.js';
import { PrepareError } from '../errors.js';
import { jsonLinesText } from '../json-lines.js';

type Scalar = string | number | boolean | null;
type Row = Record<string, Scalar>;

/** The documents looked at: pandas JSON of a frame too large for this is rare, and parsing is in memory. */
const MAX_BYTES = 512 * 2 ** 20;

const isScalar = (v: unknown): v is Scalar => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether a document's first bytes can be one of pandas' layouts: an object of objects of
 * scalars (columns, index), of scalars (a series), or split's and table's keys. Only then is it
 * parsed whole.
 */
export function mayBePandasJson(head: string): boolean {
  const t = head.trimStart();
  return (
    /^\{\s*"schema"\s*:\s*\{\s*"fields"\s*:/.test(t) ||
    /^\{\s*"columns"\s*:\s*\[/.test(t) ||
    /^\{\s*"(?:[^"\\]|\\.)*"\s*:\s*\{\s*"(?:[^"\\]|\\.)*"\s*:\s*(?:-?\d|"|null|true|false|NaN)/.test(t) ||
    /^\{\s*"(?:[^"\\]|\\.)*"\s*:\s*(?:-?\d|null)/.test(t)
  );
}

/** Epoch milliseconds from 1973 to 5138: how to_json writes a DatetimeIndex by default (date_unit='ms'). */
const EPOCH_MS = { min: 1e11, max: 1e14 };

/**
 * An index label as a value: a DatetimeIndex's epoch milliseconds as ISO text in UTC (the time
 * index pandas-shaped formats look for: pandas.ts), another number as a number, else its text.
 */
function label(key: string): Scalar {
  if (!/^-?\d+(\.\d+)?$/.test(key)) return key;
  const n = Number(key);
  return Number.isInteger(n) && Math.abs(n) >= EPOCH_MS.min && Math.abs(n) < EPOCH_MS.max ? new Date(n).toISOString() : n;
}

/** Whether labels are the default index 0..n-1. */
function isRange(labels: readonly string[]): boolean {
  return labels.every((l, i) => l === String(i));
}

/** Rows from a label -> row map (the index kept unless it is 0..n-1). */
function rowsOf(labels: readonly string[], row: (label: string) => Row): Row[] {
  const keep = !isRange(labels);
  return labels.map((l) => (keep ? { index: label(l), ...row(l) } : row(l)));
}

/** Every value an object of scalars, under the same keys as `keys` (when given). */
function scalarsUnder(v: unknown, keys: readonly string[] | null): v is Record<string, Scalar> {
  if (!isObject(v)) return false;
  const own = Object.keys(v);
  if (keys !== null && (own.length !== keys.length || own.some((k, i) => k !== keys[i]))) return false;
  return own.every((k) => isScalar(v[k]));
}

/**
 * The rows of a pandas JSON document (see the header), or null when it is not one of its layouts.
 * `name`: the series' column name (its file's name).
 */
export function pandasJsonRows(doc: unknown, name: string): Row[] | null {
  if (!isObject(doc)) return null;
  const keys = Object.keys(doc);
  if (keys.length === 0) return null;
  // orient='table': records under a JSON Table Schema.
  if (isObject(doc['schema']) && Array.isArray((doc['schema'] as Record<string, unknown>)['fields']) && Array.isArray(doc['data'])) {
    const data = doc['data'] as unknown[];
    return data.every((r) => scalarsUnder(r, null)) ? (data as Row[]) : null;
  }
  // orient='split': column names, index labels, rows of values.
  if (Array.isArray(doc['columns']) && Array.isArray(doc['data']) && keys.every((k) => ['columns', 'index', 'data', 'name'].includes(k))) {
    const columns = (doc['columns'] as unknown[]).map(String);
    const data = doc['data'] as unknown[];
    if (!data.every((r) => Array.isArray(r) && r.length === columns.length && r.every(isScalar))) return null;
    const index = Array.isArray(doc['index']) ? (doc['index'] as unknown[]).map(String) : data.map((_, i) => String(i));
    const byLabel = new Map(index.map((l, i) => [l, data[i] as Scalar[]]));
    return rowsOf(index, (l) => Object.fromEntries(columns.map((c, j) => [c, byLabel.get(l)![j]!])));
  }
  const values = keys.map((k) => doc[k]);
  // A series (orient='index', its default): labels and scalars.
  if (values.every(isScalar)) return isIndex(keys) ? rowsOf(keys, (l) => ({ [name]: doc[l] as Scalar })) : null;
  if (!values.every(isObject)) return null;
  const inner = Object.keys(values[0] as object);
  if (inner.length === 0 || !values.every((v) => scalarsUnder(v, inner))) return null;
  // orient='columns' (a frame's default) has the labels inside, orient='index' outside. An object
  // of records keyed by names (a strategy's metadata, freqtrade's .meta.json) is neither.
  const byColumns = isIndex(inner);
  if (!byColumns && !isIndex(keys)) return null;
  const cell = (row: string, column: string) => (byColumns ? (doc[column] as Record<string, Scalar>)[row]! : (doc[row] as Record<string, Scalar>)[column]!);
  const [labels, columns] = byColumns ? [inner, keys] : [keys, inner];
  return rowsOf(labels, (l) => Object.fromEntries(columns.map((c) => [c, cell(l, c)])));
}

/**
 * Whether keys are a frame's index labels as to_json writes the indexes a backtest's frames
 * have: integers (a RangeIndex, ids, a DatetimeIndex as epoch milliseconds) or ISO times
 * (date_format='iso'). Names are not: that is a record, not a frame.
 */
function isIndex(keys: readonly string[]): boolean {
  return keys.every((k) => /^-?\d+$/.test(k)) || keys.every((k) => /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(k));
}

/**
 * A pandas JSON file (see the header) written out as JSON Lines into `into`/<file name>/: the
 * member that names it (`<file>!<name>.jsonl`) and its path there; null when the file is not one
 * of pandas' layouts.
 */
export async function pandasJsonMember(file: string, size: number, into: string): Promise<UnpackedMember | null> {
  if (size > MAX_BYTES) return null;
  const head = Buffer.alloc(4096);
  const handle = await open(file, 'r');
  try {
    await handle.read(head, 0, head.length, 0);
  } finally {
    await handle.close();
  }
  if (!mayBePandasJson(head.toString('utf8'))) return null;
  const stem = path.basename(file).replace(/\.json$/i, '');
  let rows: Row[] | null;
  try {
    // pandas writes NaN as null, but a hand-written file may hold NaN: it is not JSON, so nothing here.
    rows = pandasJsonRows(JSON.parse(await readFile(file, 'utf8')), stem);
  } catch {
    // Not JSON at all: DuckDB's reader says what is wrong with it, as for any other JSON file.
    return null;
  }
  if (rows === null || rows.length === 0) return null;
  const member: ArchiveMember = { archive: file, member: `${stem}.jsonl` };
  const folder = unpackFolderOf(into, file);
  const unpacked = path.join(folder, member.member);
  try {
    await mkdir(folder, { recursive: true });
    await writeFile(unpacked, jsonLinesText(rows));
  } catch (err) {
    throw new PrepareError(`input ${file}: its rows (${memberPath(member)}) cannot be written out to ${unpacked}: ${errorMessage(err)}`, { cause: err });
  }
  return { member, unpacked };
}
