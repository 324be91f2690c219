// Results computed in the session process instead of SQL, where a single pass in JS beats
// DuckDB's window operators: cumulative P&L, drawdown and M4 downsampling over per-bar series of
// tens of thousands of rows. The SQL result is read as raw column buffers (no row objects), the
// pass runs over typed arrays, and the output is encoded to Arrow from typed arrays.
import bindings from '@duckdb/node-bindings';
import { DuckDBTypeId, type DuckDBDataChunk, type DuckDBType } from '@duckdb/node-api';
import { Field, Float64, Int32, RecordBatch, Schema, Struct, Table, Utf8, makeData, tableToIPC, type Data } from 'apache-arrow';

/** Numeric columns of a whole result: DOUBLE as Float64Array (NULL as NaN), integers as Int32Array. */
export type Columns = Map<string, Float64Array | Int32Array>;

/** Reads a result chunk by chunk (as DuckDB streams it) into one typed array per column. */
export class ColumnCollector {
  private readonly parts: { name: string; kind: 'f64' | 'i32'; chunks: (Float64Array | Int32Array)[] }[];
  private rows = 0;

  constructor(names: readonly string[], types: readonly DuckDBType[]) {
    this.parts = names.map((name, i) => {
      const id = types[i]!.typeId;
      if (id === DuckDBTypeId.DOUBLE) return { name, kind: 'f64' as const, chunks: [] };
      if (id === DuckDBTypeId.INTEGER) return { name, kind: 'i32' as const, chunks: [] };
      throw new Error(`column "${name}" has DuckDB type ${types[i]!.toString()}; computed results read DOUBLE and INTEGER`);
    });
  }

  append(chunk: DuckDBDataChunk): void {
    const rows = chunk.rowCount;
    if (rows === 0) return;
    const validityBytes = Math.ceil(rows / 64) * 8;
    this.parts.forEach((part, index) => {
      const vector = bindings.data_chunk_get_vector(chunk.chunk, index);
      const bytes = bindings.vector_get_data(vector, rows * (part.kind === 'f64' ? 8 : 4));
      const copy = part.kind === 'f64' ? new Float64Array(rows) : new Int32Array(rows);
      new Uint8Array(copy.buffer).set(bytes.subarray(0, copy.byteLength));
      const validity = bindings.vector_get_validity(vector, validityBytes);
      if (validity && part.kind === 'f64') markNulls(copy as Float64Array, rows, validity);
      part.chunks.push(copy);
    });
    this.rows += rows;
  }

  columns(): Columns {
    const out: Columns = new Map();
    for (const part of this.parts) {
      if (part.chunks.length === 1) {
        out.set(part.name, part.chunks[0]!);
        continue;
      }
      const all = part.kind === 'f64' ? new Float64Array(this.rows) : new Int32Array(this.rows);
      let at = 0;
      for (const chunk of part.chunks) {
        all.set(chunk as never, at);
        at += chunk.length;
      }
      out.set(part.name, all);
    }
    return out;
  }
}

/** Sets NaN where a DuckDB validity mask (one bit per row, 1 = valid) says NULL; skips whole valid bytes. */
function markNulls(values: Float64Array, rows: number, validity: Uint8Array): void {
  const bytes = Math.ceil(rows / 8);
  for (let b = 0; b < bytes; b++) {
    const mask = validity[b]!;
    if (mask === 0xff) continue;
    const end = Math.min(rows, b * 8 + 8);
    for (let i = b * 8; i < end; i++) if ((mask & (1 << (i & 7))) === 0) values[i] = Number.NaN;
  }
}

export type OutColumn =
  | { name: string; kind: 'f64'; values: Float64Array }
  | { name: string; kind: 'i32'; values: Int32Array }
  /** Strings given as an index into `names` (e.g. the run of each row); an index of -1 is null. */
  | { name: string; kind: 'utf8'; index: Int32Array; names: readonly string[] };

/** A text column from its values (null or undefined: null), each distinct text once in `names`. */
export function textColumn(name: string, values: readonly (string | null | undefined)[]): OutColumn {
  const names: string[] = [];
  const at = new Map<string, number>();
  const index = Int32Array.from(values, (value) => {
    if (value === null || value === undefined) return -1;
    return at.get(value) ?? (at.set(value, names.push(value) - 1), names.length - 1);
  });
  return { name, kind: 'utf8', index, names };
}

