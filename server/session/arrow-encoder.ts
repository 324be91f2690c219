// Turns DuckDB result chunks into Arrow IPC streams without materialising row objects: each
// fixed-width column is copied as raw bytes out of DuckDB's vector into the Arrow buffer, and
// DuckDB's validity mask (64-bit words, bit i = row i valid) is bit-for-bit Arrow's null bitmap.
// VARCHAR is read from DuckDB's 16-byte string structs directly: strings of up to 12 bytes are
// stored inline and copied as bytes; longer ones are read through their pointer. No JS string is
// created for any value.
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
interface Utf8Chunk {
  /** rows + 1 offsets, starting at 0. */
  offsets: Int32Array;
  data: Uint8Array;
}
interface Utf8Column {
  kind: 'utf8';
  values: Utf8Chunk[];
}
type ColumnBuffer = (FixedWidthColumn | BoolColumn | Utf8Column) & {
  name: string;
  /** Index of the column in the DuckDB chunk. */
  index: number;
  /** Per appended chunk: its row count and a copy of its validity words, or null if all valid. */
  validity: { rows: number; words: Uint8Array | null }[];
};

/** DuckDB types whose values are copied to Arrow as raw bytes: the Arrow type and the array that holds them. */
const FIXED_WIDTH = new Map<DuckDBTypeId, { arrow: DataType; ctor: TypedArrayCtor }>([
  [DuckDBTypeId.DOUBLE, { arrow: new Float64(), ctor: Float64Array }],
  [DuckDBTypeId.FLOAT, { arrow: new Float32(), ctor: Float32Array }],
  [DuckDBTypeId.BIGINT, { arrow: new Int64(), ctor: BigInt64Array }],
  [DuckDBTypeId.INTEGER, { arrow: new Int32(), ctor: Int32Array }],
  [DuckDBTypeId.SMALLINT, { arrow: new Int16(), ctor: Int16Array }],
  [DuckDBTypeId.TINYINT, { arrow: new Int8(), ctor: Int8Array }],
  [DuckDBTypeId.DATE, { arrow: new DateDay(), ctor: Int32Array }],
  [DuckDBTypeId.TIMESTAMP, { arrow: new TimestampMicrosecond(), ctor: BigInt64Array }],
]);

function columnFor(name: string, index: number, type: DuckDBType): ColumnBuffer {
  const base = { name, index, validity: [] };
  const fixedWidth = FIXED_WIDTH.get(type.typeId);
  if (fixedWidth) return { ...base, kind: 'fixed', ...fixedWidth, values: [] };
  if (type.typeId === DuckDBTypeId.BOOLEAN) return { ...base, kind: 'bool', values: [] };
  if (type.typeId === DuckDBTypeId.VARCHAR) return { ...base, kind: 'utf8', values: [] };
  throw new Error(
    `column "${name}" has DuckDB type ${type.toString()}, which the Arrow encoder does not carry; ` +
      'cast it in the query (e.g. to DOUBLE or VARCHAR)',
  );
}

export interface EncoderOptions {
  /** Schema-level custom metadata written into every batch (e.g. the part of a multi-part answer). */
  metadata?: ReadonlyMap<string, string>;
  /** Column names to leave out of the Arrow output (read by the caller instead). */
  omit?: ReadonlySet<string>;
}

const STRING_STRUCT_BYTES = 16;
const INLINE_STRING_BYTES = 12;

/**
 * Copies one chunk's VARCHAR vector into Arrow offsets + bytes, without creating JS strings. The
 * structs are read as 32-bit words (the length is the first; DuckDB's vectors are 8-byte aligned)
 * and inline strings copied byte by byte: a DataView read and a subarray per row made an export of
 * 5M bar rows (two VARCHAR columns) spend most of its encoding time allocating subarrays.
 */
