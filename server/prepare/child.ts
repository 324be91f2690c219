// Entry of the preparation child process: child_process.fork(dist/server/prepare/child.js).
// Serves one { type: 'prepare' } message, then exits 0 ('prepared') or 1 ('failed'), so a crash
// or an out-of-memory in DuckDB cannot take the control server down.

import { isPrepareRequest, type ChildToParentMessage } from './messages.js';
import { prepareDataset } from './prepare.js';

function send(msg: ChildToParentMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

async function finish(msg: ChildToParentMessage, code: number): Promise<never> {
  await send(msg);
  process.exit(code);
}

if (!process.send) {
  process.stderr.write('server/prepare/child.js must be started with child_process.fork\n');
  process.exit(2);
}

// The parent went away: nobody wants the result any more.
process.on('disconnect', () => process.exit(1));

let started = false;
process.on('message', (msg: unknown) => {
  if (started) return;
  if (!isPrepareRequest(msg)) {
    void finish({ type: 'failed', message: `preparation child: unexpected message ${JSON.stringify(msg)}` }, 1);
    return;
  }
  started = true;
  let lastSent = 0;
  prepareDataset({
    input: msg.input,
    storeDir: msg.storeDir,
    ...(msg.memoryLimit ? { memoryLimit: msg.memoryLimit } : {}),
    onProgress: ({ phase, fraction }) => {
      const now = Date.now();
      // Throttle (phases change rarely, but keep the channel quiet if they ever do not).
      if (now - lastSent < 50 && fraction < 1) return;
      lastSent = now;
      void send({ type: 'progress', phase, fraction });
    },
  }).then(
    (r) => finish({ type: 'prepared', storePath: r.storePath, fingerprint: r.fingerprint, reused: r.reused }, 0),
    (err: unknown) => finish({ type: 'failed', message: err instanceof Error ? err.message : String(err) }, 1),
  );
});
