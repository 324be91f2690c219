// Entry of the preparation child process: child_process.fork(dist/server/prepare/child.js).
// Serves one { type: 'prepare' } message, then exits 0 ('prepared') or 1 ('failed'), so a crash
// or an out-of-memory in DuckDB cannot take the control server (or the CLI's terminal) down.

import { errorMessage } from '../../shared/errors.js';
import { PrepareError } from './errors.js';
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

/** Peak RSS of this process in bytes (Linux reports maxRSS in KiB). */
function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

if (!process.send) {
  process.stderr.write('server/prepare/child.js must be started with child_process.fork\n');
  process.exit(2);
}

// The parent went away: nobody wants the result any more.
process.on('disconnect', () => process.exit(1));

let started = false;
const crashAt = process.env['TICKSCOPE_TEST_CRASH_PHASE'];
process.on('message', (msg: unknown) => {
  if (started) return;
  if (!isPrepareRequest(msg)) {
    void finish({ type: 'failed', message: `preparation child: unexpected message ${JSON.stringify(msg)}` }, 1);
    return;
  }
  started = true;
  let lastSent = 0;
  let lastPhase = '';
  const { type: _prepare, ...settings } = msg;
  prepareDataset({
    ...settings,
    onProgress: (p) => {
      const now = Date.now();
      // Throttle, but never drop a phase change or the end.
      if (now - lastSent < 200 && p.phase === lastPhase && p.fraction < 1) return;
      lastSent = now;
      lastPhase = p.phase;
      const sent = send({ type: 'progress', ...p });
      // Test hook: die the hard way (as a DuckDB crash would) on reaching a phase.
      if (crashAt && p.phase === crashAt) void sent.then(() => process.kill(process.pid, 'SIGKILL'));
    },
  }).then(
    (r) => finish({ type: 'prepared', ...r, peakRssBytes: peakRss() }, 0),
    (err: unknown) => finish({ type: 'failed', message: errorMessage(err), lines: err instanceof PrepareError, peakRssBytes: peakRss() }, 1),
  );
});
