// What a bench:peers tab tells the bench (test/bench/peers.ts polls window.__peer): done, and
// either its figures or the error that stopped it. Times are performance.now(), whose origin is
// the navigation start of the bench's page.goto: "from tab open". A classic script, so that it is
// defined before the module that could fail to load.
window.__peer = { done: false };

/** Records the outcome once: the first of an answer and an error wins. */
function peerFinish(fields) {
  if (window.__peer.done) return;
  Object.assign(window.__peer, fields, { done: true });
}

function peerFailed(error) {
  peerFinish({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
}

/** fetch, refusing an error status with the URL (a 404 would otherwise surface as a parse error). */
async function peerFetch(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

// A rejection nobody awaited (inside the peer's library) would otherwise leave the tab waiting
// until the bench's timeout; it is the result instead.
window.addEventListener('unhandledrejection', (event) => peerFailed(event.reason));
window.addEventListener('error', (event) => peerFailed(event.error ?? event.message));
