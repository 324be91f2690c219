// Session processes on other hosts: launched by a SessionLauncher (a Slurm job, a command), kept
// warm by the same pool as local ones, reached over a control connection they dial back, and
// their tabs proxied to them. See contract.ts ("Remote sessions") for the process's side and
// docs/cluster.md for the operator's.
import { ProcessPool, type ProcessPoolOptions } from '../process-pool.js';
import { REMOTE_ENV } from '../../../session/contract.js';
import type { SessionLauncher } from './launcher.js';
import { RemoteSessionProcess } from './remote-session-process.js';
import { SessionListener } from './session-listener.js';

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
  private constructor(
    options: RemoteRuntimeOptions,
    private readonly listener: SessionListener,
    private readonly launcher: SessionLauncher,
  ) {
    super(options, (onAssign) => {
      const expected = listener.expect();
      const launched = launcher.launch({
        [REMOTE_ENV.control]: listener.address,
        [REMOTE_ENV.secret]: expected.secret,
        ...(options.sessionListenHost ? { [REMOTE_ENV.listenHost]: options.sessionListenHost } : {}),
      });
      const process = new RemoteSessionProcess(launched, expected.link, onAssign, (node) => {
        options.onLog?.('warn', 'a session was lost without being asked to end: new sessions avoid its node for a while', { node });
        launcher.nodeSuspect?.(node);
      });
      void process.exited.then(() => expected.cancel());
      return process;
    });
  }

  static async start(options: RemoteRuntimeOptions): Promise<RemoteRuntime> {
    const listener = await SessionListener.listen({
      ...options.listen,
      log: (level, message, fields) => options.onLog?.(level, message, fields),
    });
    return new RemoteRuntime(options, listener, options.launcher);
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
