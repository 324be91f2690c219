// The framing of a remote session's control connection (contract.ts, "Remote sessions"): one
// JSON message per line over TCP. Both ends use this file, so the framing is written once.
import type { Socket } from 'node:net';

/**
 * A control line longer than this is a broken or hostile peer, not a message: the biggest real
 * one (an assignment) is a few hundred bytes.
 */
export const MAX_LINE_BYTES = 1024 * 1024;

export function writeLine(socket: Socket, message: unknown): boolean {
  if (socket.destroyed || !socket.writable) return false;
  return socket.write(`${JSON.stringify(message)}\n`);
}

/**
 * Calls `onMessage` with each parsed line of `socket`. A line that is not JSON, or one past
 * MAX_LINE_BYTES, destroys the socket with an error that says which: the peer is not speaking
 * the contract, and guessing at the rest of the stream would be worse.
 */
export function readLines(socket: Socket, onMessage: (message: unknown) => void): void {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      if (line.length === 0) continue;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch (error) {
        socket.destroy(new Error(`control connection: a line that is not JSON (${(error as Error).message}): ${line.slice(0, 80)}`));
        return;
      }
      onMessage(message);
      if (socket.destroyed) return;
    }
    if (Buffer.byteLength(pending) > MAX_LINE_BYTES) {
      socket.destroy(new Error(`control connection: a line longer than ${MAX_LINE_BYTES} bytes`));
    }
  });
}
