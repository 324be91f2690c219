// pandas frames saved in HDF5 (`to_hdf`, `HDFStore`: PyTables' layout) are written out as the CSV
// each frame's `to_csv()` would write, and read in its place (inputs/), as pickles are
// (pandas-pickle.ts, frame-csv.ts). Every group pandas wrote (its `pandas_type` attribute) is a
// frame: a store holding one is named after the file (`returns.h5` is `returns.csv`, whatever its
// key), one holding several after their keys (`results.h5` with keys returns, positions and
// transactions is those three files).
//
// The two formats pandas writes, read with h5wasm (HDF5's own library, compiled to WebAssembly):
// - fixed (to_hdf's default): datasets axis0 (the column labels) and axis1 (the index), and per
//   block of columns block<i>_items (its labels) and block<i>_values, stored rows x items
//   (`transposed`); a time block says so in `value_type` and its zone in `tz`; a block of Python
//   objects (text, zipline's lists) is one pickle of the numpy array (python-pickle.ts). A
//   series: index and values.
// - table (format='table'): one compound dataset `table` of an `index` field and fields
//   values_block_<k> (the labels of its columns in the attribute values_block_<k>_kind) or a
//   data column's own; text as fixed-width bytes, missing text as `nan_rep`; the column order in
//   the group's non_index_axes, zones and the index's name in its `info`.
// Attributes that are Python objects are pickles (protocol 0 text).
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import h5wasm, { Module } from 'h5wasm/node';
import { errorMessage } from '../../../shared/errors.js';
import type { UnpackedMember } from '../archives/index.js';
import { PrepareError } from '../errors.js';
import { cellsOf, indexCsvColumns, labelText, writeFrameMembers, type CsvColumn, type CsvFrame, type Vector } from './frame-csv.js';
import { PickleError, readPickle } from './python-pickle.js';
import { NAT, PyValueError, exactInt, nanosPerUnit, npArray, npItem, readNumber, zoneOf, type NpArray, type PyTime, type Zone } from './python-values.js';

/** Stores are read into memory (WebAssembly's), their frames held while written out. */
const MAX_BYTES = 1024 * 2 ** 20;

/** HDF5 type classes (H5T_class_t) h5wasm reports in a dataset's metadata. */
const H5T_BITFIELD = 4;

/** Whether a file is an HDF5 store by its name. */
export function isHdf(file: string): boolean {
  return /\.(h5|hdf5|hdf)$/i.test(file);
}

type H5Group = InstanceType<typeof h5wasm.Group>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;
type H5Node = H5Group | H5Dataset;

const isGroup = (n: unknown): n is H5Group => n instanceof h5wasm.Group;
const isDataset = (n: unknown): n is H5Dataset => n instanceof h5wasm.Dataset;

/** An attribute's value (null when absent). */
function attr(node: H5Node, name: string): unknown {
  const a = node.attrs[name];
  return a === undefined ? null : a.value;
}

const attrText = (node: H5Node, name: string): string | null => {
  const v = attr(node, name);
  return v === null || v === undefined ? null : String(v);
};

/**
 * An attribute PyTables pickled (a Python object: a list of labels, a zone, a dict, None as
 * `N.`), or one it kept as text (a str name such as an index's `trade_id`).
 */
function attrObject(node: H5Node, name: string): unknown {
  const text = attrText(node, name);
  if (text === null) return null;
  if (text !== 'N.' && !(text.endsWith('.') && text.includes('\n'))) return text;
  try {
    return readPickle(Buffer.from(text, 'latin1'));
  } catch (err) {
    throw new PyValueError(`attribute ${name} of ${node.path} is not a readable pickle: ${errorMessage(err)}`);
  }
}

/** A zone attribute: a pickled tzinfo, or a zone's name as text (pytz's zones are stored so). */
function zoneAttr(node: H5Node, name: string): Zone | null {
  return zoneOf(attrObject(node, name));
}

/** An int64 as a number while exact, else a bigint (times stay exact either way: readingOf takes both). */
const exact = (x: unknown): unknown => (typeof x === 'bigint' ? exactInt(x) : x);

/**
 * Element i of something read (a dataset, a pickled array, a table's field), decoded when asked:
 * a frame of millions of cells is never copied into JS values whole (a 2,500 x 3,001 frame's
 * arrays of values took 1.2 GB).
 */
type At = (i: number) => unknown;

