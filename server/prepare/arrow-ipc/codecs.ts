// Arrow IPC body compression as pyarrow writes it: pandas' `to_feather` compresses every buffer
// with LZ4 (frame format) by default, and `compression='zstd'` is one argument away. apache-arrow
// reads compressed record batches when a codec is registered for their compression
// (compressionRegistry), and ships none: without these, a feather file pandas wrote was refused
// with "Record batch is compressed but codec not found". Registered once, on import, for every
// reader of the preparation (read.ts). lz4js and fzstd are pure JS: no native build, nothing
// downloaded. Arrow's own length prefix (and its "not compressed" -1) is apache-arrow's business.
import { CompressionType, compressionRegistry } from 'apache-arrow';
import { decompress as zstdDecompress } from 'fzstd';
import lz4 from 'lz4js';

/**
 * apache-arrow views a decoded buffer's 64-bit values in place, which needs its bytes 8-aligned:
 * fzstd may hand back a view into a larger buffer at any offset ("start offset of BigInt64Array
 * should be a multiple of 8"), so such a view is copied.
 */
const aligned = (bytes: Uint8Array) => (bytes.byteOffset % 8 === 0 ? bytes : bytes.slice());

compressionRegistry.set(CompressionType.LZ4_FRAME, { decode: (data) => aligned(lz4.decompress(data)) });
compressionRegistry.set(CompressionType.ZSTD, { decode: (data) => aligned(zstdDecompress(data)) });
