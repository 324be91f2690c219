import { printable } from '../../shared/printable.js';

/**
 * An error whose message is meant for the user as is (names the input file, phase and column).
 * Its message quotes what the input holds (column names, paths, DuckDB's words about them), so it
 * is made printable here, once for every message: a file cannot write escape sequences to the
 * terminal or forge log lines through its column names.
 */
export class PrepareError extends Error {
  override name = 'PrepareError';

  constructor(message: string, options?: ErrorOptions) {
    super(printable(message), options);
  }
}
