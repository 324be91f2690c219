// The session worker's entry: the scheduler (query-scheduler.ts) sends through the connection
// (connection.ts), and Comlink exposes both to the UI thread. Answers cross by transfer: a copy
// of their buffers goes, the cache keeps the originals. The UI thread never parses data.
import * as Comlink from 'comlink';
import { SessionConnection } from './connection.js';
import { cloneForTransfer } from './decode.js';
import { Downloads } from './downloads.js';
import { QueryScheduler } from './query-scheduler.js';
import type { Answer, SessionWorkerApi } from './types.js';

const scheduler = new QueryScheduler({
  send: (message) => connection.send(message),
  cacheBytes: 96 * 2 ** 20,
  // The server allows 32 requests in flight per socket; stay well below.
  maxInFlight: 24,
  maxBackgroundInFlight: 2,
  overloadedRetryMs: 100,
});
const downloads = new Downloads((message) => connection.send(message));
const connection = new SessionConnection(scheduler, downloads);

/** The answer with its buffers copied for transfer. */
function transferable<A extends Answer>(answer: A): A {
  const { value, buffers } = cloneForTransfer(answer.data);
  return Comlink.transfer({ ...answer, data: value }, buffers);
}

const api: SessionWorkerApi = {
  connect: (opts, onState) => connection.connect(opts, onState),
  retry: () => connection.retry(),
  ask: (spec, opts) => scheduler.ask(spec, opts).then(transferable),
  preview: async (spec) => {
    const answer = scheduler.preview(spec);
    return answer && transferable(answer);
  },
  prefetch: (specs, group) => scheduler.prefetch(specs, group),
  prefetchFirstView: (specs) => scheduler.prefetchFirstView(specs),
  release: (view) => scheduler.release(view),
  download: (spec, format, ticket, onProgress) => downloads.start(spec, format, ticket, onProgress),
  cancelDownload: (ticket) => downloads.cancel(ticket),
  cacheStats: () => scheduler.stats(),
  close: () => connection.close(),
};

Comlink.expose(api);
