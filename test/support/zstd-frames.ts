// zstd frames written by hand for tests (Node 20 has no zstd compressor): the content stored in
// raw blocks (RFC 8878 3.1.1.2), which every decoder reads, DuckDB's and fzstd included, with the
// content checksum the zstd command writes (the low 32 bits of XXH64 of the content) when asked.
import xxhash from 'xxhash-wasm';

/** Largest block: 128 KiB (Block_Maximum_Size). */
const MAX_BLOCK = 128 * 1024;

export async function zstdStored(content: Uint8Array, options: { checksum: boolean } = { checksum: true }): Promise<Buffer> {
  // Single segment (no window descriptor), an 8-byte content size, the checksum flag.
  const header = Buffer.alloc(13);
  header.writeUInt32LE(0xfd2fb528, 0);
  header[4] = 0xc0 | 0x20 | (options.checksum ? 0x04 : 0);
  header.writeBigUInt64LE(BigInt(content.length), 5);
  const parts: Buffer[] = [header];
  for (let at = 0; at === 0 || at < content.length; at += MAX_BLOCK) {
    const block = content.subarray(at, at + MAX_BLOCK);
    const last = at + MAX_BLOCK >= content.length ? 1 : 0;
    const blockHeader = Buffer.alloc(3);
    blockHeader.writeUIntLE((block.length << 3) | last, 0, 3); // type 0: raw
    parts.push(blockHeader, Buffer.from(block));
  }
  if (options.checksum) {
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32LE(Number((await xxhash()).h64Raw(content) & 0xffffffffn), 0);
    parts.push(checksum);
  }
  return Buffer.concat(parts);
}
