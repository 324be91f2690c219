// The LZ4 frame reader of arrow-ipc/codecs.ts, on frames built by hand from the format's spec:
// raw and compressed blocks, with block checksums (as polars writes them, which lz4js' own frame
// reader misread) and without (as pyarrow writes them), a back-reference across blocks, and cut-off frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lz4Frame } from '../../server/prepare/arrow-ipc/codecs.js';

const MAGIC = [0x04, 0x22, 0x4d, 0x18];
const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
/** A frame: FLG, BD 0x40 (64 KB blocks), a header checksum byte (not checked), the blocks, the end mark. */
function frame(flags: number, blocks: number[][], checksums: boolean): Uint8Array {
  const body = blocks.flatMap((b) => [...b, ...(checksums ? [0xde, 0xad, 0xbe, 0xef] : [])]);
  return Uint8Array.from([...MAGIC, flags, 0x40, 0x00, ...body, ...u32(0)]);
}
const text = (s: string) => [...Buffer.from(s)];
/** A block stored raw (the size word's high bit set). */
const raw = (s: string) => [...u32(0x80000000 | s.length), ...text(s)];
/** A compressed block of literals only (a token of their count, then them). */
const literals = (s: string) => [...u32(s.length + 1), s.length << 4, ...text(s)];

test('LZ4 frames: raw and compressed blocks, with and without block checksums', () => {
  for (const [flags, checksums] of [[0x60, false], [0x70, true], [0x54, true]] as const) {
    const got = lz4Frame(frame(flags, [raw('AAPL,'), literals('MSFT,NVDA')], checksums));
    assert.equal(Buffer.from(got).toString(), 'AAPL,MSFT,NVDA', `flags ${flags.toString(16)}`);
    assert.equal(got.byteOffset, 0);
  }
  // A match reaching back into the block before (dependent blocks): "abcd" then a copy of 8 of it.
  const match = [...u32(3), 0x04, 0x04, 0x00];
  assert.equal(Buffer.from(lz4Frame(frame(0x40, [literals('abcd'), match], false))).toString(), 'abcdabcdabcd');
});

test('a cut-off or foreign frame is refused, saying what is wrong', () => {
  const whole = frame(0x60, [literals('AAPL,MSFT')], false);
  assert.throws(() => lz4Frame(whole.subarray(0, whole.length - 4)), /an LZ4 frame of \d+ bytes ends before its end mark/);
  assert.throws(() => lz4Frame(whole.subarray(0, 12)), /ends inside a block/);
  assert.throws(() => lz4Frame(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8])), /does not start with the LZ4 frame magic number/);
});