/** A dataset's elements (int64s past 2^53 as bigints, a bitfield as booleans). */
function datasetAt(ds: H5Dataset): { at: At; length: number } {
  const value = ds.value as unknown;
  const flat = (ArrayBuffer.isView(value) || Array.isArray(value) ? value : [value]) as ArrayLike<unknown>;
  const bool = ds.metadata.type === H5T_BITFIELD;
  return { at: bool ? (i) => flat[i] !== 0 : (i) => exact(flat[i]), length: flat.length };
}

/** A member of a compound type as h5wasm describes it (its metadata's compound_type.members). */
interface Member {
  name: string;
  offset: number;
  size: number;
  type: number;
  signed?: boolean;
  littleEndian?: boolean;
  array_type?: { type: number; size: number; signed?: boolean; littleEndian?: boolean; shape?: number[] };
}

/** HDF5 type classes (H5T_class_t). */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;

/**
 * A table's fields, each element j of a field (an array member's j-th, a scalar member's only)
 * decoded from the dataset's bytes when asked: h5wasm turns an array member's int64s into
 * doubles, which for a time in nanoseconds is 256 ns off, so the bytes are read here (with
 * h5wasm's own reader of a dataset's data).
 */
function tableFields(ds: H5Dataset): { names: string[]; rows: number; field: (name: string, j?: number) => At } {
  const meta = ds.metadata;
  const members = (meta.compound_type?.members ?? []) as unknown as Member[];
  const rows = Number(meta.shape?.[0] ?? 0);
  const bytes = rawBytes(ds, rows * meta.size);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder();
  const scalar = (t: { type: number; size: number; signed?: boolean; littleEndian?: boolean }, at: number): unknown => {
    const le = t.littleEndian !== false;
    if (t.type === H5T_FLOAT) return readNumber(view, at, 'f', t.size, le);
    if (t.type === H5T_INTEGER || t.type === H5T_BITFIELD) return readNumber(view, at, t.signed ? 'i' : 'u', t.size, le);
    if (t.type === H5T_STRING) {
      const raw = bytes.subarray(at, at + t.size);
      const end = raw.indexOf(0);
      return decoder.decode(end < 0 ? raw : raw.subarray(0, end));
    }
    throw new PyValueError(`${ds.path}: a field of HDF5 type class ${t.type} is not read`);
  };
  const field = (name: string, j = 0): At => {
    const m = members.find((x) => x.name === name);
    if (!m) throw new PyValueError(`${ds.path} has no field ${name}`);
    const type = m.array_type ?? m;
    const offset = m.offset + j * type.size;
    return (r) => scalar(type, r * meta.size + offset);
  };
  return { names: members.map((m) => m.name), rows, field };
}

/** A whole dataset's bytes as HDF5 hands them over (h5wasm's Dataset.slice, without its conversion of them). */
function rawBytes(ds: H5Dataset, nbytes: number): Uint8Array {
  const module = Module as unknown as {
    _malloc: (n: number) => number;
    _free: (p: number) => void;
    HEAPU8: Uint8Array;
    get_dataset_data: (file: bigint, path: string, count: bigint[], offset: bigint[], strides: bigint[], ptr: bigint) => number;
  };
  if (nbytes === 0) return new Uint8Array(0);
  const ptr = module._malloc(nbytes);
  if (!ptr) throw new PyValueError(`${ds.path}: ${nbytes} bytes cannot be held`);
  try {
    const shape = (ds.metadata.shape ?? []).map((d) => BigInt(d));
    module.get_dataset_data(ds.file_id, ds.path, shape, shape.map(() => 0n), shape.map(() => 1n), BigInt(ptr));
    return module.HEAPU8.slice(ptr, ptr + nbytes);
  } finally {
    module._free(ptr);
  }
}

/** How a value of a kind or dtype name is read (`datetime64[ns]`, `float64`, `int64`, `bool`, `bytes40`, `timedelta64`), and how its numbers are written. */
interface Reading {
  convert: (v: unknown) => unknown;
  numbers?: Vector['numbers'];
}

