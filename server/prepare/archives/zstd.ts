// zstd inflation, checked: fzstd (pure JS; Node 20's zlib has no zstd) decodes, and this module
// walks the frames itself (RFC 8878: frame header, block headers, content checksum) so that every
// frame that carries a checksum is checked against what it inflated to. fzstd checks no checksum,
// and a damaged block can decode without an error into other bytes (a file with one byte flipped
// inflated to its full length, wrong): that would be a backtest with other numbers, not an error.
// A frame without a checksum (python-zstandard's default, so pandas' `to_pickle('x.pkl.zst')`)
// cannot be checked; the zstd command writes one by default.
import { Transform, type TransformCallback } from 'node:stream';
import { Decompress } from 'fzstd';
import xxhash, { type XXHashAPI } from 'xxhash-wasm';

const FRAME_MAGIC = 0xfd2fb528;
/** Skippable frames carry magic 0x184D2A50 to 0x184D2A5F: metadata a decoder steps over. */
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

/** Whether four bytes are a skippable frame's magic. */
export function isSkippableFrame(head: Buffer): boolean {
  return head.length >= 4 && (head.readUInt32LE(0) & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC;
}

/**
 * The largest window decoded: fzstd holds the window in one array, and at 2 GiB (zstd --long=31,
 * from a stream of unknown size) failed with "Invalid typed array length". The zstd command's
 * own default without --long is 8 MiB, with --long 128 MiB.
 */
const MAX_WINDOW_BYTES = 2 ** 30;

/** A frame's window size from its Window_Descriptor byte (RFC 8878 3.1.1.1.2). */
function windowBytes(descriptor: number): number {
  const base = 2 ** (10 + (descriptor >> 3));
  return base + (base / 8) * (descriptor & 7);
}

let hashing: Promise<XXHashAPI> | null = null;

/** The frame's parts, in order: what the parser waits for next and how many bytes it is. */
type Expect =
  | { part: 'magic' }
  | { part: 'skippable'; bytes: number }
  | { part: 'descriptor' }
  | { part: 'header'; bytes: number; window: boolean }
  | { part: 'block header' }
  | { part: 'block'; bytes: number; last: boolean }
  | { part: 'checksum' };

/** A Transform that inflates zstd frames and checks each frame's content checksum when it has one. */
export async function zstdInflater(): Promise<Transform> {
  const { create64 } = await (hashing ??= xxhash());
  let pending: Buffer = Buffer.alloc(0);
  /** Offset of pending[0] in the compressed file, for errors. */
  let offset = 0;
  let expect: Expect = { part: 'magic' };
  let frames = 0;
  let frame: { decoder: Decompress; hash: ReturnType<typeof create64>; checksum: boolean; start: number } | null = null;
  let transform: Transform;

  const take = (n: number): Buffer => {
    const part = pending.subarray(0, n);
    pending = pending.subarray(n);
    offset += n;
    return part;
  };
  const damaged = (what: string) => new Error(`${what} (frame ${frames} at byte ${frame?.start ?? offset}): the compressed data is damaged`);

  const parse = () => {
    for (;;) {
      switch (expect.part) {
        case 'magic': {
          if (pending.length < 4) return;
          const magic = pending.readUInt32LE(0);
          if (isSkippableFrame(pending)) {
            if (pending.length < 8) return;
            const bytes = pending.readUInt32LE(4);
            take(8);
            expect = { part: 'skippable', bytes };
            break;
          }
          if (magic !== FRAME_MAGIC) throw new Error(`byte ${offset} starts no zstd frame (${pending.subarray(0, 4).toString('hex')}): the file is not zstd data there`);
          frames++;
          frame = { decoder: new Decompress(), hash: create64(0n), checksum: false, start: offset };
          const current = frame;
          current.decoder.ondata = (chunk: Uint8Array) => {
            current.hash.update(chunk);
            // A copy: fzstd may hand back a view of its window, which it writes again.
            transform.push(Buffer.from(chunk));
          };
          current.decoder.push(take(4));
          expect = { part: 'descriptor' };
          break;
        }
        case 'skippable': {
          const n = Math.min(expect.bytes, pending.length);
          take(n);
          if (n < expect.bytes) {
            expect = { part: 'skippable', bytes: expect.bytes - n };
            return;
          }
          expect = { part: 'magic' };
          break;
        }
        case 'descriptor': {
          if (pending.length < 1) return;
          const descriptor = pending[0]!;
          const singleSegment = (descriptor & 0x20) !== 0;
          const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6]!;
          const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]!;
          if (descriptor & 0x08) throw damaged('a frame header sets its reserved bit');
          frame!.checksum = (descriptor & 0x04) !== 0;
          frame!.decoder.push(take(1));
          expect = { part: 'header', bytes: (singleSegment ? 0 : 1) + dictionaryBytes + contentSizeBytes, window: !singleSegment };
          break;
        }
        case 'header': {
          if (pending.length < expect.bytes) return;
          const window = expect.window ? windowBytes(pending[0]!) : 0;
          if (window > MAX_WINDOW_BYTES) {
            throw new Error(
              `frame ${frames} asks for a window of ${window / 2 ** 20} MiB (written with zstd --long=${Math.log2(window)}), more than the ${MAX_WINDOW_BYTES / 2 ** 20} MiB this reader decodes with: compress it again without --long, or with --long=${Math.log2(MAX_WINDOW_BYTES)} or less`,
            );
          }
          frame!.decoder.push(take(expect.bytes));
          expect = { part: 'block header' };
          break;
        }
        case 'block header': {
          if (pending.length < 3) return;
          const header = pending.readUIntLE(0, 3);
          const type = (header >> 1) & 3;
          if (type === 3) throw damaged('a block is of the reserved type');
          // A raw block's content is its size in bytes, an RLE block's one byte, a compressed block's its size.
          const bytes = type === 1 ? 1 : header >>> 3;
          frame!.decoder.push(take(3));
          expect = { part: 'block', bytes, last: (header & 1) === 1 };
          break;
        }
        case 'block': {
          const n = Math.min(expect.bytes, pending.length);
          if (n > 0) frame!.decoder.push(take(n));
          if (n < expect.bytes) {
            expect = { ...expect, bytes: expect.bytes - n };
            return;
          }
          if (!expect.last) {
            expect = { part: 'block header' };
            break;
          }
          if (frame!.checksum) {
            expect = { part: 'checksum' };
            break;
          }
          frame!.decoder.push(new Uint8Array(0), true);
          frame = null;
          expect = { part: 'magic' };
          break;
        }
        case 'checksum': {
          if (pending.length < 4) return;
          const checksum = take(4);
          const stated = checksum.readUInt32LE(0);
          const current = frame!;
          current.decoder.push(checksum, true);
          const inflated = Number(current.hash.digest() & 0xffffffffn);
          if (inflated !== stated) throw damaged(`what a frame inflates to does not match its checksum`);
          frame = null;
          expect = { part: 'magic' };
          break;
        }
      }
    }
  };

  transform = new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      try {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        parse();
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done: TransformCallback) {
      if (frames === 0) return done(new Error('the file holds no zstd frame'));
      if (expect.part !== 'magic' || pending.length > 0) return done(new Error(`the file ends inside frame ${frames}'s ${expect.part}: it was cut off`));
      done();
    },
  });
  return transform;
}
