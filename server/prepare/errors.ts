/** An error whose message is meant for the user as is (names the input file, phase and column). */
export class PrepareError extends Error {
  override name = 'PrepareError';
}

/** DuckDB's message without the offending SQL it appends ("LINE 1: ..."), which can list
 * thousands of files. */
export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const cut = msg.search(/\n\s*LINE \d+:/);
  return (cut >= 0 ? msg.slice(0, cut) : msg).trim();
}