function readingOf(kind: string | null, zone: Zone | null): Reading {
  if (kind?.startsWith('datetime64') || kind?.startsWith('timedelta64')) {
    // pandas 2 writes ns, pandas 3 often us; pandas has no other resolutions than these four.
    const unit = /\[(\w+)/.exec(kind)?.[1] ?? 'ns';
    const per = /^(s|ms|us|ns)$/.test(unit) ? nanosPerUnit(unit) : undefined;
    if (per === undefined) throw new PyValueError(`times in ${kind} are not read (s, ms, us and ns are)`);
    const ns = (v: unknown): bigint | null => {
      if (v === null || v === undefined) return null;
      const n = BigInt(v as number | bigint);
      return n === NAT ? null : n * per;
    };
    if (kind.startsWith('timedelta64')) return { convert: ns, numbers: 'timedelta' };
    return {
      convert: (v) => {
        const n = ns(v);
        return n === null ? null : ({ ns: n, zone } satisfies PyTime);
      },
    };
  }
  const same = (v: unknown) => v;
  if (kind === 'float32') return { convert: same, numbers: 'float32' };
  if (kind === 'float64' || kind === 'float') return { convert: same, numbers: 'float' };
  if (kind === 'bool') return { convert: (v) => (v === null || v === undefined ? null : Boolean(v)) };
  return { convert: same };
}

const vectorOver = (length: number, at: At, reading: Reading): Vector => ({
  length,
  at: (r) => reading.convert(at(r) ?? null),
  ...(reading.numbers ? { numbers: reading.numbers } : {}),
});

/** A pickled numpy array of Python objects (a VLArray of one pickle). */
function pickledArray(ds: H5Dataset): NpArray {
  const [bytes] = ds.value as unknown as Uint8Array[];
  if (!(bytes instanceof Uint8Array)) throw new PyValueError(`${ds.path} holds no pickled objects`);
  try {
    return npArray(readPickle(bytes));
  } catch (err) {
    if (err instanceof PickleError) throw new PyValueError(`${ds.path}: ${err.message}`);
    throw err;
  }
}

/** A fixed-format index dataset (axis0, axis1, index, block<i>_items): its values and name. */
function fixedIndex(ds: H5Dataset): Vector & { name: unknown; range: boolean } {
  const name = attrObject(ds, 'name');
  const kind = attrText(ds, 'kind');
  const values = attrText(ds, 'CLASS') === 'VLARRAY' ? objectsAt(pickledArray(ds)) : datasetAt(ds);
  const vector = vectorOver(values.length, values.at, readingOf(kind, zoneAttr(ds, 'tz')));
  let range = kind === 'integer' && name === null;
  for (let i = 0; range && i < vector.length; i++) range = vector.at(i) === i;
  return { ...vector, name, range };
}

const objectsAt = (a: NpArray) => ({ at: (i: number) => npItem(a, i), length: a.shape.reduce((n, d) => n * d, 1) });

/** A fixed-format block's columns: item j's values. Stored rows x items when `transposed`. */
function fixedBlock(ds: H5Dataset, items: number, rows: number): Vector[] {
  if (attrText(ds, 'CLASS') === 'VLARRAY') {
    const array = pickledArray(ds);
    const rowsFirst = array.shape.length === 2 && array.shape[0] === rows && array.shape[1] === items;
    return Array.from({ length: items }, (_, j) => vectorOver(rows, (r) => npItem(array, rowsFirst ? r * items + j : j * rows + r), readingOf(null, null)));
  }
  const { at } = datasetAt(ds);
  const transposed = ds.shape?.[0] === rows && (ds.shape.length === 1 || ds.shape[1] === items);
  const reading = readingOf(attrText(ds, 'value_type') ?? dtypeKind(ds), zoneAttr(ds, 'tz'));
  return Array.from({ length: items }, (_, j) => vectorOver(rows, transposed ? (r) => at(r * items + j) : (r) => at(j * rows + r), reading));
}

/** A numeric dataset's kind from its HDF5 type (fixed blocks carry no dtype attribute). */
function dtypeKind(ds: H5Dataset): string | null {
  const t = String(ds.dtype);
  if (t === '<d' || t === '>d') return 'float64';
  if (t === '<f' || t === '>f') return 'float32';
  return null;
}

function child(group: H5Group, name: string): H5Dataset {
  const node = group.get(name);
  if (!isDataset(node)) throw new PyValueError(`${group.path} has no dataset ${name}`);
  return node;
}

/** A frame or series in the fixed format. `stem`: an unnamed series' column name. */
function fixedFrame(group: H5Group, series: boolean, stem: string): CsvFrame {
  if (series) {
    const index = fixedIndex(child(group, 'index'));
    const name = attrObject(group, 'name');
    const [values] = fixedBlock(child(group, 'values'), 1, index.length);
    return { rows: index.length, columns: [...indexCsvColumns([index]), { header: name === null ? stem : labelText(name), cell: cellsOf(values!) }] };
  }
  const labels = fixedIndex(child(group, 'axis0'));
  const index = fixedIndex(child(group, 'axis1'));
  const byLabel = new Map<string, CsvColumn>();
  const blocks = Number(attrText(group, 'nblocks') ?? 0);
  for (let i = 0; i < blocks; i++) {
    const items = fixedIndex(child(group, `block${i}_items`));
    fixedBlock(child(group, `block${i}_values`), items.length, index.length).forEach((vector, j) => {
      const header = labelText(items.at(j));
      byLabel.set(header, { header, cell: cellsOf(vector) });
    });
  }
  const columns = Array.from({ length: labels.length }, (_, i) => {
    const header = labelText(labels.at(i));
    const column = byLabel.get(header);
    if (!column) throw new PyValueError(`column '${header}' of ${group.path} is in no block`);
    return column;
  });
  return { rows: index.length, columns: [...indexCsvColumns([index]), ...columns] };
}

const mapOf = (v: unknown): Map<unknown, unknown> => (v instanceof Map ? v : new Map());

/** A frame or series in the table format. */
function tableFrame(group: H5Group): CsvFrame {
  const table = child(group, 'table');
  const info = mapOf(attrObject(group, 'info'));
  const nanRep = attrText(group, 'nan_rep') ?? 'nan';
  const { names: fields, rows, field } = tableFields(table);
  // The index.
  const indexInfo = mapOf(info.get('index'));
  const indexName = indexInfo.get('index_name') ?? null;
  const indexKind = attrText(table, 'index_kind');
  const indexVector = vectorOver(rows, field('index'), readingOf(indexKind, indexInfo.has('tz') ? zoneOf(indexInfo.get('tz')) : null));
  let range = indexKind === 'integer' && indexName === null && rows > 0;
  for (let r = 0; range && r < rows; r++) range = indexVector.at(r) === r;
  const index = { ...indexVector, name: indexName, range };
  // Each field's columns: a values block holds several (its _kind lists them), a data column one.
  const byLabel = new Map<string, CsvColumn>();
  for (const name of fields.filter((f) => f !== 'index')) {
    const labels = attrObject(table, `${name}_kind`);
    const dtype = attrText(table, `${name}_dtype`);
    const zoneInfo = mapOf(info.get(name));
    const reading = readingOf(dtype, zoneInfo.has('tz') ? zoneOf(zoneInfo.get('tz')) : null);
    // Text is fixed-width bytes, a missing value written as nan_rep.
    const text = dtype?.startsWith('bytes') || dtype === 'string';
    const notNanRep = (v: unknown) => (v === nanRep ? null : v);
    // A categorical column holds its codes; its categories are a series of their own under meta/.
    const categories = attrText(table, `${name}_meta`) === 'category' ? categoriesOf(group, name) : null;
    (Array.isArray(labels) ? labels : [name]).forEach((label, j) => {
      const codes = field(name, j);
      const at: At = categories ? (r) => categories[Number(codes(r))] ?? null : text ? (r) => notNanRep(codes(r)) : codes;
      const header = labelText(label);
      byLabel.set(header, { header, cell: cellsOf(vectorOver(rows, at, categories ? readingOf(null, null) : reading)) });
    });
  }
  // The column order pandas kept: non_index_axes = [(1, [labels])].
  const axes = attrObject(group, 'non_index_axes');
  const order = Array.isArray(axes) && Array.isArray(axes[0]) && Array.isArray(axes[0][1]) ? (axes[0][1] as unknown[]).map(labelText) : [...byLabel.keys()];
  const columns = order.map((header) => {
    const column = byLabel.get(header);
    if (!column) throw new PyValueError(`column '${header}' of ${group.path} is in no field of its table`);
    return column;
  });
  return { rows, columns: [...indexCsvColumns([index]), ...columns] };
}

/** A table-format categorical's categories: the series pandas writes at meta/<field>/meta (code -1, missing, has none). */
function categoriesOf(group: H5Group, field: string): unknown[] {
  const meta = group.get(`meta/${field}/meta`);
  if (!isGroup(meta)) throw new PyValueError(`${group.path}: the categories of ${field} (meta/${field}/meta) are missing`);
  const table = child(meta, 'table');
  const nanRep = attrText(meta, 'nan_rep') ?? 'nan';
  const { rows, field: values } = tableFields(table);
  const at = values('values');
  return Array.from({ length: rows }, (_, i) => {
    const v = at(i);
    return v === nanRep ? null : v;
  });
}

/** Every group pandas wrote under `group`, with its key. */
function pandasGroups(group: H5Group, out: { key: string; group: H5Group; type: string }[] = []): typeof out {
  for (const name of group.keys()) {
    const node = group.get(name);
    if (!isGroup(node)) continue;
    const type = attrText(node, 'pandas_type');
    if (type) out.push({ key: node.path.replace(/^\//, ''), group: node, type });
    else pandasGroups(node, out);
  }
  return out;
}

/** A pandas group as CSV, by its pandas_type. */
function frameOfGroup(group: H5Group, type: string, stem: string): CsvFrame {
  switch (type) {
    case 'frame':
      return fixedFrame(group, false, stem);
    case 'series':
      return fixedFrame(group, true, stem);
    case 'frame_table':
    case 'series_table':
      return tableFrame(group);
  }
  throw new PyValueError(`${group.path} is a pandas ${type}, which is not read (frames and series are, in the fixed and table formats)`);
}

/**
 * The frames of an HDF5 store (see the header), written out as CSV into `into`/<file name>/.
 * Throws PrepareError naming the file and what is wrong: not HDF5, no pandas frame in it, a
 * column of a kind not read.
 */
export async function hdfMembers(file: string, into: string): Promise<UnpackedMember[]> {
  const { size } = await stat(file);
  if (size > MAX_BYTES) throw new PrepareError(`input ${file} is an HDF5 store of ${(size / 2 ** 30).toFixed(1)} GiB; stores up to 1 GiB are read: save each frame with to_parquet`);
  if (!(await hasHdfSignature(file, size))) {
    throw new PrepareError(`input ${file} cannot be read as HDF5: it has no HDF5 signature (\\x89HDF at byte 0, 512, 1024, ...); save each frame with to_parquet or to_csv`);
  }
  await h5wasm.ready;
  let store: InstanceType<typeof h5wasm.File>;
  try {
    store = new h5wasm.File(file, 'r');
  } catch (err) {
    throw new PrepareError(`input ${file} cannot be read as HDF5: ${errorMessage(err)}; save each frame with to_parquet or to_csv`, { cause: err });
  }
  try {
    return await framesOfStore(file, store, into);
  } catch (err) {
    // h5wasm reports a damaged file only when a node is read, with HDF5's words.
    if (err instanceof PrepareError) throw err;
    throw new PrepareError(`input ${file} cannot be read as HDF5: ${errorMessage(err)}; save each frame with to_parquet or to_csv`, { cause: err });
  } finally {
    store.close();
  }
}

/** HDF5's signature, at byte 0 or after a user block (512, 1024, 2048, ... bytes). */
const HDF5_SIGNATURE = Buffer.from('894844460d0a1a0a', 'hex');

async function hasHdfSignature(file: string, size: number): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(HDF5_SIGNATURE.length);
    for (let at = 0; at + head.length <= size; at = at === 0 ? 512 : at * 2) {
      await handle.read(head, 0, head.length, at);
      if (head.equals(HDF5_SIGNATURE)) return true;
    }
    return false;
  } finally {
    await handle.close();
  }
}

/** The store's pandas groups, decoded and written out (hdfMembers). */
async function framesOfStore(file: string, store: InstanceType<typeof h5wasm.File>, into: string): Promise<UnpackedMember[]> {
  const groups = pandasGroups(store);
  if (groups.length === 0) throw new PrepareError(`input ${file} is HDF5 but holds no pandas frame (no group with pandas' pandas_type): save each frame with to_parquet or to_csv`);
  const stem = path.basename(file).replace(/\.(h5|hdf5|hdf)$/i, '');
  const frames = groups.map(({ key, group, type }) => {
    const name = groups.length === 1 ? stem : key.replace(/\//g, '_');
    try {
      return { name, frame: frameOfGroup(group, type, name) };
    } catch (err) {
      if (err instanceof PyValueError) throw new PrepareError(`input ${file}: its frame ${key} cannot be read: ${err.message}; save it with to_parquet or to_csv`, { cause: err });
      throw err;
    }
  });
  return writeFrameMembers(file, frames, into);
}
