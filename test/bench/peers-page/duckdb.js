// bench:peers, DuckDB-WASM: one question per tab over the fixture's Parquet, read by HTTP range
// requests from the bench's server. The question (SQL and parameters) and the files come from
// /config.json, written by test/bench/peers.ts; ?q= names the question, and ?q=engine only starts
// the engine (the unmeasured tab that puts it in the browser's cache).
import * as duckdb from '/duckdb-wasm/dist/duckdb-browser.mjs';

const ENGINE = {
  // The exception-handling build: DuckDB 0.9.1 with Parquet built in, single-threaded.
  wasm: '/duckdb-wasm/dist/duckdb-eh.wasm',
  worker: '/duckdb-wasm/dist/duckdb-browser-eh.worker.js',
};

async function ask() {
  const name = new URLSearchParams(location.search).get('q');
  const config = await (await peerFetch('/config.json')).json();
  const question = config.duckdb.questions[name];
  if (!question && name !== 'engine') throw new Error(`no DuckDB-WASM question "${name}" in /config.json`);
  const worker = new Worker(ENGINE.worker);
  // A worker that dies (its wasm aborted, out of memory) rejects nothing: say it here.
  worker.addEventListener('error', (event) => peerFailed(`DuckDB-WASM worker error: ${event.message}`));
  const db = new duckdb.AsyncDuckDB(new duckdb.VoidLogger(), worker);
  await db.instantiate(ENGINE.wasm);
  const connection = await db.connect();
  if (!question) return peerFinish({ ms: performance.now(), version: await db.getVersion() });
  for (const file of config.duckdb.files) {
    // directIO false: DuckDB-WASM's own read-ahead over HTTP, as an analyst would get by default.
    await db.registerFileURL(file.name, new URL(file.url, location.origin).href, duckdb.DuckDBDataProtocol.HTTP, false);
  }
  const readyMs = performance.now();
  const statement = await connection.prepare(question.sql);
  const table = await statement.query(...question.params);
  const answeredMs = performance.now();
  peerFinish({ ms: answeredMs, readyMs, queryMs: answeredMs - readyMs, rows: table.numRows, version: await db.getVersion() });
}

ask().catch(peerFailed);
