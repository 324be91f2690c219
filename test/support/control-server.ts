import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { runsSessionEntry, SESSION_BUNDLE, SESSION_MAIN } from '../../server/control/runtime/session-entry.js';
import { CommandLauncher } from '../../server/control/runtime/remote/launcher.js';
import { startControlServer, type ControlServer, type ControlServerOptions } from '../../server/control/app.js';
import type { SessionLimits } from '../../server/control/session-manager.js';
import { testStoreDir, tinyDataset } from './datasets.js';
import { CLI_ENTRY } from './cli.js';

/**
 * The runtimes the lifecycle tests run against: local children (IPC, sockets handed off), and
 * remote processes (a control connection they dial back, tabs proxied), started here by a plain
 * command so that the protocol is tested without a cluster.
 */
export const RUNTIMES = ['local', 'remote'] as const;
export type RuntimeKind = (typeof RUNTIMES)[number];

/** A control server on 127.0.0.1 and a free port, over the tiny fixture, quiet. */
export async function startTestServer(
  overrides: Partial<Omit<ControlServerOptions, 'limits'>> & { limits?: Partial<SessionLimits>; runtimeKind?: RuntimeKind } = {},
): Promise<ControlServer> {
  const { limits, runtimeKind, ...rest } = overrides;
  return startControlServer({
    ...(runtimeKind === 'remote' ? { remote: { launcher: new CommandLauncher(), listen: { host: '127.0.0.1' } } } : {}),
    host: '127.0.0.1',
    port: 0,
    datasets: [{ id: 'tiny', input: await tinyDataset() }],
    storeDir: testStoreDir(),
    poolSize: 1,
    logger: false,
    ...rest,
    limits: {
      maxSessions: 10,
      idleTimeoutMs: 60_000,
      lifetimeMs: 0,
      startupTimeoutMs: 20_000,
      terminateGraceMs: 2000,
      memoryLimit: '256MB',
      threads: 1,
      memoryBudgetBytes: 16 * 2 ** 30,
      ...limits,
    },
  });
}

/** Polls until `predicate` holds or the time is up; returns whether it held. A predicate that runs a command wants a longer `intervalMs`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000, intervalMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return predicate();
}

/** True while the process runs; a zombie (exited, not yet reaped by its new parent) is gone. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No /proc entry: the process is gone and reaped.
    return false;
  }
}

/**
 * Live session processes whose parent is `parentPid` (a control server: this test process when
 * it runs one in-process, or a `tickscope serve` child), from the process table.
 */
export function sessionProcessesOf(parentPid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] is the state, fields[1] the parent pid.
      if (fields[0] === 'Z' || Number(fields[1]) !== parentPid) continue;
      if (runsSessionEntry(readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0'))) pids.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/**
 * Samples the count of `parentPid`'s session processes from the process table, continuously, on
 * a thread of its own (so a busy test event loop cannot make it miss a peak), until stopped.
 */
export function sampleSessionProcesses(parentPid: number): { stop(): Promise<{ max: number; samples: number }> } {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { readdirSync, readFileSync } = require('node:fs');
    let max = 0, samples = 0, stopped = false;
    parentPort.on('message', () => (stopped = true));
    const count = () => {
      let n = 0;
      for (const name of readdirSync('/proc')) {
        if (!/^\\d+$/.test(name)) continue;
        try {
          const stat = readFileSync('/proc/' + name + '/stat', 'utf8');
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          if (fields[0] === 'Z' || Number(fields[1]) !== workerData.parentPid) continue;
          const argv = readFileSync('/proc/' + name + '/cmdline', 'utf8').split('\\0');
          if (workerData.entries.some((entry) => argv.includes(entry))) n++;
        } catch { /* the process exited between readdir and read: nothing to count */ }
      }
      return n;
    };
    const loop = () => {
      if (stopped) return parentPort.postMessage({ max, samples });
      max = Math.max(max, count());
      samples++;
      setImmediate(loop);
    };
    loop();`;
  const worker = new Worker(code, { eval: true, workerData: { parentPid, entries: [SESSION_BUNDLE, SESSION_MAIN] } });
  const result = new Promise<{ max: number; samples: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    stop: async () => {
      worker.postMessage('stop');
      const outcome = await result;
      await worker.terminate();
      return outcome;
    },
  };
}

/** `tickscope serve` on the tiny fixture and a free port, as its own process; resolves with its URL. */
export async function startServeCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string; stderr(): string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [CLI_ENTRY, 'serve', '--data', await tinyDataset(), '--port', '0', '--session-threads', '1', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 60_000);
    // Read on to the end (a full pipe would block the server's logging), keeping only a tail.
    child.stdout!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      const match = /running at (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      stderr = (stderr + chunk.toString()).slice(-1_000_000);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    url,
    /** What it printed on stderr (Node's warnings among it). */
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
