/** A request whose parameters are well-formed but do not fit this dataset (e.g. an unknown run). */
export class BadParamsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadParamsError';
  }
}
