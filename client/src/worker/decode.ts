// Arrow record batches -> the column buffers the UI draws from. Runs in the worker only.
import { DataType, type Data, type Table, type Vector } from 'apache-arrow';
import { RUNDIFF_PARTS, SERIES_PARTS } from '../../../shared/constants.js';
import { PART_METADATA_KEY } from '../../../shared/frame.js';
import type { AskQuery, ColumnTable, Column, QueryData, StringColumn, TimeSeries } from './types.js';

export interface Frame {
  batchIndex: number;
  table: Table;
}

const utf8 = new TextDecoder();

function partOf(table: Table): string {
  return table.schema.metadata.get(PART_METADATA_KEY) ?? '';
}

function ordered(frames: Frame[], part?: string): Table[] {
  return [...frames]
    .filter((f) => part === undefined || partOf(f.table) === part)
    .sort((a, b) => a.batchIndex - b.batchIndex)
    .map((f) => f.table);
}

function hasColumn(table: Table, name: string): boolean {
  return table.schema.fields.some((f) => f.name === name);
}

function requireColumns(tables: Table[], names: readonly string[]): void {
  for (const table of tables) {
    if (table.numRows === 0) continue;
    for (const name of names) {
      if (!hasColumn(table, name)) {
        throw new Error(`the answer has no "${name}" column (columns: ${table.schema.fields.map((f) => f.name).join(', ')})`);
      }
    }
  }
}

/** A numeric vector as a fresh Float64Array (nulls become NaN). */
function numbers(column: Vector, out: Float64Array, at: number): void {
  const n = column.length;
  if (DataType.isFloat(column.type) && column.nullCount === 0) {
    const values = column.toArray();
    if (values instanceof Float64Array) {
      out.set(values, at);
      return;
    }
  }
  if ((DataType.isInt(column.type) || DataType.isFloat(column.type)) && column.nullCount === 0 && column.data.length === 1) {
    const values = column.data[0]!.values as ArrayLike<number | bigint>;
    if (typeof values[0] === 'bigint') for (let i = 0; i < n; i++) out[at + i] = Number(values[i]);
    else for (let i = 0; i < n; i++) out[at + i] = values[i] as number;
    return;
  }
  for (let i = 0; i < n; i++) {
    const v: unknown = column.get(i);
    out[at + i] = v === null || v === undefined ? Number.NaN : typeof v === 'bigint' ? Number(v) : Number(v);
  }
}

function isStringType(type: DataType): boolean {
  return DataType.isUtf8(type) || DataType.isLargeUtf8(type) || DataType.isDictionary(type);
}

/** Dictionary-codes a string column across batches: one JS string per distinct value. */
class StringCoder {
  readonly dict: string[] = [];
  private readonly index = new Map<string, number>();
  code(value: unknown): number {
    if (value === null || value === undefined) return -1;
    const s = String(value);
    let c = this.index.get(s);
    if (c === undefined) {
      c = this.dict.length;
      this.dict.push(s);
      this.index.set(s, c);
    }
    return c;
  }
}

function strings(column: Vector, coder: StringCoder, out: Int32Array, at: number): void {
  const only: Data | undefined = column.data.length === 1 ? column.data[0] : undefined;
  if (only && only.nullCount === 0 && DataType.isUtf8(only.type)) {
    // Decode each distinct byte string once: runs of equal values are common (run_id, side, tag).
    const offsets = only.valueOffsets as Int32Array;
    const bytes = only.values as Uint8Array;
    let prevStart = -1;
    let prevEnd = -1;
    let prevCode = -1;
    for (let i = 0; i < column.length; i++) {
      const s = offsets[i]!;
      const e = offsets[i + 1]!;
      if (prevStart >= 0 && e - s === prevEnd - prevStart && sameBytes(bytes, s, prevStart, e - s)) {
        out[at + i] = prevCode;
        continue;
      }
      prevCode = coder.code(utf8.decode(bytes.subarray(s, e)));
      prevStart = s;
      prevEnd = e;
      out[at + i] = prevCode;
    }
    return;
  }
  for (let i = 0; i < column.length; i++) out[at + i] = coder.code(column.get(i));
}

function sameBytes(bytes: Uint8Array, a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}

