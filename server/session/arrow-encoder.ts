// Turns DuckDB result chunks into Arrow IPC streams without materialising row objects: each
// fixed-width column is copied as raw bytes out of DuckDB's vector into the Arrow buffer, and
// DuckDB's validity mask (64-bit words, bit i = row i valid) is bit-for-bit Arrow's null bitmap.
import bindings from '@duckdb/node-bindings';
import { DuckDBTypeId, type DuckDBDataChunk, type DuckDBType } from '@duckdb/node-api';
import {
  Bool,
  DateDay,
  Field,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  Utf8,
  makeData,
  tableToIPC,
  vectorFromArray,
  type Data,
  type DataType,
} from 'apache-arrow';

type TypedArrayCtor =
  | Float64ArrayConstructor
  | Float32ArrayConstructor
  | BigInt64ArrayConstructor
  | Int32ArrayConstructor
  | Int16ArrayConstructor
  | Int8ArrayConstructor;

interface FixedWidthColumn {
  kind: 'fixed';
  arrow: DataType;
  ctor: TypedArrayCtor;
  values: ArrayBufferView[];
}
interface BoolColumn {
  kind: 'bool';
  values: Uint8Array[];
}
interface Utf8Column {
  kind: 'utf8';
  values: (string | null)[];
}
type ColumnBuffer = (FixedWidthColumn | BoolColumn | Utf8Column) & {
  name: string;
  /** Per appended chunk: its row count and a copy of its validity words, or null if all valid. */
  validity: { rows: number; words: Uint8Array | null }[];
};

function fixed(arrow: DataType, ctor: TypedArrayCtor): Omit<FixedWidthColumn, 'values'> {
  return { kind: 'fixed', arrow, ctor };
}

function columnFor(name: string, type: DuckDBType): ColumnBuffer {
  const base = { name, validity: [] };
  switch (type.typeId) {
    case DuckDBTypeId.DOUBLE:
      return { ...base, ...fixed(new Float64(), Float64Array), values: [] };
    case DuckDBTypeId.FLOAT:
      return { ...base, ...fixed(new Float32(), Float32Array), values: [] };
    case DuckDBTypeId.BIGINT:
      return { ...base, ...fixed(new Int64(), BigInt64Array), values: [] };
    case DuckDBTypeId.INTEGER:
      return { ...base, ...fixed(new Int32(), Int32Array), values: [] };
    case DuckDBTypeId.SMALLINT:
      return { ...base, ...fixed(new Int16(), Int16Array), values: [] };
    case DuckDBTypeId.TINYINT:
      return { ...base, ...fixed(new Int8(), Int8Array), values: [] };
    case DuckDBTypeId.DATE:
      return { ...base, ...fixed(new DateDay(), Int32Array), values: [] };
    case DuckDBTypeId.TIMESTAMP:
      return { ...base, ...fixed(new TimestampMicrosecond(), BigInt64Array), values: [] };
    case DuckDBTypeId.BOOLEAN:
      return { ...base, kind: 'bool', values: [] };
    case DuckDBTypeId.VARCHAR:
      return { ...base, kind: 'utf8', values: [] };
    default:
      throw new Error(
        `column "${name}" has DuckDB type ${type.toString()}, which the Arrow encoder does not carry; ` +
          'cast it in the query (e.g. to DOUBLE or VARCHAR)',
      );
  }
}

export class ArrowBatchEncoder {
  private readonly columns: ColumnBuffer[];
  private bufferedRows = 0;

  constructor(names: readonly string[], types: readonly DuckDBType[]) {
    this.columns = names.map((name, i) => columnFor(name, types[i]!));
  }

  get rows(): number {
    return this.bufferedRows;
  }

  /** Copies one chunk out of DuckDB; the chunk may be released afterwards. */
  append(chunk: DuckDBDataChunk): void {
    const rows = chunk.rowCount;
    if (rows === 0) return;
    const validityBytes = Math.ceil(rows / 64) * 8;
    this.columns.forEach((column, index) => {
      const vector = bindings.data_chunk_get_vector(chunk.chunk, index);
      const validity = bindings.vector_get_validity(vector, validityBytes);
      column.validity.push({ rows, words: validity ? Uint8Array.from(validity) : null });
      switch (column.kind) {
        case 'fixed': {
          const width = column.ctor.BYTES_PER_ELEMENT;
          const bytes = bindings.vector_get_data(vector, rows * width);
          const copy = new column.ctor(rows);
          new Uint8Array(copy.buffer).set(bytes.subarray(0, rows * width));
          column.values.push(copy);
          break;
        }
        case 'bool': {
          // DuckDB stores a byte per boolean; Arrow packs them into bits at flush time.
          column.values.push(Uint8Array.from(bindings.vector_get_data(vector, rows).subarray(0, rows)));
          break;
        }
        case 'utf8': {
          const strings = chunk.getColumnVector(index);
          for (let row = 0; row < rows; row++) column.values.push(strings.getItem(row) as string | null);
          break;
        }
      }
    });
    this.bufferedRows += rows;
  }

  /** Encodes the buffered rows as one self-contained Arrow IPC stream and clears the buffer. */
  flush(): Uint8Array {
    const length = this.bufferedRows;
    const fields: Field[] = [];
    const children: Data[] = this.columns.map((column) => {
      const { nullBitmap, nullCount } = concatValidity(column.validity, length);
      let data: Data;
      switch (column.kind) {
        case 'fixed':
          data = makeData({
            type: column.arrow,
            length,
            nullCount,
            nullBitmap,
            data: concatTyped(column.ctor, column.values as never[], length),
          } as never);
          break;
        case 'bool':
          data = makeData({ type: new Bool(), length, nullCount, nullBitmap, data: packBits(column.values, length) });
          break;
        case 'utf8':
          data = vectorFromArray(column.values, new Utf8()).data[0]!;
          break;
      }
      fields.push(new Field(column.name, data.type, nullCount > 0 || column.kind === 'utf8'));
      column.values = [] as never;
      column.validity = [];
      return data;
    });
    this.bufferedRows = 0;
    const schema = new Schema(fields);
    const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length, nullCount: 0, children }));
    return tableToIPC(new Table([batch]), 'stream');
  }
}

function concatTyped(ctor: TypedArrayCtor, parts: ArrayBufferView[], length: number): ArrayBufferView {
  if (parts.length === 1) return parts[0]!;
  const out = new ctor(length);
  let offset = 0;
  for (const part of parts) {
    (out as unknown as { set(p: ArrayBufferView, o: number): void }).set(part, offset);
    offset += (part as unknown as { length: number }).length;
  }
  return out;
}

function packBits(parts: Uint8Array[], length: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(length / 8));
  let row = 0;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++, row++) if (part[i]) bits[row >> 3]! |= 1 << (row & 7);
  }
  return bits;
}

function concatValidity(
  chunks: { rows: number; words: Uint8Array | null }[],
  length: number,
): { nullBitmap: Uint8Array | undefined; nullCount: number } {
  if (chunks.every((chunk) => chunk.words === null)) return { nullBitmap: undefined, nullCount: 0 };
  const bitmap = new Uint8Array(Math.ceil(length / 8));
  let row = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.rows; i++, row++) {
      const valid = chunk.words === null || (chunk.words[i >> 3]! & (1 << (i & 7))) !== 0;
      if (valid) bitmap[row >> 3]! |= 1 << (row & 7);
    }
  }
  let valid = 0;
  for (let i = 0; i < length; i++) if (bitmap[i >> 3]! & (1 << (i & 7))) valid++;
  return { nullBitmap: bitmap, nullCount: length - valid };
}
