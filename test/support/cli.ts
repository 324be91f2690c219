// The command line of the build a test belongs to: bin/tickscope.js runs dist/, which the test's
// own build may not be, so tests start this file with `node` instead.
import { fileURLToPath } from 'node:url';

export const CLI_ENTRY = fileURLToPath(new URL('../../server/cli/main.js', import.meta.url));
