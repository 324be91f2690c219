// A request that ended because it was cancelled (the tab asked, moved on, or closed), told apart
// from a failure: the socket handler answers it with `cancelled`, not an error.

export class CancelledError extends Error {
  constructor(message = 'request was cancelled', options?: ErrorOptions) {
    super(message, options);
    this.name = 'CancelledError';
  }
}

/** Why a request was cancelled: the reason its AbortController was given, when it is a text. */
export function reasonOf(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? signal.reason : 'request was cancelled';
}

/** Throws the request's CancelledError once it is cancelled. */
export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new CancelledError(reasonOf(signal));
}
