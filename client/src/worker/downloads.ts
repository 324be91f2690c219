// Downloads: a request with `download` whose data frames carry a file's bytes, not Arrow. Each
// chunk is handed to the browser's blob store as it arrives (a Blob of the Blob so far and the
// chunk: Chromium keeps blob data outside the page's heap and pages large blobs to disk), so
// neither the worker nor the UI thread holds the file. Downloads never enter the answer cache
// or the scheduler's flights: they are one-off, large, and not shared between views. A download
// in flight when the socket drops fails (the server's temporary file is gone with the request).
import type { DownloadFormat } from '../../../shared/constants.js';
import type { ClientMessage, DoneMessage, ErrorMessage, ProgressMessage } from '../../../shared/messages.js';
import { askError, kindOfCode } from '../errors.js';
import type { DownloadedFile, DownloadProgress, DownloadSpec } from './types.js';

interface Transfer {
  spec: DownloadSpec;
  ticket: string;
  parts: Blob;
  bytes: number;
  onProgress: (progress: DownloadProgress) => void;
  resolve(file: DownloadedFile): void;
  reject(error: Error): void;
}

/** Request ids of downloads count down from the top of the u32 range: the scheduler's count up from 1. */
const FIRST_ID = 0xffff_ffff;

export class Downloads {
  private readonly transfers = new Map<number, Transfer>();
  private nextId = FIRST_ID;

  constructor(private readonly send: (message: ClientMessage) => void) {}

  /** Asks the session for `spec`'s answer as a file. `ticket` names it for cancel(). */
  start(spec: DownloadSpec, format: DownloadFormat, ticket: string, onProgress: (progress: DownloadProgress) => void): Promise<DownloadedFile> {
    return new Promise((resolve, reject) => {
      const id = this.nextId--;
      try {
        this.send({ type: 'request', id, query: spec.query, params: spec.params, download: { format } } as ClientMessage);
      } catch (error) {
        reject(askError('connection', `download of ${spec.query}: ${(error as Error).message}`));
        return;
      }
      this.transfers.set(id, { spec, ticket, parts: new Blob([]), bytes: 0, onProgress, resolve, reject });
    });
  }

  /** Stops the download named `ticket`: the session stops sending, the promise rejects as aborted. */
  cancel(ticket: string): void {
    for (const [id, transfer] of this.transfers) {
      if (transfer.ticket !== ticket) continue;
      this.transfers.delete(id);
      try {
        this.send({ type: 'cancel', id });
      } catch {
        // The socket is gone; the session drops the request with it.
      }
      transfer.reject(askError('aborted', `download of ${transfer.spec.query} cancelled`));
    }
  }

  owns(id: number): boolean {
    return this.transfers.has(id);
  }

  receiveChunk(id: number, bytes: Uint8Array): void {
    const transfer = this.transfers.get(id);
    if (!transfer) return;
    transfer.parts = new Blob([transfer.parts, bytes as Uint8Array<ArrayBuffer>]);
    transfer.bytes += bytes.byteLength;
  }

  progress(message: ProgressMessage): void {
    const transfer = this.transfers.get(message.id);
    transfer?.onProgress({ rows: message.rows, bytes: transfer.bytes });
  }

  finish(done: DoneMessage): void {
    const transfer = this.transfers.get(done.id);
    if (!transfer) return;
    this.transfers.delete(done.id);
    if (!done.file || transfer.bytes !== done.bytes) {
      transfer.reject(askError('failed', `download of ${transfer.spec.query}: ${transfer.bytes} of ${done.bytes} bytes arrived`));
      return;
    }
    transfer.resolve({ blob: transfer.parts, name: done.file.name, rows: done.rows, bytes: done.bytes });
  }

  serverError(message: ErrorMessage & { id: number }): void {
    const transfer = this.transfers.get(message.id);
    if (!transfer) return;
    this.transfers.delete(message.id);
    transfer.reject(askError(kindOfCode(message.code), `download of ${transfer.spec.query} (${message.code}): ${message.message}`));
  }

  /** The socket dropped or closed: no download in flight can finish. */
  lost(reason: string): void {
    for (const [id, transfer] of this.transfers) {
      this.transfers.delete(id);
      transfer.reject(askError('connection', `download of ${transfer.spec.query}: ${reason}`));
    }
  }
}
