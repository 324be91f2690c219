// Arrow IPC input (file and stream format). DuckDB has no Arrow reader here (no extensions can be
// installed), so the files are read with apache-arrow one record batch at a time and appended into
// a DuckDB staging table in data chunks of 2,048 rows: fixed-width columns and null bitmaps are
// copied as raw bytes (Arrow's validity bitmap is bit-for-bit DuckDB's validity mask), strings
// value by value. Only the columns the store needs are staged. Memory stays at one record batch.

import { open, type FileHandle } from 'node:fs/promises';
import duckdb from '@duckdb/node-bindings';
import {
  BIGINT,
  BLOB,
  BOOLEAN,
  DATE,
  DOUBLE,
  DuckDBDataChunk,
  FLOAT,
  INTEGER,
  SMALLINT,
  TIMESTAMP,
  TIMESTAMP_MS,
  TIMESTAMP_NS,
  TIMESTAMP_S,
  TINYINT,
  UBIGINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
  type DuckDBConnection,
  type DuckDBType,
} from '@duckdb/node-api';
import { DataType, RecordBatchReader, type Data, type Schema } from 'apache-arrow';
import { errorMessage } from '../../../shared/errors.js';
import { sqlIdent } from '../../sql/text.js';
import './codecs.js';
import { schemaProblem } from './schema-check.js';
import type { ColumnInfo } from '../column-types.js';
import { PrepareError } from '../errors.js';
import type { DataFile } from '../inputs/index.js';

type Plan =
  | { kind: 'raw'; width: number }
  | { kind: 'bool' }
  | { kind: 'f16' }
  | { kind: 'utf8' }
  | { kind: 'binary' }
  | { kind: 'view' }
  | { kind: 'fixed-binary'; width: number }
  | { kind: 'null' }
  | { kind: 'dict'; value: Plan; valueType: DataType };

interface Mapped {
  duck: DuckDBType;
  typeName: string;
  zone: string | null;
  plan: Plan;
}

const TIME_UNIT_TYPES: [DuckDBType, string][] = [
  [TIMESTAMP_S, 'TIMESTAMP_S'],
  [TIMESTAMP_MS, 'TIMESTAMP_MS'],
  [TIMESTAMP, 'TIMESTAMP'],
  [TIMESTAMP_NS, 'TIMESTAMP_NS'],
];

