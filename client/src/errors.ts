// The client's error catalogue: what can go wrong with an ask, as the views tell it apart. The
// worker makes every error it rejects with here, from the protocol's ErrorCode or from its own
// transport; the views switch on the kind and never read a message to decide. Type-only imports:
// the UI bundle gets no TypeBox from this module.
import type { ErrorCode } from '../../shared/messages.js';

export type ErrorKind =
  /** Nobody waits for the answer any more (superseded, released, cancelled): not a failure to show. */
  | 'aborted'
  /** The view asked for something the dataset does not have (checked by the worker or the session). */
  | 'bad-params'
  /** The session could not answer: the query failed, or its answer could not be read. */
  | 'failed'
  /** The session is lost or closed: no answer will come. */
  | 'connection';

/**
 * The error's name for each kind. Comlink carries only an error's name and message across to the
 * UI thread, so the name is what carries the kind.
 */
const NAMES: Record<ErrorKind, string> = {
  aborted: 'AbortError',
  'bad-params': 'BadParams',
  failed: 'RequestError',
  connection: 'ConnectionError',
};

const KINDS = new Map<string, ErrorKind>(Object.entries(NAMES).map(([kind, name]) => [name, kind as ErrorKind]));

/** The kind of a session's error reply (`overloaded` never gets here: the worker retries it). */
export function kindOfCode(code: ErrorCode): ErrorKind {
  switch (code) {
    case 'cancelled':
      return 'aborted';
    case 'bad-params':
      return 'bad-params';
    case 'bad-message':
    case 'duplicate-id':
    case 'query-failed':
    case 'overloaded':
    case 'session-ending':
      return 'failed';
  }
}

/** An error of this kind, to reject an ask with. */
export function askError(kind: ErrorKind, message: string, options?: { cause?: unknown }): Error {
  const error = new Error(message, options);
  error.name = NAMES[kind];
  return error;
}

/** The kind of anything an ask rejected with; what the worker did not make counts as failed. */
export function errorKind(error: unknown): ErrorKind {
  const name = error instanceof Error ? error.name : (error as { name?: unknown } | null)?.name;
  return (typeof name === 'string' && KINDS.get(name)) || 'failed';
}
