// The client sockets a session process has been handed. The control server keeps a paused
// duplicate of each (it never reads from it: the session process does), for one purpose: if the
// process dies without closing them, the control server can still end each WebSocket with a
// close frame that says why, instead of leaving the browser with a bare connection reset.
import type { Socket } from 'node:net';

/** WebSocket close code 1011: the server met a condition that prevented it from going on. */
export const CLOSE_INTERNAL_ERROR = 1011;
/** A close frame's reason must fit a 125-byte control frame with its 2-byte code. */
const MAX_REASON_BYTES = 123;

export class HandedOffSockets {
  private readonly sockets = new Map<number, Socket>();
  private nextId = 1;

  /** Registers the duplicate kept by this process; returns the id the session process reports back. */
  add(socket: Socket): number {
    const id = this.nextId++;
    stopReading(socket);
    // The peer reset the connection: the session process sees it on its own copy and reports it.
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.sockets.delete(id));
    this.sockets.set(id, socket);
    return id;
  }

  /** The session process closed this connection: drop the duplicate (no FIN while it holds its own). */
  release(id: number): void {
    this.sockets.get(id)?.destroy();
    this.sockets.delete(id);
  }

  get size(): number {
    return this.sockets.size;
  }

  /**
   * The process is gone. After a crash, each socket still open gets a close frame with the
   * reason (best effort: if the process died mid-frame, the browser sees a protocol error
   * instead); after a requested exit they are simply released.
   */
  closeAll(crashReason: string | null): void {
    for (const socket of this.sockets.values()) {
      // This side never reads, so the socket would never see the peer's FIN: destroy it once the
      // close frame is flushed.
      if (crashReason && socket.writable) socket.end(closeFrame(CLOSE_INTERNAL_ERROR, crashReason), () => socket.destroy());
      else socket.destroy();
    }
    this.sockets.clear();
  }
}

/**
 * Both processes hold the connection's file descriptor; whichever reads first gets the bytes, so
 * this one must not read at all. `socket.pause()` is not enough: a paused net.Socket still reads
 * from its handle into its buffer (up to the high-water mark). Stopping the handle itself is an
 * internal API of Node, stable since v0.x and used the same way by Node's own IPC code. It is
 * called at hand-off, before the session process has answered the upgrade, so no client byte can
 * have arrived yet.
 */
function stopReading(socket: Socket): void {
  socket.pause();
  const handle = (socket as unknown as { _handle?: { reading: boolean; readStop(): number } | null })._handle;
  if (!handle) return;
  handle.reading = false;
  const status = handle.readStop();
  if (status !== 0) socket.destroy(new Error(`could not stop reading a handed-off socket (status ${status})`));
}

/** A server's WebSocket close frame (unmasked), its reason cut to what a control frame holds. */
export function closeFrame(code: number, reason: string): Buffer {
  let text = Buffer.from(reason, 'utf8');
  if (text.length > MAX_REASON_BYTES) text = text.subarray(0, MAX_REASON_BYTES);
  const frame = Buffer.alloc(4 + text.length);
  frame[0] = 0x88; // FIN + opcode close
  frame[1] = 2 + text.length; // server frames are not masked
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}