/** A DOUBLE column from its values (null or undefined: null, as NaN). */
export function numberColumn(name: string, values: readonly (number | null | undefined)[]): OutColumn {
  return { name, kind: 'f64', values: Float64Array.from(values, (value) => (value === null || value === undefined ? Number.NaN : value)) };
}

/** Encodes computed columns as one self-contained Arrow IPC stream. NaN doubles become nulls. */
export function encodeColumns(columns: readonly OutColumn[], metadata?: ReadonlyMap<string, string>): Uint8Array {
  const length = columns.length === 0 ? 0 : columns[0]!.kind === 'utf8' ? (columns[0] as { index: Int32Array }).index.length : (columns[0] as { values: ArrayLike<number> }).values.length;
  const fields: Field[] = [];
  const children: Data[] = columns.map((column) => {
    let data: Data;
    switch (column.kind) {
      case 'f64': {
        const { nullBitmap, nullCount } = nanValidity(column.values);
        data = makeData({ type: new Float64(), length, nullCount, nullBitmap, data: column.values });
        break;
      }
      case 'i32':
        data = makeData({ type: new Int32(), length, nullCount: 0, data: column.values });
        break;
      case 'utf8': {
        const encoder = new TextEncoder();
        const encoded = column.names.map((n) => encoder.encode(n));
        const valueOffsets = new Int32Array(length + 1);
        let total = 0;
        let nulls = 0;
        for (let i = 0; i < length; i++) {
          const k = column.index[i]!;
          if (k < 0) nulls++;
          valueOffsets[i + 1] = total += k < 0 ? 0 : encoded[k]!.length;
        }
        const bytes = new Uint8Array(total);
        for (let i = 0; i < length; i++) if (column.index[i]! >= 0) bytes.set(encoded[column.index[i]!]!, valueOffsets[i]!);
        let nullBitmap: Uint8Array | undefined;
        if (nulls > 0) {
          nullBitmap = new Uint8Array(Math.ceil(length / 8));
          for (let i = 0; i < length; i++) if (column.index[i]! >= 0) nullBitmap[i >> 3]! |= 1 << (i & 7);
        }
        data = makeData({ type: new Utf8(), length, nullCount: nulls, valueOffsets, data: bytes, ...(nullBitmap ? { nullBitmap } : {}) });
        break;
      }
    }
    fields.push(new Field(column.name, data.type, data.nullCount > 0));
    return data;
  });
  const schema = new Schema(fields, metadata ? new Map(metadata) : undefined);
  const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length, nullCount: 0, children }));
  return tableToIPC(new Table(schema, [batch]), 'stream');
}

function nanValidity(values: Float64Array): { nullBitmap: Uint8Array | undefined; nullCount: number } {
  let nulls = 0;
  for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i]!)) nulls++;
  if (nulls === 0) return { nullBitmap: undefined, nullCount: 0 };
  const bitmap = new Uint8Array(Math.ceil(values.length / 8));
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i]!)) bitmap[i >> 3]! |= 1 << (i & 7);
  return { nullBitmap: bitmap, nullCount: nulls };
}

/** Row order by (run index, t): indexes of the rows sorted, or null if they already are. */
export function sortedOrder(run: Int32Array, t: Float64Array): Uint32Array | null {
  let sorted = true;
  for (let i = 1; i < t.length && sorted; i++) sorted = run[i - 1]! < run[i]! || (run[i - 1] === run[i] && t[i - 1]! <= t[i]!);
  if (sorted) return null;
  const order = new Uint32Array(t.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => run[a]! - run[b]! || t[a]! - t[b]!);
  return order;
}

/** Reorders columns by `order` (from sortedOrder). */
export function reorder<T extends Float64Array | Int32Array>(values: T, order: Uint32Array | null): T {
  if (!order) return values;
  const out = new (values.constructor as new (n: number) => T)(values.length);
  for (let i = 0; i < order.length; i++) out[i] = values[order[i]!]!;
  return out;
}

