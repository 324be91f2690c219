// Inflates one bzip2 file into another off the preparation's main thread (compressed-files.ts):
// seek-bzip decodes synchronously, a byte at a time through the two streams below, and a
// gigabyte takes most of a minute, in which the preparation must still report progress.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import Bunzip from 'seek-bzip';

const { source, target } = workerData as { source: string; target: string };
const CHUNK = 1 << 20;

const input = openSync(source, 'r');
const output = openSync(target, 'w');
try {
  const inBuf = Buffer.allocUnsafe(CHUNK);
  let inLen = 0;
  let inPos = 0;
  let ended = false;
  const fill = () => {
    inLen = readSync(input, inBuf, 0, CHUNK, null);
    inPos = 0;
    ended = inLen === 0;
  };
  const inStream = {
    // Past the end only a cut-off file is read: the decoder would go on over bits that are not there.
    readByte: () => {
      if (inPos >= inLen && !ended) fill();
      if (ended) throw new Error('the file ends inside its compressed data: it was cut off');
      return inBuf[inPos++]!;
    },
    read(buf: Uint8Array, at: number, length: number) {
      for (let n = 0; n < length; n++) buf[at + n] = this.readByte();
      return length;
    },
    eof: () => {
      if (inPos >= inLen && !ended) fill();
      return ended;
    },
  };
  const outBuf = Buffer.allocUnsafe(CHUNK);
  let outLen = 0;
  const outStream = {
    writeByte: (b: number) => {
      outBuf[outLen++] = b;
      if (outLen === CHUNK) {
        writeSync(output, outBuf, 0, outLen);
        outLen = 0;
      }
    },
  };
  // Multistream: pbzip2 and lbzip2 write one stream per block of the input.
  Bunzip.decode(inStream, outStream, true);
  if (outLen > 0) writeSync(output, outBuf, 0, outLen);
} finally {
  closeSync(input);
  closeSync(output);
}
