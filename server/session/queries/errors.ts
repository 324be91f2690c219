import { printable } from '../../../shared/printable.js';

/** A request whose parameters are well-formed but do not fit this dataset (e.g. an unknown run). */
export class BadParamsError extends Error {
  constructor(message: string) {
    // The message quotes the client's values (an unknown symbol, a tag): made printable once here.
    super(printable(message));
    this.name = 'BadParamsError';
  }
}