/** Every batch of an answer (or of one part of it) as one column table. */
export function columnTable(tables: Table[]): ColumnTable {
  const nonEmpty = tables.filter((t) => t.numRows > 0);
  const length = nonEmpty.reduce((n, t) => n + t.numRows, 0);
  const first = tables[0];
  const columns: Record<string, Column> = {};
  if (!first) return { length: 0, columns };
  for (const field of first.schema.fields) {
    if (isStringType(field.type)) {
      const coder = new StringCoder();
      const codes = new Int32Array(length);
      let at = 0;
      for (const t of nonEmpty) {
        for (const batch of t.batches) {
          const col = batch.getChild(field.name);
          if (col) strings(col, coder, codes, at);
          at += batch.numRows;
        }
      }
      columns[field.name] = { codes, dict: coder.dict } satisfies StringColumn;
    } else {
      const values = new Float64Array(length);
      let at = 0;
      for (const t of nonEmpty) {
        for (const batch of t.batches) {
          const col = batch.getChild(field.name);
          if (col) numbers(col, values, at);
          else values.fill(Number.NaN, at, at + batch.numRows);
          at += batch.numRows;
        }
      }
      columns[field.name] = values;
    }
  }
  return { length, columns };
}

// ---------------------------------------------------------------------------------------------
// Time series: per-run, aligned on one x axis

interface RunParts {
  runId: string;
  length: number;
  ts: Float64Array[];
  values: Float64Array[][];
}

function concat(chunks: Float64Array[], length: number, scale = 1): Float64Array {
  const out = new Float64Array(length);
  let at = 0;
  for (const chunk of chunks) {
    if (scale === 1) out.set(chunk, at);
    else for (let i = 0; i < chunk.length; i++) out[at + i] = chunk[i]! * scale;
    at += chunk.length;
  }
  return out;
}

/** Resamples `y` (at `xs`, ascending) onto `grid`: exact where they meet, linear between, NaN outside. */
function resample(xs: Float64Array, y: Float64Array, grid: Float64Array): { values: Float64Array; gaps: boolean } {
  const out = new Float64Array(grid.length);
  let gaps = false;
  let j = 0;
  const n = xs.length;
  for (let i = 0; i < grid.length; i++) {
    const x = grid[i]!;
    while (j < n - 1 && xs[j + 1]! <= x) j++;
    const x0 = xs[j]!;
    if (n === 0 || x < x0 || x > xs[n - 1]!) {
      out[i] = Number.NaN;
      gaps = true;
    } else if (x === x0 || j === n - 1) {
      out[i] = y[j]!;
    } else {
      const x1 = xs[j + 1]!;
      out[i] = y[j]! + ((y[j + 1]! - y[j]!) * (x - x0)) / (x1 - x0);
    }
  }
  return { values: out, gaps };
}

export function alignRuns(runs: { runId: string; ts: Float64Array; values: Float64Array[] }[], names: readonly string[]): TimeSeries {
  const empty = (): TimeSeries => ({
    x: new Float64Array(0),
    runs: runs.map((r) => r.runId),
    values: Object.fromEntries(names.map((n) => [n, runs.map(() => new Float64Array(0))])),
    gapFree: true,
    points: 0,
  });
  if (runs.length === 0) return empty();
  const points = runs.reduce((n, r) => n + r.ts.length, 0);
  const first = runs[0]!;
  const same = runs.every((r) => r.ts.length === first.ts.length && r.ts.every((v, i) => v === first.ts[i]));
  if (same) {
    return {
      x: first.ts,
      runs: runs.map((r) => r.runId),
      values: Object.fromEntries(names.map((n, k) => [n, runs.map((r) => r.values[k]!)])),
      gapFree: true,
      points,
    };
  }
  const all = new Float64Array(points);
  let at = 0;
  for (const r of runs) {
    all.set(r.ts, at);
    at += r.ts.length;
  }
  all.sort();
  let unique = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[unique - 1]) all[unique++] = all[i]!;
  const x = all.slice(0, unique);
  let gapFree = true;
  const values: Record<string, Float64Array[]> = Object.fromEntries(names.map((n) => [n, [] as Float64Array[]]));
  for (const r of runs) {
    names.forEach((name, k) => {
      const { values: v, gaps } = resample(r.ts, r.values[k]!, x);
      if (gaps) gapFree = false;
      values[name]!.push(v);
    });
  }
  return { x, runs: runs.map((r) => r.runId), values, gapFree, points };
}

