import { printable, printableLines } from '../../shared/printable.js';

/**
 * An error whose message is meant for the user as is (names the input file, phase and column).
 * Its message quotes what the input holds (column names, paths, DuckDB's words about them), so it
 * is made printable here, once for every message: a file cannot write escape sequences to the
 * terminal or forge log lines through its column names.
 */
export class PrepareError extends Error {
  override name = 'PrepareError';

  /**
   * `message`: one text, or its lines (a list of problems): each line is made printable on its
   * own, so the breaks between them are the message's and a break inside one is escaped.
   */
  constructor(message: string | readonly string[], options?: ErrorOptions) {
    super(typeof message === 'string' ? printable(message) : printableLines(message), options);
  }

  /** This error's message (printable already: not escaped again) and one more line, caused by it. */
  withLine(line: string): PrepareError {
    const error = new PrepareError([], { cause: this });
    error.message = `${this.message}\n${printable(line)}`;
    return error;
  }
}
