// A pandas frame or series saved with `to_pickle` (zipline's `run -o perf.pickle`, a pyfolio user's
// returns, positions and transactions) is written out as the CSV its `to_csv()` would write, into
// the preparation's unpack folder, and read in its place (inputs/), as a workbook's sheets are:
// the index first (under its name, or an empty header; a default 0..n-1 index is left out), then
// the columns; numbers as Python writes them, times in their zone's wall clock with its offset,
// missing values empty, and a cell of Python objects as its str(): a zipline transaction list is
// `[{'amount': 10, 'dt': Timestamp('2016-01-04 14:31:00+0000', tz='UTC'), ..., 'sid': Equity(24 [AAPL])}]`.
// A pickle of a dict of frames is a table per key. The pickle is read, never run
// (python-pickle.ts): a pickle of anything else is named as what it is.
//
// Read as pandas pickles a frame (tested with pandas 2.2.3 and 3.0.6, fixtures/formats/pickles):
// the manager as BlockManager(blocks, axes) with
// _unpickle_block(values, placement, ndim) (pandas >= 2.1), or with the state
// (axes, values, items, {'0.14.1': {'axes', 'blocks': [{'values', 'mgr_locs'}]}}); numpy arrays,
// masked arrays (Int64, boolean), Categorical, DatetimeArray with its zone, StringArray, and
// columns held by pyarrow (pandas 3's text with pyarrow installed, ArrowDtype: pyarrow-arrays.ts).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../../shared/errors.js';
import type { UnpackedMember } from '../archives/index.js';
import { PrepareError } from '../errors.js';
import { arrayVector, cellsOf, indexCsvColumns, inZone, labelText, writeFrameMembers, type CsvColumn, type CsvFrame, type Vector } from './frame-csv.js';
import { arrowVector, isArrowArray } from './pyarrow-arrays.js';
import { PickleError, PyCall, PyGlobal, describePy, readPickle } from './python-pickle.js';
import { PyValueError, isNpArray, isNpDtype, npArray, npItem, zoneOf, type NpArray } from './python-values.js';

/** Pickles are read whole, and their frames held while written out. */
const MAX_BYTES = 1024 * 2 ** 20;
/** More rows than a pickle of 1 GiB holds. */
const MAX_ROWS = 2 ** 30;
/** More columns than any frame of a backtest has (a positions frame of every US stock has 10^4). */
const MAX_COLUMNS = 10_000_000;

/** Whether a file is a pickle by its name (to_pickle's `.pkl`, `.pickle`; a compressed one, `.pkl.gz`, is an archive of one: archives/). */
export function isPickle(file: string): boolean {
  return /\.(pkl|pickle)$/i.test(file);
}

/** The last part of a class's name, and whether pandas defines it (its module moved between versions: pandas.core.frame.DataFrame, pandas.DataFrame). */
const pandasClass = (v: unknown): string | null =>
  v instanceof PyCall && v.callee instanceof PyGlobal && v.callee.module.startsWith('pandas') ? v.callee.name : null;

const isFrame = (v: unknown) => pandasClass(v) === 'DataFrame' || pandasClass(v) === 'Series';

const stateMap = (v: PyCall, what: string): Map<unknown, unknown> => {
  if (!(v.state instanceof Map)) throw new PyValueError(`${what} has no state`);
  return v.state;
};

/** A manager's axes and blocks (values, and which of the axis' columns they hold). */
interface Manager {
  axes: unknown[];
  blocks: { values: unknown; locs: number[] }[];
}

function placement(v: unknown): number[] {
  if (v instanceof PyCall && v.name === 'builtins.slice') {
    const [start, stop, step] = v.args.map((x) => (x === null ? null : Number(x)));
    // A block of a frame's columns: a damaged slice must not ask for billions of them.
    if (stop === null || stop === undefined || Math.abs(stop - (start ?? 0)) > MAX_COLUMNS) throw new PyValueError(`a block's placement is slice(${v.args.map(String).join(', ')})`);
    const out: number[] = [];
    for (let i = start ?? 0; (step ?? 1) > 0 ? i < stop! : i > stop!; i += step ?? 1) out.push(i);
    return out;
  }
  if (isNpArray(v)) {
    const a = npArray(v);
    return Array.from({ length: a.shape.reduce((n, d) => n * d, 1) }, (_, i) => Number(npItem(a, i)));
  }
  // pandas' BlockPlacement pickles as its slice or array in some versions.
  if (v instanceof PyCall && v.args.length === 1) return placement(v.args[0]);
  throw new PyValueError(`a block's placement is ${describePy(v)}`);
}

