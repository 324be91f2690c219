// One way to turn a thrown value into a message, at both ends.

/**
 * The message of anything thrown, without the SQL that DuckDB appends after "LINE n:" (which can
 * list thousands of files or echo a whole query). Use it wherever an error is logged or rewrapped;
 * rewrap with `{ cause }` so the original stays reachable.
 */
export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const cut = msg.search(/\n\s*LINE \d+:/);
  return (cut >= 0 ? msg.slice(0, cut) : msg).trim();
}
