// Minimal typings for the part of seek-bzip (a CommonJS package without types) bunzip-worker.ts uses.
declare module 'seek-bzip' {
  /** What the decoder reads from: a byte at a time, or -1 past the end. */
  export interface ByteSource {
    readByte(): number;
    read(buf: Uint8Array, at: number, length: number): number;
    eof(): boolean;
  }
  /** What the decoder writes to, a byte at a time. */
  export interface ByteSink {
    writeByte(b: number): void;
  }
  const Bunzip: {
    /** Decodes a bzip2 file (every stream of it when `multistream`); throws on damaged data. */
    decode(input: ByteSource, output: ByteSink, multistream?: boolean): void;
  };
  export default Bunzip;
}
