// The binary data frames of the WebSocket protocol. A frame is an 8-byte header (u32 LE request
// id, u32 LE batch index) followed by one self-contained Arrow IPC stream (schema + record batch).
// A large answer is several such frames, so the client can draw the first batch before the last
// one arrives; a `done` message (shared/messages.ts) closes the answer. An answer of several parts
// (e.g. `series`: its points and its trades) names the part of each frame in the Arrow schema's
// metadata under PART_METADATA_KEY; batch indexes count across parts.

export const DATA_FRAME_HEADER_BYTES = 8;

/** Arrow schema metadata key naming the part of a multi-part answer a frame belongs to. */
export const PART_METADATA_KEY = 'tickscope.part';

export function encodeDataFrameHeader(requestId: number, batchIndex: number): Uint8Array {
  const header = new Uint8Array(DATA_FRAME_HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint32(0, requestId, true);
  view.setUint32(4, batchIndex, true);
  return header;
}

export interface DataFrame {
  requestId: number;
  batchIndex: number;
  /** The Arrow IPC stream bytes, a view into the frame (no copy). */
  ipc: Uint8Array;
}

export function decodeDataFrame(frame: ArrayBuffer | Uint8Array): DataFrame {
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  if (bytes.byteLength < DATA_FRAME_HEADER_BYTES) {
    throw new Error(`data frame of ${bytes.byteLength} bytes is shorter than its ${DATA_FRAME_HEADER_BYTES}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    requestId: view.getUint32(0, true),
    batchIndex: view.getUint32(4, true),
    ipc: bytes.subarray(DATA_FRAME_HEADER_BYTES),
  };
}
