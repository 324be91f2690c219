#!/usr/bin/env node
// The CLI runs compiled JavaScript (no TypeScript loader): `npm ci` builds it (the `prepare`
// script), as do `npm start` and `npm test`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../dist/server/cli/main.js', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write(`tickscope: ${entry} is missing: the build did not run (npm ci --ignore-scripts?); run \`npm run build\`.\n`);
  process.exit(1);
}
await import(entry);
