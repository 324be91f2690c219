// Session processes on other hosts: launched by a SessionLauncher (a Slurm job, a command), kept
// warm by the same pool as local ones, reached over a control connection they dial back, and
// their tabs proxied to them. See contract.ts ("Remote sessions") for the process's side and
// docs/cluster.md for the operator's.
import { ProcessPool, type ProcessPoolOptions } from '../process-pool.js';
import { warnIfUnbundled } from '../session-entry.js';
import { REMOTE_ENV } from '../../../session/contract.js';
import type { SessionLauncher } from './launcher.js';
import { RemoteSessionProcess } from './remote-session-process.js';
import { SessionListener } from './session-listener.js';

/**
 * How long after a tab takes a warm remote process its replacement is launched
 * (ProcessPoolOptions.refillDelayMs): past the tab's reply. Launching is a child process
 * (`sbatch`), whose fork held the control server's event loop for ~20 ms between the take and the
 * reply: POST /api/sessions took 24-43 ms on bench:sessions' cluster with it at once, 8-15 ms with
 * it 30 ms later (10 takes each, 1.5 s apart). Not longer: a job takes seconds to start, and
 * deferring it by 1.5 s made the next tab's start later (local-process-runtime.ts).
 */
export const REMOTE_REFILL_DELAY_MS = 50;

export interface RemoteRuntimeOptions extends ProcessPoolOptions {
  launcher: SessionLauncher;
  /**
   * Where sessions dial back: the address to listen on (reachable from every node), its port
   * (default any free one), and the name to give them when the bound one is not it.
   */
  listen: { host: string; port?: number; advertise?: string };
  /** The address each session's WebSocket listener binds on its host; default all. */
  sessionListenHost?: string;
}

export class RemoteRuntime extends ProcessPool {
  private readonly listener: SessionListener;
  private readonly launcher: SessionLauncher;

  private constructor(options: RemoteRuntimeOptions, listener: SessionListener) {
    const { launcher } = options;
    /** Every process launched and not yet exited. */
    const launched = new Set<RemoteSessionProcess>();
    /**
     * A session on `node` was lost: new sessions go elsewhere, and the jobs placed there that
     * have not registered yet are ended now rather than at the warm-up timeout (they hold the
     * pool's start slots meanwhile, and a failover would wait for them).
     */
    const suspect = (node: string) => {
      options.onLog?.('warn', 'a session was lost without being asked to end: new sessions avoid its node for a while', { node });
      launcher.nodeSuspect?.(node);
      for (const process of launched) if (!process.registered && process.node === node) process.terminate(0);
    };
    super({ refillDelayMs: REMOTE_REFILL_DELAY_MS, ...options }, (onAssign) => {
      const expected = listener.expect();
      const job = launcher.launch({
        [REMOTE_ENV.control]: listener.address,
        [REMOTE_ENV.secret]: expected.secret,
        ...(options.sessionListenHost ? { [REMOTE_ENV.listenHost]: options.sessionListenHost } : {}),
      });
      const process = new RemoteSessionProcess(job, expected.link, onAssign, suspect);
      launched.add(process);
      void process.exited.then(() => {
        expected.cancel();
        launched.delete(process);
      });
      return process;
    });
    this.listener = listener;
    this.launcher = launcher;
  }

  static async start(options: RemoteRuntimeOptions): Promise<RemoteRuntime> {
    warnIfUnbundled(options.onLog);
    const listener = await SessionListener.listen({
      ...options.listen,
      log: (level, message, fields) => options.onLog?.(level, message, fields),
    });
    return new RemoteRuntime(options, listener);
  }

  /** host:port sessions dial back to. */
  get controlAddress(): string {
    return this.listener.address;
  }

  override async close(): Promise<void> {
    await super.close();
    await this.launcher.close();
    await this.listener.close();
  }
}
