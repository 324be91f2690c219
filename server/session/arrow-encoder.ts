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

/**
 * Bytes written at the end and kept for the encoder's life: each batch's column is written into
 * the same buffer, which tableToIPC copies into the batch's message. Allocating a typed array per
 * column per 2,048-row chunk, then concatenating them per batch, made the garbage collector the
 * biggest cost of an export (2.1 of 6.2 s of CPU in four exports of 5M bar rows).
 */
class GrowableBytes {
  bytes = new Uint8Array(0);
  length = 0;

  /** Room for `more` bytes past the end; the buffer doubles, so a batch's growth is amortised. */
  reserve(more: number): Uint8Array {
    const need = this.length + more;
    if (need > this.bytes.byteLength) {
      // Eight-byte aligned, so typed arrays of any width can view it.
      const grown = new Uint8Array(Math.ceil(Math.max(need, this.bytes.byteLength * 2) / 8) * 8);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    return this.bytes;
  }
}

/** Bits in Arrow's layout (row i is bit i & 7 of byte i >> 3), in bytes kept for the encoder's life. */
class PackedBits {
  private readonly buffer = new GrowableBytes();

  /** Room for rows [0, rows): the bytes to set their bits in (zero where not set yet). */
  grow(rows: number): Uint8Array {
    const length = Math.ceil(rows / 8);
    const bytes = this.buffer.reserve(length - this.buffer.length);
    this.buffer.length = Math.max(this.buffer.length, length);
    return bytes;
  }

  /** The bits of rows [0, rows). */
  view(rows: number): Uint8Array {
    return this.buffer.bytes.subarray(0, Math.ceil(rows / 8));
  }

  /** Every bit cleared, for the next batch. */
  clear(): void {
    this.buffer.bytes.fill(0, 0, this.buffer.length);
    this.buffer.length = 0;
  }
}

function setBit(bits: Uint8Array, row: number): void {
  bits[row >> 3]! |= 1 << (row & 7);
}

/**
 * A column's null bitmap, written only once a chunk has a validity mask: an answer without nulls
 * (most) never touches it and is sent without one.
 */
class ValidityBits {
  private readonly bits = new PackedBits();
  /** Rows [0, covered) have their bit written. */
  private covered = 0;
  private nulls = 0;
  private masked = false;

  /** Rows [offset, offset + rows) with DuckDB's validity words (bit i = row i valid), or null if all valid. */
  append(offset: number, rows: number, words: Uint8Array | null): void {
    if (words === null && !this.masked) return;
    this.masked = true;
    this.markValid(offset);
    const bits = this.bits.grow(offset + rows);
    for (let i = 0; i < rows; i++) {
      if (words === null || (words[i >> 3]! & (1 << (i & 7))) !== 0) setBit(bits, offset + i);
      else this.nulls++;
    }
    this.covered = offset + rows;
  }

  /** The bitmap of rows [0, length), or none when no chunk had a mask. */
  finish(length: number): { nullBitmap: Uint8Array | undefined; nullCount: number } {
    if (!this.masked) return { nullBitmap: undefined, nullCount: 0 };
    this.markValid(length);
    return { nullBitmap: this.bits.view(length), nullCount: this.nulls };
  }

  /** Ready for the next batch (after its message has been written). */
  reset(): void {
    this.bits.clear();
    this.covered = 0;
    this.nulls = 0;
    this.masked = false;
  }