function managerOf(v: unknown): Manager {
  if (!(v instanceof PyCall)) throw new PyValueError(`the frame's data is ${describePy(v)}, not a pandas block manager`);
  // pandas >= 2.1: BlockManager(blocks, axes), each block _unpickle_block(values, placement, ndim).
  if (v.args.length >= 2 && Array.isArray(v.args[0]) && Array.isArray(v.args[1])) {
    return {
      axes: [...v.args[1]],
      blocks: v.args[0].map((b) => {
        if (!(b instanceof PyCall) || !Array.isArray(b.args) || b.args.length < 2) throw new PyValueError(`a block is ${describePy(b)}`);
        return { values: b.args[0], locs: placement(b.args[1]) };
      }),
    };
  }
  // Earlier: the state (axes, values, items, {'0.14.1': {'axes': ..., 'blocks': [{'values', 'mgr_locs'}]}}).
  const state = v.state;
  const extra = Array.isArray(state) && state[3] instanceof Map ? state[3].get('0.14.1') : null;
  if (!(extra instanceof Map)) throw new PyValueError(`the frame's data (${v.name}) is in a layout older than pandas 0.14.1`);
  const axes = extra.get('axes');
  const blocks = extra.get('blocks');
  if (!Array.isArray(axes) || !Array.isArray(blocks)) throw new PyValueError(`the frame's data (${v.name}) has no axes or blocks`);
  return {
    axes: [...axes],
    blocks: blocks.map((b) => {
      if (!(b instanceof Map)) throw new PyValueError(`a block is ${describePy(b)}`);
      return { values: b.get('values'), locs: placement(b.get('mgr_locs')) };
    }),
  };
}

/** The state of an NDArrayBacked array (DatetimeArray, Categorical, StringArray...): its ndarray and dtype, in either order, or a dict. */
function backed(v: PyCall): { array: NpArray | null; dtype: unknown; rest: Map<unknown, unknown> | null } {
  const state = v.state;
  if (Array.isArray(state)) {
    const array = state.find(isNpArray);
    const dtype = state.find((x) => x !== array && (isNpDtype(x) || pandasClass(x) !== null));
    return { array: array ? npArray(array) : null, dtype, rest: state.find((x) => x instanceof Map) ?? null };
  }
  if (state instanceof Map) {
    const data = state.get('_ndarray') ?? state.get('_data') ?? state.get('_codes');
    return { array: isNpArray(data) ? npArray(data) : null, dtype: state.get('_dtype') ?? state.get('dtype'), rest: state };
  }
  throw new PyValueError(`${v.name} has no state`);
}

