// Runs prepareDataset in a forked child process (child.ts) and relays its progress.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isChildToParentMessage, type PrepareRequestMessage } from './messages.js';
import type { PrepareProgress, PrepareResult } from './prepare.js';

export interface PrepareInChildOptions {
  input: string;
  storeDir: string;
  memoryLimit?: string;
  onProgress?: (p: PrepareProgress) => void;
  /** Aborting kills the child (SIGTERM, then SIGKILL after killGraceMs) and rejects. */
  signal?: AbortSignal;
  killGraceMs?: number;
}

export const PREPARE_CHILD_PATH = fileURLToPath(new URL('./child.js', import.meta.url));

export function prepareInChild(opts: PrepareInChildOptions): Promise<PrepareResult> {
  return new Promise<PrepareResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(abortError(opts.signal));
      return;
    }
    const child = fork(PREPARE_CHILD_PATH, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    let settled = false;
    let result: PrepareResult | null = null;
    let failure: string | null = null;
    let killTimer: NodeJS.Timeout | null = null;

    const kill = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), opts.killGraceMs ?? 2000);
      killTimer.unref();
    };
    // If this process exits first, do not leave the child behind.
    const onParentExit = () => child.kill('SIGKILL');
    process.once('exit', onParentExit);
    const onAbort = () => {
      kill();
      settle(() => reject(abortError(opts.signal!)));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    function settle(fn: () => void) {
      if (settled) return;
      settled = true;
      fn();
    }
    function cleanup() {
      process.removeListener('exit', onParentExit);
      opts.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
    }

    child.on('message', (msg: unknown) => {
      if (!isChildToParentMessage(msg)) return;
      if (msg.type === 'progress') {
        if (!settled) opts.onProgress?.({ phase: msg.phase, fraction: msg.fraction });
      } else if (msg.type === 'prepared') {
        result = { storePath: msg.storePath, fingerprint: msg.fingerprint, reused: msg.reused };
      } else {
        failure = msg.message;
      }
    });
    child.on('error', (err) => {
      cleanup();
      kill();
      settle(() => reject(new Error(`preparation process failed to start: ${err.message}`)));
    });
    child.on('exit', (code, signal) => {
      cleanup();
      settle(() => {
        if (result && code === 0) resolve(result);
        else if (failure !== null) reject(new Error(failure));
        else reject(new Error(`preparation process exited with code ${code ?? 'null'} / signal ${signal ?? 'null'}`));
      });
    });

    const request: PrepareRequestMessage = {
      type: 'prepare',
      input: opts.input,
      storeDir: opts.storeDir,
      ...(opts.memoryLimit ? { memoryLimit: opts.memoryLimit } : {}),
    };
    child.send(request);
  });
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('preparation aborted');
  err.name = 'AbortError';
  return err;
}