function mapType(type: DataType): Mapped | string {
  if (DataType.isNull(type)) return { duck: INTEGER, typeName: 'NULL', zone: null, plan: { kind: 'null' } };
  if (DataType.isInt(type)) {
    const t = type as unknown as { bitWidth: number; isSigned: boolean };
    const table: Record<string, [DuckDBType, string]> = {
      '8s': [TINYINT, 'TINYINT'],
      '16s': [SMALLINT, 'SMALLINT'],
      '32s': [INTEGER, 'INTEGER'],
      '64s': [BIGINT, 'BIGINT'],
      '8u': [UTINYINT, 'UTINYINT'],
      '16u': [USMALLINT, 'USMALLINT'],
      '32u': [UINTEGER, 'UINTEGER'],
      '64u': [UBIGINT, 'UBIGINT'],
    };
    const m = table[`${t.bitWidth}${t.isSigned ? 's' : 'u'}`];
    if (!m) return `Arrow ${String(type)}`;
    return { duck: m[0], typeName: m[1], zone: null, plan: { kind: 'raw', width: t.bitWidth / 8 } };
  }
  if (DataType.isFloat(type)) {
    const precision = (type as unknown as { precision: number }).precision;
    if (precision === 0) return { duck: FLOAT, typeName: 'FLOAT', zone: null, plan: { kind: 'f16' } };
    if (precision === 1) return { duck: FLOAT, typeName: 'FLOAT', zone: null, plan: { kind: 'raw', width: 4 } };
    return { duck: DOUBLE, typeName: 'DOUBLE', zone: null, plan: { kind: 'raw', width: 8 } };
  }
  if (DataType.isBool(type)) return { duck: BOOLEAN, typeName: 'BOOLEAN', zone: null, plan: { kind: 'bool' } };
  if (DataType.isUtf8(type) || DataType.isLargeUtf8(type)) return { duck: VARCHAR, typeName: 'VARCHAR', zone: null, plan: { kind: 'utf8' } };
  if (DataType.isBinary(type) || DataType.isLargeBinary(type)) return { duck: BLOB, typeName: 'BLOB', zone: null, plan: { kind: 'binary' } };
  // Views (Arrow 1.4's Utf8View and BinaryView) are what polars writes for every text column.
  if (DataType.isUtf8View(type)) return { duck: VARCHAR, typeName: 'VARCHAR', zone: null, plan: { kind: 'view' } };
  if (DataType.isBinaryView(type)) return { duck: BLOB, typeName: 'BLOB', zone: null, plan: { kind: 'view' } };
  if (DataType.isFixedSizeBinary(type)) {
    return { duck: BLOB, typeName: 'BLOB', zone: null, plan: { kind: 'fixed-binary', width: (type as unknown as { byteWidth: number }).byteWidth } };
  }
  if (DataType.isDate(type)) {
    const unit = (type as unknown as { unit: number }).unit; // 0 = DAY (int32 days), 1 = MILLISECOND (int64 ms)
    return unit === 0
      ? { duck: DATE, typeName: 'DATE', zone: null, plan: { kind: 'raw', width: 4 } }
      : { duck: TIMESTAMP_MS, typeName: 'TIMESTAMP_MS', zone: null, plan: { kind: 'raw', width: 8 } };
  }
  if (DataType.isTimestamp(type)) {
    const t = type as unknown as { unit: number; timezone?: string | null };
    const m = TIME_UNIT_TYPES[t.unit];
    if (!m) return `Arrow ${String(type)}`;
    return { duck: m[0], typeName: m[1], zone: t.timezone ? t.timezone : null, plan: { kind: 'raw', width: 8 } };
  }
  if (DataType.isDictionary(type)) {
    const t = type as unknown as { dictionary: DataType };
    const inner = mapType(t.dictionary);
    if (typeof inner === 'string') return inner;
    return { ...inner, plan: { kind: 'dict', value: inner.plan, valueType: t.dictionary } };
  }
  return `Arrow ${String(type)}`;
}

async function openReader(file: DataFile) {
  const fh = await open(file.path, 'r');
  try {
    const reader = await RecordBatchReader.from(fh);
    await reader.open();
    // apache-arrow does not validate the schema message; a damaged one is refused here, by name.
    const problem = schemaProblem(reader.schema);
    if (problem) throw new Error(`its schema is malformed (a damaged file?): ${problem}`);
    return { reader, fh };
  } catch (err) {
    await closeReadOnly(fh);
    throw err;
  }
}

/**
 * Closes a file that was only read. A failed close loses no data, and the read's own error, if
 * there is one, is the one to report; so a failed close is ignored.
 */
async function closeReadOnly(fh: FileHandle): Promise<void> {
  await fh.close().catch(() => {});
}

function arrowError(file: DataFile, err: unknown): PrepareError {
  return new PrepareError(`Arrow IPC input ${file.path} cannot be read: ${errorMessage(err)}`, { cause: err });
}

/** The columns of an Arrow IPC file (schema only; no record batch is read). */
export async function readArrowSchema(file: DataFile): Promise<ColumnInfo[]> {
  let opened;
  try {
    opened = await openReader(file);
  } catch (err) {
    throw arrowError(file, err);
  }
  try {
    return schemaColumns(opened.reader.schema);
  } finally {
    await closeReadOnly(opened.fh);
  }
}

function schemaColumns(schema: Schema): ColumnInfo[] {
  return schema.fields.map((f) => {
    const m = mapType(f.type);
    return typeof m === 'string'
      ? { name: f.name, type: 'UNSUPPORTED', unsupported: m }
      : { name: f.name, type: m.typeName, zone: m.zone };
  });
}