/** Per-run time series from batches with run_id, ts (epoch ms) and the value columns. */
export function timeSeries(tables: Table[], names: readonly string[]): TimeSeries {
  requireColumns(tables, ['run_id', 'ts', ...names]);
  const byRun = new Map<string, RunParts>();
  for (const table of tables) {
    for (const batch of table.batches) {
      if (batch.numRows === 0) continue;
      const n = batch.numRows;
      const ts = new Float64Array(n);
      numbers(batch.getChild('ts')!, ts, 0);
      const cols = names.map((name) => {
        const v = new Float64Array(n);
        numbers(batch.getChild(name)!, v, 0);
        return v;
      });
      const coder = new StringCoder();
      const codes = new Int32Array(n);
      strings(batch.getChild('run_id')!, coder, codes, 0);
      let start = 0;
      for (let i = 1; i <= n; i++) {
        if (i === n || codes[i] !== codes[start]) {
          const runId = coder.dict[codes[start]!] ?? '(none)';
          let entry = byRun.get(runId);
          if (!entry) {
            entry = { runId, length: 0, ts: [], values: names.map(() => []) };
            byRun.set(runId, entry);
          }
          entry.ts.push(ts.subarray(start, i));
          cols.forEach((c, k) => entry!.values[k]!.push(c.subarray(start, i)));
          entry.length += i - start;
          start = i;
        }
      }
    }
  }
  const runs = [...byRun.values()].map((r) => ({
    runId: r.runId,
    ts: concat(r.ts, r.length, 1 / 1000),
    values: r.values.map((chunks) => concat(chunks, r.length)),
  }));
  return alignRuns(runs, names);
}

export const SERIES_VALUE_COLUMNS = {
  equity: ['equity', 'drawdown'],
  exposure: ['gross', 'net', 'long', 'short'],
  series: ['price', 'position_qty', 'position_value', 'cum_pnl'],
} as const;

/** An answer's batches -> the data the UI receives for that query. */
export function decodeAnswer<Q extends AskQuery>(query: Q, frames: Frame[]): QueryData[Q] {
  switch (query) {
    case 'equity':
    case 'exposure':
      return timeSeries(ordered(frames), SERIES_VALUE_COLUMNS[query as 'equity' | 'exposure']) as QueryData[Q];
    case 'series': {
      const data = {
        points: timeSeries(ordered(frames, SERIES_PARTS.points), SERIES_VALUE_COLUMNS.series),
        trades: columnTable(ordered(frames, SERIES_PARTS.trades)),
      };
      return data as QueryData[Q];
    }
    case 'rundiff':
      return Object.fromEntries(RUNDIFF_PARTS.map((part) => [part, columnTable(ordered(frames, part))])) as QueryData[Q];
    default:
      return columnTable(ordered(frames)) as QueryData[Q];
  }
}

// ---------------------------------------------------------------------------------------------
// Buffers: size, copy for transfer

/** Every typed array in a value (plain objects and arrays walked). */
export function typedArrays(value: unknown, out: ArrayBufferView[] = []): ArrayBufferView[] {
  if (ArrayBuffer.isView(value)) out.push(value);
  else if (Array.isArray(value)) for (const v of value) typedArrays(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) typedArrays(v, out);
  return out;
}

/** Approximate bytes held by a decoded answer. */
export function sizeOf(value: unknown): number {
  let bytes = 256;
  const walk = (v: unknown) => {
    if (ArrayBuffer.isView(v)) bytes += v.byteLength;
    else if (typeof v === 'string') bytes += 2 * v.length + 16;
    else if (Array.isArray(v)) for (const x of v) walk(x);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) walk(x);
    else bytes += 8;
  };
  walk(value);
  return bytes;
}

/**
 * A copy whose typed arrays own fresh buffers (so the copy can be transferred while the cache
 * keeps the original), plus those buffers. Arrays that shared a buffer share it in the copy too.
 */
export function cloneForTransfer<T>(value: T): { value: T; buffers: ArrayBuffer[] } {
  const copies = new Map<ArrayBufferView, ArrayBufferView>();
  const buffers: ArrayBuffer[] = [];
  const copy = (v: unknown): unknown => {
    if (ArrayBuffer.isView(v)) {
      let c = copies.get(v);
      if (!c) {
        c = (v as unknown as Float64Array).slice();
        copies.set(v, c);
        buffers.push(c.buffer as ArrayBuffer);
      }
      return c;
    }
    if (Array.isArray(v)) return v.map(copy);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = copy(x);
      return out;
    }
    return v;
  };
  return { value: copy(value) as T, buffers };
}
