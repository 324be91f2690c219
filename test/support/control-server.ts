import { readFileSync } from 'node:fs';
import { startControlServer, type ControlServer, type ControlServerOptions } from '../../server/control/app.js';
import type { SessionLimits } from '../../server/control/session-manager.js';
import { testStoreDir, tinyDataset } from './datasets.js';

/** A control server on 127.0.0.1 and a free port, over the tiny fixture, quiet. */
export async function startTestServer(
  overrides: Partial<Omit<ControlServerOptions, 'limits'>> & { limits?: Partial<SessionLimits> } = {},
): Promise<ControlServer> {
  const { limits, ...rest } = overrides;
  return startControlServer({
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

/** Polls until `predicate` holds or the time is up; returns whether it held. */
export async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
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
