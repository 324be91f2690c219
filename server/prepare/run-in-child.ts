// Runs prepareDataset in a forked child process (child.ts) and relays its progress. Whatever the
// input does to DuckDB (a crash, an abort, running out of memory), only the child dies: the
// caller gets an error naming the input and what the child was reading at the time.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../../shared/errors.js';
import { printable, printableLines } from '../../shared/printable.js';
import { isChildToParentMessage, type PrepareRequestMessage } from './messages.js';
import type { PrepareProgress, PrepareResult, PrepareSettings } from './prepare.js';

export interface PrepareInChildOptions extends PrepareSettings {
  onProgress?: (p: PrepareProgress) => void;
  /** Aborting kills the child (SIGTERM, then SIGKILL after killGraceMs) and rejects once it has exited. */
  signal?: AbortSignal;
  killGraceMs?: number;
}

export interface PrepareInChildResult extends PrepareResult {
  /** Peak resident set size of the child process, in bytes. */
  peakRssBytes: number;
}

export const PREPARE_CHILD_PATH = fileURLToPath(new URL('./child.js', import.meta.url));

export function prepareInChild(opts: PrepareInChildOptions): Promise<PrepareInChildResult> {
  return new Promise<PrepareInChildResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(abortError(opts.signal));
      return;
    }
    const child = fork(PREPARE_CHILD_PATH, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    let settled = false;
    let result: PrepareInChildResult | null = null;
    let failure: string | null = null;
    let killTimer: NodeJS.Timeout | null = null;
    let last: PrepareProgress | null = null;
    const inputs = typeof opts.input === 'string' ? opts.input : opts.input.join(', ');

    const kill = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), opts.killGraceMs ?? 2000);
      killTimer.unref();
    };
    // If this process exits first, do not leave the child behind.
    const onParentExit = () => child.kill('SIGKILL');
    process.once('exit', onParentExit);
    // Rejected on the child's exit, so that a caller that stops on abort leaves no child behind.
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      kill();
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
        // Phase and source quote input paths, which reach the terminal and GET /api/datasets.
        const { type: _progress, phase, source, ...counts } = msg;
        last = { ...counts, phase: printable(phase, 512), ...(source ? { source: printable(source, 512) } : {}) };
        if (!settled) opts.onProgress?.(last);
      } else if (msg.type === 'prepared') {
        const { type: _prepared, ...prepared } = msg;
        result = prepared;
      } else {
        // Only a PrepareError's line breaks are kept (each line made printable again all the same).
        failure = msg.lines ? printableLines(msg.message.split('\n')) : printable(msg.message);
      }
    });
    child.on('error', (err) => {
      cleanup();
      kill();
      settle(() => reject(new Error(`preparation process for ${inputs} failed to start: ${errorMessage(err)}`, { cause: err })));
    });
    child.on('exit', (code, signal) => {
      cleanup();
      settle(() => {
        if (result && code === 0) resolve(result);
        else if (aborted) reject(abortError(opts.signal!));
        else if (failure !== null) reject(new Error(failure));
        else {
          const doing = last ? ` while ${last.phase}${last.source ? ` (${last.source})` : ''}` : '';
          reject(new Error(printable(`preparation of ${inputs} crashed${doing}: the preparation process exited with ${signal ? `signal ${signal}` : `code ${code ?? 'null'}`}; no store was published`)));
        }
      });
    });

    // The settings that are set; the options of this function (callbacks, signal) stay here.
    const request: PrepareRequestMessage = {
      type: 'prepare',
      input: opts.input,
      storeDir: opts.storeDir,
      ...(opts.memoryLimit ? { memoryLimit: opts.memoryLimit } : {}),
      ...(opts.threads ? { threads: opts.threads } : {}),
      ...(opts.description ? { description: opts.description } : {}),
      ...(opts.mappingFile ? { mappingFile: opts.mappingFile } : {}),
      ...(opts.onBadRows ? { onBadRows: opts.onBadRows } : {}),
      ...(opts.tempDir ? { tempDir: opts.tempDir } : {}),
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
