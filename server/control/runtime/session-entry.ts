// The file a session process runs. The build bundles the session's code and what it imports into
// one file (server/session/bundle.config.mjs): tree-shaken, so the ~440 modules the compiled entry
// loads (all of apache-arrow's and TypeBox's, whatever the session uses of them) become one, and
// minified. Every session keeps its code's source and per-function metadata in its JS heap for as
// long as it lives: on `large`, an idle session's heap after a drill-down went 17.4 -> 13.4 MiB,
// its RSS 123.9 -> 119.5 MiB (#17: < 120 MiB).
//
// A bundle older than the compiled entry (`tsc` run alone after a change) would run the previous
// build's code, so then sessions run the compiled entry instead, and the runtime says why.
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SESSION_MAIN = fileURLToPath(new URL('../../session/main.js', import.meta.url));
export const SESSION_BUNDLE = fileURLToPath(new URL('../../session/main.bundle.js', import.meta.url));

export interface SessionEntry {
  path: string;
  /** Why the compiled entry runs instead of the bundle; null when the bundle runs. */
  fallback: string | null;
}

/** The bundle when it is there and no older than the compiled entry it was built from. */
export function chooseSessionEntry(bundle: string = SESSION_BUNDLE, main: string = SESSION_MAIN): SessionEntry {
  const modified = (file: string) => statSync(file, { throwIfNoEntry: false })?.mtimeMs;
  const bundledAt = modified(bundle);
  const compiledAt = modified(main);
  const rebuild = 'run `npm run build:server` to bundle it';
  if (bundledAt === undefined) return { path: main, fallback: `${bundle} is missing: ${rebuild}` };
  if (compiledAt !== undefined && compiledAt > bundledAt) return { path: main, fallback: `${bundle} is older than ${main}: ${rebuild}` };
  return { path: bundle, fallback: null };
}

let chosen: SessionEntry | null = null;

/** The entry sessions start with, chosen once per process. */
export function sessionEntry(): SessionEntry {
  chosen ??= chooseSessionEntry();
  return chosen;
}

/** Says, through a runtime's log, when its sessions will run the compiled entry. */
export function warnIfUnbundled(log: ((level: 'warn', message: string, fields: Record<string, unknown>) => void) | undefined): void {
  const entry = sessionEntry();
  if (entry.fallback) log?.('warn', `sessions run the unbundled entry, which takes more memory: ${entry.fallback}`, { entry: entry.path });
}

/** Whether a process's command line runs a session (either entry). */
export function runsSessionEntry(argv: readonly string[]): boolean {
  return argv.includes(SESSION_BUNDLE) || argv.includes(SESSION_MAIN);
}
