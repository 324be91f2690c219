#!/usr/bin/env node
// The CLI runs compiled JavaScript (no TypeScript loader): `npm run build` first.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../dist/server/cli/main.js', import.meta.url));
if (!existsSync(entry)) {
  process.stderr.write(`tickscope: ${entry} is missing; run \`npm run build\` first.\n`);
  process.exit(1);
}
await import(entry);