  /** Rows [covered, until) are valid (they came in chunks without a mask). */
  private markValid(until: number): void {
    if (until <= this.covered) return;
    const bits = this.bits.grow(until);
    for (let row = this.covered; row < until; row++) setBit(bits, row);
    this.covered = until;
  }
}

interface FixedWidthColumn {
  kind: 'fixed';
  arrow: DataType;
  ctor: TypedArrayCtor;
  values: GrowableBytes;
}
interface BoolColumn {
  kind: 'bool';
  /** Written as DuckDB's one byte per value comes in. */
  values: PackedBits;
}
interface Utf8Column {
  kind: 'utf8';
  /** Rows + 1 offsets as Int32 bytes, starting at 0. */
  offsets: GrowableBytes;
  data: GrowableBytes;
}
type ColumnBuffer = (FixedWidthColumn | BoolColumn | Utf8Column) & {
  name: string;
  /** Index of the column in the DuckDB chunk. */
  index: number;
  validity: ValidityBits;
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
  const base = { name, index, validity: new ValidityBits() };
  const fixedWidth = FIXED_WIDTH.get(type.typeId);
  if (fixedWidth) return { ...base, kind: 'fixed', ...fixedWidth, values: new GrowableBytes() };
  if (type.typeId === DuckDBTypeId.BOOLEAN) return { ...base, kind: 'bool', values: new PackedBits() };
  if (type.typeId === DuckDBTypeId.VARCHAR) return { ...base, kind: 'utf8', offsets: new GrowableBytes(), data: new GrowableBytes() };
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
 * Appends one chunk's VARCHAR vector to a column's Arrow offsets + bytes, without creating JS
 * strings. The structs are read as 32-bit words (the length is the first; DuckDB's vectors are
 * 8-byte aligned). An inline string (up to 12 bytes, in the struct's last three words) is written
 * a word at a time, as many words as it needs: a word may run past the string's end into bytes
 * the next string then writes over, so the data keeps INLINE_STRING_BYTES of room past its end. Byte by byte, this was most of an export's encoding
 * (5M bar rows, two VARCHAR columns: 190 of 500 ms); a DataView read and a subarray per row were
 * worse still, allocating.
 */
function appendUtf8(column: Utf8Column, vector: ReturnType<typeof bindings.data_chunk_get_vector>, offset: number, rows: number, validity: Uint8Array | null): void {
  const structs = bindings.vector_get_data(vector, rows * STRING_STRUCT_BYTES);
  // A copy only if the bindings ever hand out an unaligned view (a Uint32Array over it would throw).
  const aligned = structs.byteOffset % 4 === 0 ? structs : structs.slice();
  const words = new Uint32Array(aligned.buffer, aligned.byteOffset, rows * (STRING_STRUCT_BYTES / 4));
  // Offsets [offset + 1, offset + rows] follow the one at `offset`, already written (offset 0 is
  // always 0: a new buffer's zero, never written). A null's length is 0.
  const offsetBytes = column.offsets.reserve((offset + rows + 1) * 4 - column.offsets.length);
  const offsets = new Int32Array(offsetBytes.buffer, 0, offset + rows + 1);
  const first = offsets[offset]!;
  let total = first;
  for (let row = 0; row < rows; row++) {
    if (validity === null || (validity[row >> 3]! & (1 << (row & 7))) !== 0) total += words[row * 4]!;
    offsets[offset + row + 1] = total;
  }
  column.offsets.length = (offset + rows + 1) * 4;
  const data = column.data.reserve(total - first + INLINE_STRING_BYTES);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let row = 0; row < rows; row++) {
    const at = offsets[offset + row]!;
    const length = offsets[offset + row + 1]! - at;
    const word = row * 4;
    if (length > INLINE_STRING_BYTES) {
      data.set(bindings.get_data_from_pointer(aligned.buffer as ArrayBuffer, aligned.byteOffset + row * STRING_STRUCT_BYTES + 8, length), at);
    } else if (length > 0) {
      view.setUint32(at, words[word + 1]!, true);
      if (length > 4) view.setUint32(at + 4, words[word + 2]!, true);
      if (length > 8) view.setUint32(at + 8, words[word + 3]!, true);
    }
  }
  column.data.length = total;
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
    const offset = this.bufferedRows;
    const validityBytes = Math.ceil(rows / 64) * 8;
    for (const column of this.columns) {
      const vector = bindings.data_chunk_get_vector(chunk.chunk, column.index);
      // A view of DuckDB's mask, read before this returns (the chunk outlives the call).
      const validity = bindings.vector_get_validity(vector, validityBytes);
      column.validity.append(offset, rows, validity);
      switch (column.kind) {
        case 'fixed': {
          const width = column.ctor.BYTES_PER_ELEMENT;
          column.values.reserve(rows * width).set(bindings.vector_get_data(vector, rows * width).subarray(0, rows * width), column.values.length);
          column.values.length += rows * width;
          break;
        }
        case 'bool': {
          // DuckDB stores a byte per boolean; Arrow packs them into bits.
          const bytes = bindings.vector_get_data(vector, rows);
          const bits = column.values.grow(offset + rows);
          for (let i = 0; i < rows; i++) if (bytes[i]) setBit(bits, offset + i);
          break;
        }
        case 'utf8':
          appendUtf8(column, vector, offset, rows, validity);
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
      const { nullBitmap, nullCount } = column.validity.finish(length);
      let data: Data;
      switch (column.kind) {
        case 'fixed': {
          const { ctor, values } = column;
          const typed = new ctor(values.bytes.buffer, 0, length);
          data = makeData({ type: column.arrow, length, nullCount, nullBitmap, data: typed } as never);
          break;
        }
        case 'bool':
          data = makeData({ type: new Bool(), length, nullCount, nullBitmap, data: column.values.view(length) });
          break;
        case 'utf8': {
          if (length === 0) column.offsets.reserve(4);
          const valueOffsets = new Int32Array(column.offsets.bytes.buffer, 0, length + 1);
          const bytes = column.data.bytes.subarray(0, column.data.length);
          data = makeData({ type: new Utf8(), length, nullCount, nullBitmap, valueOffsets, data: bytes });
          break;
        }
      }
      fields.push(new Field(column.name, data.type, nullCount > 0));
      return data;
    });
    const schema = new Schema(fields, this.metadata);
    const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length, nullCount: 0, children }));
    // The message is a copy of the columns' buffers, which the next batch then writes over.
    const ipc = tableToIPC(new Table(schema, [batch]), 'stream');
    for (const column of this.columns) this.reset(column);
    this.bufferedRows = 0;
    return ipc;
  }

  private reset(column: ColumnBuffer): void {
    column.validity.reset();
    switch (column.kind) {
      case 'fixed':
        column.values.length = 0;
        break;
      case 'bool':
        column.values.clear();
        break;
      case 'utf8':
        // Offset 0 stays 0.
        column.offsets.length = 0;
        column.data.length = 0;
        break;
    }
  }
}
