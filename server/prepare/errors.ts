/** An error whose message is meant for the user as is (names the input file, phase and column). */
export class PrepareError extends Error {
  override name = 'PrepareError';
}
