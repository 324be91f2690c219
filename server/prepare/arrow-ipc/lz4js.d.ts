// Minimal typings for the part of lz4js (a CommonJS package without types) codecs.ts uses.
declare module 'lz4js' {
  const lz4: {
    /** Decodes the LZ4 block src[start, start + size) into dst from dstAt; returns where it ended in dst. */
    decompressBlock(src: Uint8Array, dst: Uint8Array, start: number, size: number, dstAt: number): number;
  };
  export default lz4;
}