/** Line `line` of `values` (a block's array, 2-D for numpy blocks; an extension array, 1-D). */
function vectorOf(values: unknown, line: number, what: string): Vector {
  if (isNpArray(values)) return arrayVector(npArray(values), line);
  // pandas < 1 held a zoned datetime column as a DatetimeIndex.
  if (values instanceof PyCall && /\._new_(Datetime)?Index$/.test(values.name)) return indexLevels(values, what)[0]!;
  const cls = pandasClass(values);
  const call = values as PyCall;
  // NDArrayBacked arrays pickle as __pyx_unpickle_NDArrayBacked(cls, checksum, None) + state.
  const inner = call?.name?.endsWith('__pyx_unpickle_NDArrayBacked') && call.args[0] instanceof PyGlobal ? call.args[0].name : cls;
  switch (inner) {
    case 'IntegerArray':
    case 'FloatingArray':
    case 'BooleanArray': {
      const state = stateMap(call, inner);
      const data = arrayVector(npArray(state.get('_data')), 0);
      const mask = npArray(state.get('_mask'));
      return { ...data, at: (r) => (npItem(mask, r) ? null : data.at(r)) };
    }
    case 'Categorical': {
      const { array: codes, dtype } = backed(call);
      if (!codes || !(dtype instanceof PyCall)) throw new PyValueError(`a Categorical of ${what} has no codes or categories`);
      const categories = indexLevels(stateMap(dtype, 'a CategoricalDtype').get('categories'), 'categories')[0]!;
      const { numbers } = categories;
      return {
        length: codes.shape[0]!,
        at: (r) => {
          const code = Number(npItem(codes, r));
          return code < 0 ? null : categories.at(code);
        },
        ...(numbers ? { numbers } : {}),
      };
    }
    case 'DatetimeArray':
    case 'TimedeltaArray':
    case 'StringArray':
    case 'NumpyExtensionArray':
    case 'PandasArray': {
      const { array, dtype, rest } = backed(call);
      if (!array) throw new PyValueError(`${inner} of ${what} holds no array`);
      // A tz-aware column: the dtype (DatetimeTZDtype) carries the zone; older pandas kept it in the state.
      const zone = dtype instanceof PyCall && pandasClass(dtype) === 'DatetimeTZDtype' ? zoneOf(stateMap(dtype, 'a DatetimeTZDtype').get('tz')) : rest?.has('_tz') ? zoneOf(rest.get('_tz')) : null;
      return inZone(arrayVector(array, line), zone);
    }
  }
  if (cls?.startsWith('Arrow') && call.state instanceof Map) {
    // Arrow-backed: pandas 3's text with pyarrow installed, ArrowDtype, string[pyarrow].
    const array = call.state.get('_pa_array') ?? call.state.get('_data');
    if (isArrowArray(array)) return arrowVector(array);
  }
  if (cls?.startsWith('Arrow') || (call?.name ?? '').includes('Arrow')) {
    throw new PyValueError(`${what} is held by pyarrow in a way not read (${call.name}): save the frame with to_parquet, which keeps its types, or to_csv`);
  }
  throw new PyValueError(`${what} is ${describePy(values)}, a kind of column not read (numbers, booleans, times, text, categories and Python objects are)`);
}

/** An index's values, one vector per level (a MultiIndex has several), with their names. */
function indexLevels(v: unknown, what: string): (Vector & { name: unknown; range?: boolean })[] {
  if (!(v instanceof PyCall)) throw new PyValueError(`the ${what} is ${describePy(v)}, not a pandas index`);
  const [cls, d] = v.args;
  if (!(d instanceof Map) || !(cls instanceof PyGlobal)) throw new PyValueError(`the ${what} is ${v.name}, not read`);
  const name = d.get('name') ?? null;
  if (cls.name === 'RangeIndex') {
    const start = Number(d.get('start') ?? 0);
    const stop = Number(d.get('stop') ?? 0);
    const step = Number(d.get('step') ?? 1);
    const length = Math.max(0, Math.ceil((stop - start) / step));
    // A RangeIndex holds no data: a damaged one must not send the writer over 10^12 empty rows.
    if (!Number.isFinite(length) || length > MAX_ROWS) throw new PyValueError(`the ${what} is a RangeIndex of ${length} rows`);
    return [{ length, at: (r) => start + r * step, name, range: start === 0 && step === 1 && name === null }];
  }
  if (cls.name === 'MultiIndex') {
    const levels = d.get('levels');
    const codes = d.get('codes') ?? d.get('labels');
    const names = d.get('names');
    if (!Array.isArray(levels) || !Array.isArray(codes)) throw new PyValueError(`the ${what} is a MultiIndex without levels or codes`);
    return levels.map((level, i) => {
      const values = indexLevels(level, what)[0]!;
      const c = npArray(codes[i]);
      const at = (r: number) => {
        const code = Number(npItem(c, r));
        return code < 0 ? null : values.at(code);
      };
      return { ...values, length: c.shape[0]!, at, name: Array.isArray(names) ? (names[i] ?? null) : null };
    });
  }
  const vector = vectorOf(d.get('data'), 0, `the ${what}`);
  // pandas < 1.x kept a DatetimeIndex's zone beside naive UTC data.
  const zone = d.has('tz') && d.get('tz') !== null ? zoneOf(d.get('tz')) : null;
  return [{ ...inZone(vector, zone), name }];
}

