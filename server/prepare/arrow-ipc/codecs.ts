// Arrow IPC body compression as Arrow's writers compress it: pandas' `to_feather` (pyarrow)
// compresses every buffer with LZ4 (frame format) by default, polars' `write_ipc` takes
// compression='lz4' or 'zstd', and ZSTD is one argument away in both. apache-arrow reads
// compressed record batches when a codec is registered for their compression
// (compressionRegistry), and ships none: without these, a feather file pandas wrote was refused
// with "Record batch is compressed but codec not found". Registered once, on import, for every
// reader of the preparation (read.ts). Pure JS: no native build, nothing downloaded. Arrow's own
// length prefix (and its "not compressed" -1) is apache-arrow's business.
//
// LZ4: the frame is parsed here, its blocks decoded by lz4js' block decoder. lz4js' own frame
// reader skips a block's checksum before the block instead of after it, so it misread every
// frame polars writes (block checksums on) as garbage; it also ignores a dictionary id.
import { CompressionType, compressionRegistry } from 'apache-arrow';
import { decompress as zstdDecompress } from 'fzstd';
import lz4 from 'lz4js';

const LZ4_MAGIC = 0x184d2204;
/** A block's largest decoded size, by the frame descriptor's BD byte (bits 6-4). */
const LZ4_BLOCK_MAX: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };

/** One LZ4 frame (the format's spec, "LZ4 Frame Format Description"), decoded. */
export function lz4Frame(src: Uint8Array): Uint8Array {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const fail = (why: string): never => {
    throw new Error(`an LZ4 frame of ${src.length} bytes ${why}`);
  };
  if (src.length < 7 || view.getUint32(0, true) !== LZ4_MAGIC) fail('does not start with the LZ4 frame magic number');
  const flags = src[4]!;
  if (flags >> 6 !== 1) fail(`is of version ${flags >> 6}, not 1`);
  const blockChecksums = (flags & 0x10) !== 0;
  const blockMax = LZ4_BLOCK_MAX[(src[5]! >> 4) & 7] ?? fail(`names block size ${(src[5]! >> 4) & 7}`);
  // Header: magic, FLG, BD, [content size], [dictionary id], header checksum.
  let at = 6 + ((flags & 0x08) !== 0 ? 8 : 0) + ((flags & 0x01) !== 0 ? 4 : 0) + 1;
  // First the blocks' sizes, for the output's; then the blocks.
  const blocks: { start: number; size: number; raw: boolean }[] = [];
  let bound = 0;
  for (;;) {
    if (at + 4 > src.length) fail('ends before its end mark');
    const word = view.getUint32(at, true);
    at += 4;
    if (word === 0) break;
    const raw = (word & 0x80000000) !== 0;
    const size = word & 0x7fffffff;
    if (at + size > src.length) fail('ends inside a block');
    blocks.push({ start: at, size, raw });
    bound += raw ? size : blockMax;
    at += size + (blockChecksums ? 4 : 0);
  }
  const out = new Uint8Array(bound);
  let written = 0;
  for (const { start, size, raw } of blocks) {
    if (raw) {
      out.set(src.subarray(start, start + size), written);
      written += size;
    } else {
      const end = lz4.decompressBlock(src, out, start, size, written);
      if (end - written > blockMax) fail(`holds a block that decodes past its ${blockMax} bytes`);
      written = end;
    }
  }
  // A copy the decoded size: apache-arrow keeps each decoded buffer for the batch's life, and a
  // view would keep the whole bound (a block's maximum per block) alive with it.
  return out.subarray(0, written).slice();
}

/**
 * apache-arrow views a decoded buffer's 64-bit values in place, which needs its bytes 8-aligned:
 * fzstd may hand back a view into a larger buffer at any offset ("start offset of BigInt64Array
 * should be a multiple of 8"), so such a view is copied.
 */
const aligned = (bytes: Uint8Array) => (bytes.byteOffset % 8 === 0 ? bytes : bytes.slice());

compressionRegistry.set(CompressionType.LZ4_FRAME, { decode: (data) => lz4Frame(data) });
compressionRegistry.set(CompressionType.ZSTD, { decode: (data) => aligned(zstdDecompress(data)) });
