// bench:peers, Perspective: load the trade list (an Arrow IPC file the bench made from the
// fixture's trades.parquet) into a table in Perspective's worker, then a view sorted by P&L,
// descending, and its first 100 rows. ?engine only starts Perspective (the unmeasured tab that
// puts it in the browser's cache).
import perspective from '/perspective/cdn/perspective.js';

async function loadAndSort() {
  // The CDN build fetches its server wasm itself (../wasm/ beside it); the client wasm is given.
  perspective.init_client(peerFetch('/perspective/wasm/perspective-js.wasm'));
  const client = await perspective.worker();
  if (new URLSearchParams(location.search).has('engine')) return peerFinish({ ms: performance.now() });
  const config = await (await peerFetch('/config.json')).json();
  const arrow = await (await peerFetch(config.perspective.trades)).arrayBuffer();
  const tableStartMs = performance.now();
  const table = await client.table(arrow);
  const loadedMs = performance.now();
  const view = await table.view({ sort: [['pnl', 'desc']] });
  const top = await view.to_columns({ start_row: 0, end_row: 100 });
  const sortedMs = performance.now();
  peerFinish({
    ms: sortedMs,
    loadedMs,
    tableMs: loadedMs - tableStartMs,
    sortMs: sortedMs - loadedMs,
    rows: await table.size(),
    topPnl: top.pnl[0],
    arrowBytes: arrow.byteLength,
  });
}

loadAndSort().catch(peerFailed);