function readUtf8(vector: ReturnType<typeof bindings.data_chunk_get_vector>, rows: number, validity: Uint8Array | null): Utf8Chunk {
  const structs = bindings.vector_get_data(vector, rows * STRING_STRUCT_BYTES);
  // A copy only if the bindings ever hand out an unaligned view (a Uint32Array over it would throw).
  const aligned = structs.byteOffset % 4 === 0 ? structs : structs.slice();
  const words = new Uint32Array(aligned.buffer, aligned.byteOffset, rows * (STRING_STRUCT_BYTES / 4));
  const offsets = new Int32Array(rows + 1);
  let total = 0;
  for (let row = 0; row < rows; row++) {
    const valid = validity === null || (validity[row >> 3]! & (1 << (row & 7))) !== 0;
    if (valid) total += words[row * 4]!;
    offsets[row + 1] = total;
  }
  const data = new Uint8Array(total);
  for (let row = 0; row < rows; row++) {
    const start = offsets[row]!;
    const length = offsets[row + 1]! - start;
    if (length === 0) continue;
    const at = row * STRING_STRUCT_BYTES;
    if (length <= INLINE_STRING_BYTES) {
      for (let k = 0; k < length; k++) data[start + k] = structs[at + 4 + k]!;
    } else {
      data.set(bindings.get_data_from_pointer(structs.buffer as ArrayBuffer, structs.byteOffset + at + 8, length), start);
    }
  }
  return { offsets, data };
}

export class ArrowBatchEncoder {
  private readonly columns: ColumnBuffer[];
  private readonly metadata: Map<string, string> | undefined;
  private bufferedRows = 0;

  constructor(names: readonly string[], types: readonly DuckDBType[], options: EncoderOptions = {}) {
    this.columns = names.flatMap((name, i) => (options.omit?.has(name) ? [] : [columnFor(name, i, types[i]!)]));
    this.metadata = options.metadata ? new Map(options.metadata) : undefined;
  }

  get rows(): number {
    return this.bufferedRows;
  }

  /** Copies one chunk out of DuckDB; the chunk may be released afterwards. */
  append(chunk: DuckDBDataChunk): void {
    const rows = chunk.rowCount;
    if (rows === 0) return;
    const validityBytes = Math.ceil(rows / 64) * 8;
    for (const column of this.columns) {
      const vector = bindings.data_chunk_get_vector(chunk.chunk, column.index);
      const raw = bindings.vector_get_validity(vector, validityBytes);
      const validity = raw ? Uint8Array.from(raw) : null;
      column.validity.push({ rows, words: validity });
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
        case 'utf8':
          column.values.push(readUtf8(vector, rows, validity));
          break;
      }
    }
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
        case 'utf8': {
          const { valueOffsets, data: bytes } = concatUtf8(column.values, length);
          data = makeData({ type: new Utf8(), length, nullCount, nullBitmap, valueOffsets, data: bytes });
          break;
        }
      }
      fields.push(new Field(column.name, data.type, nullCount > 0));
      column.values = [] as never;
      column.validity = [];
      return data;
    });
    this.bufferedRows = 0;
    const schema = new Schema(fields, this.metadata);
    const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length, nullCount: 0, children }));
    return tableToIPC(new Table(schema, [batch]), 'stream');
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

function concatUtf8(parts: Utf8Chunk[], length: number): { valueOffsets: Int32Array; data: Uint8Array } {
  if (parts.length === 1) return { valueOffsets: parts[0]!.offsets, data: parts[0]!.data };
  const valueOffsets = new Int32Array(length + 1);
  const data = new Uint8Array(parts.reduce((n, p) => n + p.data.byteLength, 0));
  let row = 0;
  let at = 0;
  for (const part of parts) {
    const rows = part.offsets.length - 1;
    for (let i = 1; i <= rows; i++) valueOffsets[row + i] = at + part.offsets[i]!;
    data.set(part.data, at);
    at += part.data.byteLength;
    row += rows;
  }
  return { valueOffsets, data };
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
  let valid = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.rows; i++, row++) {
      if (chunk.words === null || (chunk.words[i >> 3]! & (1 << (i & 7))) !== 0) {
        bitmap[row >> 3]! |= 1 << (row & 7);
        valid++;
      }
    }
  }
  return { nullBitmap: bitmap, nullCount: length - valid };
}
