// Bundles the compiled session entry (dist/server/session/main.js) and what it imports into one
// file beside it, which session processes run (server/control/runtime/session-entry.ts says why).
// Run by `npm run build:server` after tsc. DuckDB stays outside: a native addon, loaded by path.
// Identifiers are not mangled, so a stack trace in a session's log still names its functions.
// apache-arrow says it has no side effects, but its node entry installs the Node stream adapters
// (toNodeStream, which downloads use) by assignment: tree-shaken, they were missing.
export default {
  input: 'dist/server/session/main.js',
  platform: 'node',
  external: [/^@duckdb\//],
  logLevel: 'warn',
  treeshake: { moduleSideEffects: [{ test: /[\\/]apache-arrow[\\/]Arrow\.node\.mjs$/, sideEffects: true }] },
  output: {
    file: 'dist/server/session/main.bundle.js',
    format: 'esm',
    codeSplitting: false,
    minify: { compress: true, mangle: false, codegen: true },
  },
};
