// Minimal typings for the part of lz4js (a CommonJS package without types) codecs.ts uses.
declare module 'lz4js' {
  const lz4: {
    /** Decodes one LZ4 frame; the output is sized from the frame's header. */
    decompress(src: Uint8Array, maxSize?: number): Uint8Array;
  };
  export default lz4;
}
