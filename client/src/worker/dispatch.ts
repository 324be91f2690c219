// What the session sends, to whom it concerns. Each text frame is checked against the protocol
// and goes to the connection (the hello, problems outside any request) or to the scheduler
// (answers and errors of requests) or to the downloads (downloads.ts: their frames carry a file's
// bytes); each other binary frame is one Arrow batch of an answer.
import { errorMessage } from '../../../shared/errors.js';
import { decodeDataFrame } from '../../../shared/frame.js';
import { serverMessageValidator, type HelloMessage } from '../../../shared/messages.js';
import { parseMessage } from '../../../shared/validate.js';
import type { Downloads } from './downloads.js';
import type { QueryScheduler } from './query-scheduler.js';

export interface Recipients {
  scheduler: Pick<QueryScheduler, 'receiveBatch' | 'finish' | 'serverError' | 'failUnreadable'>;
  downloads: Pick<Downloads, 'owns' | 'receiveChunk' | 'progress' | 'finish' | 'serverError'>;
  /** No hello yet on this socket: one that cannot be read ends the session for good. */
  readonly awaitingHello: boolean;
  hello(message: HelloMessage): void;
  /** A hello this client cannot read (e.g. a protocol version skew). */
  unreadableHello(problem: string): void;
  /** A problem outside any request: shown, without changing the connection state. */
  report(problem: string): void;
}

export function dispatch(data: unknown, to: Recipients): void {
  if (typeof data === 'string') dispatchText(data, to);
  else if (data instanceof ArrayBuffer) dispatchBatch(data, to);
  else to.report(`unexpected WebSocket frame of type ${Object.prototype.toString.call(data)}`);
}

function dispatchText(text: string, to: Recipients): void {
  const checked = parseMessage(text, serverMessageValidator);
  if (!checked.ok) {
    dispatchUnreadable(text, checked.error, to);
    return;
  }
  const message = checked.value;
  switch (message.type) {
    case 'hello':
      to.hello(message);
      return;
    case 'done':
      if (to.downloads.owns(message.id)) to.downloads.finish(message);
      else to.scheduler.finish(message);
      return;
    case 'error':
      if (message.id === null) to.report(`server error (${message.code}): ${message.message}`);
      else if (to.downloads.owns(message.id)) to.downloads.serverError({ ...message, id: message.id });
      else to.scheduler.serverError({ ...message, id: message.id });
      return;
    case 'progress':
      if (to.downloads.owns(message.id)) to.downloads.progress(message);
      return;
  }
}

/** A text frame that does not pass the protocol's check: it fails the request it names, if any. */
function dispatchUnreadable(text: string, problem: string, to: Recipients): void {
  let type: unknown;
  let id: unknown;
  try {
    ({ type, id } = JSON.parse(text) as { type?: unknown; id?: unknown });
  } catch {
    // Not JSON at all: it names no request, and is reported below.
  }
  if (type === 'hello' && to.awaitingHello) to.unreadableHello(problem);
  else if (!(typeof id === 'number' && to.scheduler.failUnreadable(id, problem))) to.report(`the server sent a message this client cannot read: ${problem}`);
}

function dispatchBatch(buffer: ArrayBuffer, to: Recipients): void {
  let frame;
  try {
    frame = decodeDataFrame(buffer);
  } catch (error) {
    to.report(`unreadable data frame: ${errorMessage(error)}`);
    return;
  }
  if (to.downloads.owns(frame.requestId)) to.downloads.receiveChunk(frame.requestId, frame.ipc);
  else to.scheduler.receiveBatch(frame.requestId, frame.batchIndex, frame.ipc);
}
