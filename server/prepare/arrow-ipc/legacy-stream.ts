// Recognising an Arrow IPC stream written before Arrow 0.15 (e.g. by pyarrow 0.14): its messages
// are framed by a bare int32 length, without the 0xFFFFFFFF continuation marker that later
// writers put first. Such files exist in archives of old backtests; apache-arrow still reads
// them, so the only thing missing was telling them apart from text or other binary files.
//
// Four bytes of length prove nothing, so the first message's metadata is parsed as much as is
// needed: it must be a FlatBuffers `Message` table (Message.fbs) with a metadata version of V1..V5
// and a header of type Schema (every stream starts with its schema), all offsets inside the
// metadata. A CSV or JSON file fails the length already (its first four bytes read as a number
// of hundreds of millions), random bytes fail the table layout.
import type { FileHandle } from 'node:fs/promises';

/** Most metadata read to decide (a schema message of a few hundred columns fits easily). */
const MAX_METADATA_BYTES = 1 << 20;
/** MessageHeader union tag of a Schema (Message.fbs: NONE 0, Schema 1, DictionaryBatch 2, ...). */
const HEADER_SCHEMA = 1;
/** MetadataVersion V1..V5 are 0..4. */
const MAX_METADATA_VERSION = 4;

/**
 * True when `metadata` (the bytes after the int32 length prefix) is a FlatBuffers Message whose
 * header is a Schema. Exported for unit tests.
 */
export function isSchemaMessage(metadata: Uint8Array): boolean {
  const m = Buffer.from(metadata.buffer, metadata.byteOffset, metadata.byteLength);
  const len = m.byteLength;
  if (len < 16) return false;
  const table = m.readUInt32LE(0);
  if (table < 4 || table + 4 > len) return false;
  const vtable = table - m.readInt32LE(table);
  if (vtable < 0 || vtable + 4 > len) return false;
  const vtableSize = m.readUInt16LE(vtable);
  const tableSize = m.readUInt16LE(vtable + 2);
  if (vtableSize < 8 || vtableSize % 2 !== 0 || vtable + vtableSize > len || tableSize < 4 || table + tableSize > len) return false;
  /** Offset of field `i` inside the table, 0 when absent (its default applies). */
  const field = (i: number): number => {
    const slot = 4 + 2 * i;
    if (slot + 2 > vtableSize) return 0;
    const at = m.readUInt16LE(vtable + slot);
    return at < tableSize ? at : -1;
  };
  const versionAt = field(0);
  const headerTypeAt = field(1);
  const headerAt = field(2);
  if (versionAt < 0 || headerTypeAt <= 0 || headerAt <= 0) return false;
  const version = versionAt === 0 ? 0 : m.readInt16LE(table + versionAt);
  if (version < 0 || version > MAX_METADATA_VERSION) return false;
  if (m[table + headerTypeAt] !== HEADER_SCHEMA) return false;
  if (table + headerAt + 4 > len) return false;
  const header = table + headerAt + m.readUInt32LE(table + headerAt);
  return header + 4 <= len;
}

/** True when the file starts with a pre-0.15 stream message: int32 length, then a Schema message. */
export async function isLegacyIpcStream(fh: FileHandle, fileSize: number): Promise<boolean> {
  const prefix = Buffer.alloc(4);
  if ((await fh.read(prefix, 0, 4, 0)).bytesRead < 4) return false;
  const length = prefix.readInt32LE(0);
  if (length < 16 || length > MAX_METADATA_BYTES || 4 + length > fileSize) return false;
  const metadata = Buffer.alloc(length);
  if ((await fh.read(metadata, 0, length, 4)).bytesRead < length) return false;
  return isSchemaMessage(metadata);
}
