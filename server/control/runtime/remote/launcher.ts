// How a remote session process comes to exist somewhere: a job a scheduler places (Slurm), or a
// plain process started by a command (this host, another network namespace, ssh). The runtime
// (remote-runtime.ts) only launches, waits for the start, and kills; where is the launcher's.
import { spawn } from 'node:child_process';
import { SESSION_NODE_FLAGS, sessionEnvironment } from '../../../session/contract.js';
import { sessionEntry } from '../session-entry.js';

export interface LaunchedSession {
  /** What an operator finds it by: a job id, a pid. */
  readonly id: string;
  /** The node it was placed on, once known (null: not yet, or the launcher does not say). */
  readonly node: string | null;
  /**
   * Resolves once it runs (a job placed and started); rejects when it cannot start now (the
   * cluster is full: a ControlError the tab is answered with) or failed to.
   */
  readonly started: Promise<void>;
  /** Resolves when it has ended, whoever ended it. */
  readonly ended: Promise<void>;
  /** Ends it for good (SIGKILL, scancel); idempotent, and harmless once it has ended. */
  kill(): void;
}

export interface SessionLauncher {
  /** For logs and errors: where sessions go. */
  readonly description: string;
  /** Starts a session process with `env` added to its environment (REMOTE_ENV). */
  launch(env: Record<string, string>): LaunchedSession;
  /** Ends everything it launched that may still run (the control server's shutdown). */
  close(): Promise<void>;
  /**
   * A session on `node` was lost without being asked to end (it crashed, or went silent and was
   * killed): the node may be dead or cut off, so new sessions should go elsewhere for a while (a
   * scheduler learns it only after its own timeout, and may place them there meanwhile).
   */
  nodeSuspect?(node: string): void;
}

/** The session process's command: node, its flags (contract.ts) and the entry. */
export function sessionCommand(): string[] {
  return [process.execPath, ...SESSION_NODE_FLAGS, sessionEntry().path];
}

/**
 * Starts each session as a plain process, behind `prefix` (e.g. `nsenter --net=/run/netns/h2`,
 * or `ssh host`): the same protocol as a cluster's, without a scheduler. Its own process group,
 * so a kill takes whatever the prefix started too.
 */
export class CommandLauncher implements SessionLauncher {
  private readonly running = new Set<LaunchedSession>();

  constructor(private readonly prefix: readonly string[] = []) {}

  get description(): string {
    return this.prefix.length > 0 ? `processes started by \`${this.prefix.join(' ')}\`` : 'processes on this host';
  }

  launch(env: Record<string, string>): LaunchedSession {
    const [command, ...args] = [...this.prefix, ...sessionCommand()];
    const child = spawn(command!, args, { env: sessionEnvironment(env), stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    let exited = false;
    const ended = new Promise<void>((resolve) => child.once('close', () => ((exited = true), resolve())));
    const started = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => reject(new Error(`starting \`${command}\` for a session: ${error.message}`)));
    });
    const launched: LaunchedSession = {
      id: `pid ${child.pid ?? '?'}`,
      node: null,
      started,
      ended,
      kill: () => {
        if (exited || child.pid === undefined) return;
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group is already gone: nothing left to kill.
        }
      },
    };
    this.running.add(launched);
    void ended.then(() => this.running.delete(launched));
    return launched;
  }

  async close(): Promise<void> {
    const running = [...this.running];
    for (const launched of running) launched.kill();
    await Promise.all(running.map((launched) => launched.ended));
  }
}