const encoder = new TextEncoder();

/** Writes rows [start, start + n) of `data` into DuckDB vector `vec`. */
function writeColumn(vec: duckdb.Vector, data: Data, plan: Plan, start: number, n: number): void {
  const off = data.offset + start;
  // Validity (Arrow bitmap: bit i of byte i>>3, LSB first = DuckDB's uint64 little-endian mask).
  // It is written with copy_data_to_vector_validity: vector_get_validity hands back a copy.
  const bitmap = data.nullBitmap as Uint8Array | undefined;
  const hasNulls = data.nullCount > 0 && bitmap !== undefined && bitmap.byteLength > 0;
  let valid: Uint8Array | null = null; // built only when the bitmap must be shifted or edited
  const writeValidity = (bytes: Uint8Array, byteOffset = 0) => {
    duckdb.vector_ensure_validity_writable(vec);
    duckdb.copy_data_to_vector_validity(vec, 0, bytes.buffer as ArrayBuffer, bytes.byteOffset + byteOffset, Math.ceil(n / 8));
  };
  if (plan.kind === 'null') {
    writeValidity(new Uint8Array(Math.ceil(n / 8)));
    return;
  }
  const needsEdit = plan.kind === 'dict';
  if (hasNulls && off % 8 === 0 && !needsEdit) writeValidity(bitmap, off / 8);
  else if (hasNulls || needsEdit) {
    valid = new Uint8Array(Math.ceil(n / 8)).fill(0xff);
    if (hasNulls) {
      for (let i = 0; i < n; i++) {
        const bit = off + i;
        if (((bitmap[bit >> 3]! >> (bit & 7)) & 1) === 0) valid[i >> 3]! &= ~(1 << (i & 7));
      }
    }
  }
  const isValid = (i: number) => !hasNulls || ((bitmap[(off + i) >> 3]! >> ((off + i) & 7)) & 1) === 1;
  switch (plan.kind) {
    case 'raw': {
      if (valid) writeValidity(valid);
      const values = data.values as ArrayBufferView;
      duckdb.copy_data_to_vector(vec, 0, values.buffer as ArrayBuffer, values.byteOffset + off * plan.width, n * plan.width);
      return;
    }
    case 'bool': {
      if (valid) writeValidity(valid);
      const bits = data.values as Uint8Array;
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = (bits[(off + i) >> 3]! >> ((off + i) & 7)) & 1;
      duckdb.copy_data_to_vector(vec, 0, out.buffer, 0, n);
      return;
    }
    case 'f16': {
      if (valid) writeValidity(valid);
      const halves = data.values as Uint16Array;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(halves[off + i]!);
      duckdb.copy_data_to_vector(vec, 0, out.buffer, 0, n * 4);
      return;
    }
    case 'utf8':
    case 'binary': {
      if (valid) writeValidity(valid);
      const offsets = data.valueOffsets as Int32Array | BigInt64Array;
      const bytes = data.values as Uint8Array;
      for (let i = 0; i < n; i++) {
        if (!isValid(i)) continue;
        const a = Number(offsets[off + i]!);
        const b = Number(offsets[off + i + 1]!);
        duckdb.vector_assign_string_element_len(vec, i, bytes.subarray(a, b));
      }
      return;
    }
    case 'view': {
      // 16 bytes per value: its length, then up to 12 bytes inline, or a prefix, the index of the
      // data buffer holding it and its offset there (Arrow's columnar format, "variable-size
      // binary view layout").
      if (valid) writeValidity(valid);
      const views = data.values as Uint8Array;
      const view = new DataView(views.buffer, views.byteOffset, views.byteLength);
      const buffers = data.variadicBuffers;
      for (let i = 0; i < n; i++) {
        if (!isValid(i)) continue;
        const at = (off + i) * 16;
        const size = view.getInt32(at, true);
        if (size <= 12) {
          duckdb.vector_assign_string_element_len(vec, i, views.subarray(at + 4, at + 4 + Math.max(0, size)));
          continue;
        }
        const buffer = buffers[view.getInt32(at + 8, true)];
        if (!buffer) throw new Error(`a view of value ${off + i} names data buffer ${view.getInt32(at + 8, true)}, of ${buffers.length}`);
        const start = view.getInt32(at + 12, true);
        duckdb.vector_assign_string_element_len(vec, i, buffer.subarray(start, start + size));
      }
      return;
    }
    case 'fixed-binary': {
      if (valid) writeValidity(valid);
      const bytes = data.values as Uint8Array;
      for (let i = 0; i < n; i++) {
        if (!isValid(i)) continue;
        const a = (off + i) * plan.width;
        duckdb.vector_assign_string_element_len(vec, i, bytes.subarray(a, a + plan.width));
      }
      return;
    }
    case 'dict': {
      const keys = data.values as ArrayLike<number | bigint>;
      const dict = data.dictionary;
      if (!dict) throw new Error('dictionary-encoded column without a dictionary');
      const inner = plan.value;
      if (inner.kind === 'utf8' || inner.kind === 'binary' || inner.kind === 'view' || inner.kind === 'fixed-binary') {
        const cache = new Map<number, Uint8Array | null>();
        for (let i = 0; i < n; i++) {
          if (!isValid(i)) continue;
          const k = Number(keys[off + i]!);
          let v = cache.get(k);
          if (v === undefined) {
            const raw: unknown = dict.get(k);
            v = raw == null ? null : raw instanceof Uint8Array ? raw : encoder.encode(String(raw));
            cache.set(k, v);
          }
          if (v === null) valid![i >> 3]! &= ~(1 << (i & 7));
          else duckdb.vector_assign_string_element_len(vec, i, v);
        }
        writeValidity(valid!);
        return;
      }
      if (inner.kind === 'raw' || inner.kind === 'f16' || inner.kind === 'bool') {
        // Decode into the value type's layout, then copy as raw bytes.
        const dictData = dict.data[0];
        if (!dictData || dict.data.length !== 1) throw new Error('dictionary with several chunks is not supported');
        const width = inner.kind === 'raw' ? inner.width : inner.kind === 'f16' ? 4 : 1;
        const out = new Uint8Array(n * width);
        const tmp = new Uint8Array(width);
        const dictBitmap = dictData.nullCount > 0 ? (dictData.nullBitmap as Uint8Array) : null;
        for (let i = 0; i < n; i++) {
          if (!isValid(i)) continue;
          const k = Number(keys[off + i]!);
          const dk = dictData.offset + k;
          if (dictBitmap && ((dictBitmap[dk >> 3]! >> (dk & 7)) & 1) === 0) {
            valid![i >> 3]! &= ~(1 << (i & 7));
            continue;
          }
          if (inner.kind === 'raw') {
            const vals = dictData.values as ArrayBufferView;
            out.set(new Uint8Array(vals.buffer, vals.byteOffset + (dictData.offset + k) * width, width), i * width);
          } else if (inner.kind === 'f16') {
            new DataView(tmp.buffer).setFloat32(0, halfToFloat((dictData.values as Uint16Array)[dictData.offset + k]!), true);
            out.set(tmp, i * width);
          } else {
            const bit = dictData.offset + k;
            out[i] = ((dictData.values as Uint8Array)[bit >> 3]! >> (bit & 7)) & 1;
          }
        }
        duckdb.copy_data_to_vector(vec, 0, out.buffer, 0, out.byteLength);
        writeValidity(valid!);
        return;
      }
      throw new Error(`dictionary of ${String(plan.valueType)} is not supported`);
    }
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

export interface StageOptions {
  /** Source columns to stage (by name, as in the file); hive keys come from the path. */
  columns: readonly string[];
  hiveKeys: readonly string[];
  onRows?: (rowsSoFar: number) => void;
}

/**
 * Creates TEMP table `table` and appends the given columns of every file into it. Files must share
 * the staged columns' Arrow types (checked by the caller's schema comparison; a file that differs
 * is refused here by name). Returns the number of rows staged.
 */
export async function stageArrowFiles(con: DuckDBConnection, table: string, files: readonly DataFile[], opts: StageOptions): Promise<number> {
  if (files.length === 0) throw new Error('stageArrowFiles: no files');
  const first = await readArrowSchema(files[0]!);
  const byName = new Map(first.map((c) => [c.name, c] as const));
  const cols = opts.columns.map((name) => {
    const c = byName.get(name);
    if (!c) throw new PrepareError(`Arrow IPC input ${files[0]!.path}: column '${name}' is missing`);
    if (c.unsupported) throw new PrepareError(`Arrow IPC input ${files[0]!.path}: column '${name}' has type ${c.unsupported}, which preparation does not read`);
    return c;
  });
  const defs = [
    ...cols.map((c) => `${sqlIdent(c.name)} ${c.type === 'NULL' ? 'INTEGER' : c.type}`),
    ...opts.hiveKeys.map((k) => `${sqlIdent(k)} VARCHAR`),
  ];
  await con.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdent(table)} (${defs.join(', ')})`);
  const appender = await con.createAppender(table, 'main', 'temp');
  const vectorSize = duckdb.vector_size();
  let rows = 0;
  try {
    for (const file of files) {
      let opened;
      try {
        opened = await openReader(file);
      } catch (err) {
        throw arrowError(file, err);
      }
      const { reader, fh } = opened;
      try {
        const fields = reader.schema.fields;
        const plans = cols.map((c) => {
          const idx = fields.findIndex((f) => f.name === c.name);
          if (idx < 0) throw new PrepareError(`Arrow IPC input ${file.path}: column '${c.name}' is missing (it is in ${files[0]!.path})`);
          const m = mapType(fields[idx]!.type);
          if (typeof m === 'string' || m.typeName !== c.type) {
            throw new PrepareError(
              `Arrow IPC input ${file.path}: column '${c.name}' is ${typeof m === 'string' ? m : m.typeName} here but ${c.type} in ${files[0]!.path}; files of one table must share a schema`,
            );
          }
          return { idx, m };
        });
        const types = [...plans.map((p) => p.m.duck), ...opts.hiveKeys.map(() => VARCHAR)];
        const hiveValues = opts.hiveKeys.map((k) => file.hive[k] ?? null);
        for await (const batch of reader) {
          for (let start = 0; start < batch.numRows; start += vectorSize) {
            const n = Math.min(vectorSize, batch.numRows - start);
            const chunk = DuckDBDataChunk.create(types);
            chunk.rowCount = n;
            plans.forEach((p, c) => {
              const data = batch.data.children[p.idx] as Data;
              writeColumn(duckdb.data_chunk_get_vector(chunk.chunk, c), data, p.m.plan, start, n);
            });
            hiveValues.forEach((v, h) => {
              const vec = duckdb.data_chunk_get_vector(chunk.chunk, plans.length + h);
              if (v === null) {
                duckdb.vector_ensure_validity_writable(vec);
                const zeros = new Uint8Array(Math.ceil(n / 8));
                duckdb.copy_data_to_vector_validity(vec, 0, zeros.buffer, 0, zeros.byteLength);
              } else for (let i = 0; i < n; i++) duckdb.vector_assign_string_element(vec, i, v);
            });
            appender.appendDataChunk(chunk);
            rows += n;
          }
          opts.onRows?.(rows);
        }
      } catch (err) {
        if (err instanceof PrepareError) throw err;
        throw arrowError(file, err);
      } finally {
        await closeReadOnly(fh);
      }
    }
    appender.flushSync();
  } finally {
    try {
      appender.closeSync();
    } catch {
      // Closing after a failed append fails too: the append's error is the one thrown, and the
      // table is dropped with the build.
    }
  }
  return rows;
}