/** A pickled DataFrame or Series as to_csv writes it. `stem`: an unnamed series' column name. */
function csvFrameOf(v: unknown, stem: string): CsvFrame {
  if (!(v instanceof PyCall)) throw new PyValueError(`${describePy(v)}, not a pandas DataFrame or Series`);
  const state = stateMap(v, `the ${pandasClass(v)}`);
  const manager = managerOf(state.get('_mgr') ?? state.get('_data'));
  const series = pandasClass(v) === 'Series';
  const [first, second] = manager.axes;
  const index = indexLevels(series ? first : second, 'index');
  const rows = index[0]?.length ?? 0;
  const columns: CsvColumn[] = indexCsvColumns(index);
  if (series) {
    const block = manager.blocks[0];
    // pandas < 1 kept a series' name under 'name'.
    const name = state.has('_name') ? state.get('_name') : state.get('name');
    if (block) columns.push({ header: name === null || name === undefined ? stem : labelText(name), cell: cellsOf(vectorOf(block.values, 0, 'the series')) });
    return { rows, columns };
  }
  const labels = indexLevels(first, 'columns');
  const labelOf = (i: number) => (labels.length === 1 ? labels[0]!.at(i) : labels.map((l) => l.at(i)));
  const byPosition = new Map<number, CsvColumn>();
  for (const block of manager.blocks) {
    block.locs.forEach((position, line) => {
      const header = labelText(labelOf(position));
      byPosition.set(position, { header, cell: cellsOf(vectorOf(block.values, line, `column '${header}'`)) });
    });
  }
  const width = labels[0]?.length ?? 0;
  for (let i = 0; i < width; i++) {
    const column = byPosition.get(i);
    if (!column) throw new PyValueError(`column ${i + 1} of ${width} is in no block`);
    columns.push(column);
  }
  return { rows, columns };
}

/** The frames a pickle holds: one, or a dict of them by name. */
function framesOf(top: unknown, stem: string): { name: string; frame: CsvFrame }[] {
  if (isFrame(top)) return [{ name: stem, frame: csvFrameOf(top, stem) }];
  if (top instanceof Map && top.size > 0 && [...top].every(([k, v]) => typeof k === 'string' && isFrame(v))) {
    return [...top].map(([k, v]) => ({ name: String(k), frame: csvFrameOf(v, String(k)) }));
  }
  throw new PyValueError(`it holds ${describePy(top)}, not a pandas DataFrame or Series (nor a dict of them)`);
}

/**
 * The tables of a pickle (see the header), written out as CSV into `into`/<file name>/, named
 * `<pickle>!<stem>.csv` (`<pickle>!<key>.csv` for a dict of frames). Throws PrepareError naming
 * the file and what is in it when it holds no frame.
 */
export async function pickleMembers(file: string, into: string): Promise<UnpackedMember[]> {
  const { size } = await stat(file);
  if (size > MAX_BYTES) throw new PrepareError(`input ${file} is a pickle of ${(size / 2 ** 30).toFixed(1)} GiB; pickles up to 1 GiB are read: save the frame with to_parquet`);
  const stem = path.basename(file).replace(/\.(pkl|pickle)$/i, '');
  let frames: { name: string; frame: CsvFrame }[];
  try {
    const raw = await readFile(file);
    frames = framesOf(readPickle(raw), stem);
  } catch (err) {
    if (err instanceof PickleError || err instanceof PyValueError) {
      throw new PrepareError(`input ${file} cannot be read as a pandas pickle: ${err.message}; save the frame with to_parquet or to_csv`, { cause: err });
    }
    throw new PrepareError(`input ${file} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  return writeFrameMembers(file, frames, into);
}