/**
 * The (run index, time) columns of a bar-level answer in (run, time) order, with the order that
 * gets them there (null when already sorted) to apply to the answer's other columns.
 */
export function byRunAndTime(columns: Columns): { order: Uint32Array | null; run: Int32Array; t: Float64Array } {
  const ri = columns.get('ri') as Int32Array;
  const ts = columns.get('t') as Float64Array;
  const order = sortedOrder(ri, ts);
  return { order, run: reorder(ri, order), t: reorder(ts, order) };
}

/**
 * M4 over rows sorted by (run, x), x being the chart's horizontal axis (trading time,
 * shared/trading-time.ts): pixel columns shared by every run (px = min(floor((x - x0) / span *
 * width), width - 1) with x0, span over all rows). Keeps, per run and pixel column, the first and
 * last row and the rows of each series' minimum and maximum (the first such row on ties). Returns
 * the kept row indexes, ascending.
 */
export function m4(run: Int32Array, x: Float64Array, series: readonly Float64Array[], width: number): Uint32Array {
  const n = x.length;
  if (n === 0) return new Uint32Array(0);
  let x0 = Infinity;
  let x1 = -Infinity;
  for (let i = 0; i < n; i++) {
    if (x[i]! < x0) x0 = x[i]!;
    if (x[i]! > x1) x1 = x[i]!;
  }
  const span = Math.max(x1 - x0, 1);
  const keep = new Uint8Array(n);
  // The pixel column of every row first, then one series at a time over each column's rows: tight
  // loops over one typed array each, which is what V8 compiles best.
  const px = new Int32Array(n);
  for (let i = 0; i < n; i++) px[i] = Math.min(Math.floor(((x[i]! - x0) / span) * width), width - 1);
  const columnEnds: number[] = [];
  for (let start = 0; start < n; ) {
    // One pixel column of one run: rows start..end-1.
    let end = start + 1;
    while (end < n && run[end] === run[start] && px[end] === px[start]) end++;
    keep[start] = 1;
    keep[end - 1] = 1;
    columnEnds.push(end);
    start = end;
  }
  for (const values of series) {
    let start = 0;
    for (const end of columnEnds) {
      let lo = -1;
      let hi = -1;
      let min = Infinity;
      let max = -Infinity;
      for (let i = start; i < end; i++) {
        const v = values[i]!;
        // NaN fails both comparisons, so NULLs are never kept as extremes; ties keep the first.
        if (v < min || (lo < 0 && v === Infinity)) (min = v), (lo = i);
        if (v > max || (hi < 0 && v === -Infinity)) (max = v), (hi = i);
      }
      if (lo >= 0) keep[lo] = 1;
      if (hi >= 0) keep[hi] = 1;
      start = end;
    }
  }
  let count = 0;
  for (let i = 0; i < n; i++) count += keep[i]!;
  const out = new Uint32Array(count);
  for (let i = 0, j = 0; i < n; i++) if (keep[i]) out[j++] = i;
  return out;
}

/** Values at the kept indexes. */
export function pick<T extends Float64Array | Int32Array>(values: T, kept: Uint32Array): T {
  const out = new (values.constructor as new (n: number) => T)(kept.length);
  for (let i = 0; i < kept.length; i++) out[i] = values[kept[i]!]!;
  return out;
}

/** Running sum per run (rows sorted by run), NaN counted as 0. */
export function cumulative(run: Int32Array, values: Float64Array): Float64Array {
  const out = new Float64Array(values.length);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    if (i > 0 && run[i] !== run[i - 1]) sum = 0;
    const v = values[i]!;
    sum += Number.isNaN(v) ? 0 : v;
    out[i] = sum;
  }
  return out;
}

/** Drawdown of a cumulative P&L per run: equity - max(0, running max of equity). */
export function drawdown(run: Int32Array, equity: Float64Array): Float64Array {
  const out = new Float64Array(equity.length);
  let peak = 0;
  for (let i = 0; i < equity.length; i++) {
    if (i > 0 && run[i] !== run[i - 1]) peak = 0;
    if (equity[i]! > peak) peak = equity[i]!;
    out[i] = equity[i]! - peak;
  }
  return out;
}
