// A pandas frame written out as the CSV its `to_csv()` writes, for the readers of files only
// Python writes (pandas-pickle.ts, pandas-hdf.ts): they decode a frame's columns into Vectors and
// this writes them, so that such a frame is read as the CSV users already give (README).
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../../shared/errors.js';
import { unpackFolderOf, type UnpackedMember } from '../archives/index.js';
import { PrepareError } from '../errors.js';
import { PyValueError, formatTime, formatTimedelta, fractionDigits, isMidnight, isTime, npFloat32, npItem, pyCell, pyFloat, type NpArray, type PyTime, type Zone } from './python-values.js';

/** Values of one column, as JS values (python-values.ts npItem): numbers, bigints, booleans, text, PyTime, Python values. */
export interface Vector {
  length: number;
  at: (row: number) => unknown;
  /** How its numbers are written: floats as Python does (1.0), float32s with float32's shortest digits; timedeltas as pandas does. */
  numbers?: 'float' | 'float32' | 'timedelta';
  /**
   * Times written one by one as their own str() (an Arrow-backed column's are pandas Timestamps of
   * this many fraction digits: 6 for us), not in one format for the column as a numpy column's are.
   */
  unitDigits?: number;
}

/** A column as to_csv writes it: its header and the text of row r. */
export interface CsvColumn {
  header: string;
  cell: (row: number) => string;
}

export interface CsvFrame {
  rows: number;
  columns: CsvColumn[];
}

/** Line `line` of a numpy array whose lines are columns (a 1-D array is one line), numbers typed by its dtype. */
export function arrayVector(a: NpArray, line: number): Vector {
  const n = a.shape.length === 2 ? a.shape[1]! : (a.shape[0] ?? 0);
  const base = a.shape.length === 2 ? line * n : 0;
  return { length: n, at: (r) => npItem(a, base + r), ...numbersOf(a) };
}

/** How a numpy array's numbers are written (Vector.numbers). */
function numbersOf(a: NpArray): Pick<Vector, 'numbers'> {
  const numbers = a.dtype.kind === 'f' ? (a.dtype.size === 4 ? 'float32' : 'float') : a.dtype.kind === 'm' ? 'timedelta' : undefined;
  return numbers ? { numbers } : {};
}

/** A vector of naive times read as instants of `zone` (a tz-aware column keeps UTC instants and its zone apart). */
export function inZone(v: Vector, zone: Zone | null): Vector {
  return zone ? { ...v, at: (r) => withZone(v.at(r), zone) } : v;
}

const withZone = (v: unknown, zone: Zone): unknown => (isTime(v) ? ({ ...v, zone } satisfies PyTime) : v);

/** CSV's quoting (Python's csv.QUOTE_MINIMAL, as to_csv writes). */
const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/**
 * A column's cells as to_csv writes them: numbers as Python does, and times as one format for the
 * whole column (a naive column of midnights as dates, every time with as many fraction digits as
 * the finest needs).
 */
export function cellsOf(v: Vector): (row: number) => string {
  let dateOnly = true;
  let fraction = 0;
  let times = false;
  for (let r = 0; r < v.length; r++) {
    const x = v.at(r);
    if (!isTime(x)) {
      if (x !== null && x !== undefined) dateOnly = false;
      continue;
    }
    times = true;
    if (x.zone || !isMidnight(x)) dateOnly = false;
    fraction = Math.max(fraction, fractionDigits(x));
  }
  return (r) => {
    const x = v.at(r);
    if (x === null || x === undefined) return '';
    if (typeof x === 'number') return Number.isNaN(x) ? '' : v.numbers === 'float32' ? npFloat32(x) : v.numbers === 'float' ? pyFloat(x) : pyCell(x);
    if (typeof x === 'bigint' && v.numbers === 'timedelta') return formatTimedelta(x);
    if (times && isTime(x) && v.unitDigits !== undefined) return formatTime(x, { fraction: fractionDigits(x) === 0 ? 0 : v.unitDigits });
    if (times && isTime(x)) return formatTime(x, dateOnly ? { dateOnly } : { fraction });
    return quote(pyCell(x));
  };
}

/** The header text of a column label (to_csv writes str() of it; a tuple label of MultiIndex columns joined by '_'). */
export function labelText(label: unknown): string {
  if (Array.isArray(label)) return label.map(labelText).join('_');
  return pyCell(label);
}

/** An index's columns as to_csv writes them: each level under its name (an empty header for none); none for a default 0..n-1 index. */
export function indexCsvColumns(levels: readonly (Vector & { name: unknown; range?: boolean })[]): CsvColumn[] {
  if (levels.length === 1 && levels[0]!.range) return [];
  return levels.map((level) => ({ header: level.name === null ? '' : labelText(level.name), cell: cellsOf(level) }));
}

async function writeCsv(file: string, frame: CsvFrame): Promise<void> {
  const handle = await open(file, 'w');
  try {
    let chunk = frame.columns.map((c) => quote(c.header)).join(',') + '\n';
    for (let r = 0; r < frame.rows; r++) {
      chunk += frame.columns.map((c) => c.cell(r)).join(',') + '\n';
      if (chunk.length > 1 << 22) {
        await handle.write(chunk);
        chunk = '';
      }
    }
    await handle.write(chunk);
  } finally {
    await handle.close();
  }
}

/**
 * A source's frames written out as CSV into `into`/<source's name>/, each named
 * `<source>!<name>.csv`. A value that cannot be read is only met while writing (cells are decoded
 * then): PrepareError names the source and the frame.
 */
export async function writeFrameMembers(source: string, frames: readonly { name: string; frame: CsvFrame }[], into: string): Promise<UnpackedMember[]> {
  const folder = unpackFolderOf(into, source);
  await mkdir(folder, { recursive: true });
  const members: UnpackedMember[] = [];
  for (const { name, frame } of frames) {
    const member = { archive: source, member: `${name.replace(/[\\/]/g, '_')}.csv` };
    const unpacked = path.join(folder, member.member);
    try {
      await writeCsv(unpacked, frame);
    } catch (err) {
      const what = err instanceof PyValueError ? `its frame ${name} cannot be read: ${err.message}` : `its frame ${name} cannot be written out to ${unpacked}: ${errorMessage(err)}`;
      throw new PrepareError(`input ${source}: ${what}`, { cause: err });
    }
    members.push({ member, unpacked });
  }
  return members;
}
