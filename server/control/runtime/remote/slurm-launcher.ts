// Sessions as Slurm jobs: each is one batch job (`sbatch --wrap`) asking for the session's memory
// and cores, so Slurm's own placement decides the host; this file never picks one. A job that
// Slurm cannot start now (no node has room) is cancelled after a short wait and the tab is told
// to come back (503 with Retry-After): a pending job that may never start helps nobody.
// One `squeue` call a tick watches every job this control server has submitted, often while one
// is starting and seldom once all run (see RUNNING_WATCH_INTERVAL_MS).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { errorMessage } from '../../../../shared/errors.js';
import { controlErrors } from '../../errors.js';
import { sessionCommand, type LaunchedSession, type SessionLauncher } from './launcher.js';
import { sessionEnvironment } from '../../../session/contract.js';

const run = promisify(execFile);

/** The job name of every session: `squeue --name` finds them. */
export const SESSION_JOB_NAME = 'tickscope-session';
const WATCH_INTERVAL_MS = 500;
/**
 * Once every job has run this long, its session has registered (or its start has failed) and
 * its own control connection tells first when it ends: squeue is asked about them only every
 * RUNNING_WATCH_INTERVAL_MS, to forget the jobs that ended. Each squeue is a child process, and
 * forking one held the control server's event loop for 10 ms plus ~0.08 ms per MiB of its RSS
 * (20-30 ms at 150-200 MiB, measured here), twice a second, while it proxied every tab's frames.
 */
const STARTING_WATCH_MS = 15_000;
const RUNNING_WATCH_INTERVAL_MS = 10_000;
/**
 * `serve --runtime slurm`'s --heartbeat-timeout unless given: a node that dies without a word (power,
 * network) is noticed only by its sessions' silence, and their tabs should be elsewhere within 10 s,
 * which also holds a fresh job's start and a cold store open (3-4.5 s measured). Heartbeats come
 * every second, so 3 s is three missed in a row; a false alarm (a session stalled that long) costs
 * its tab a reconnect to a new session, nothing on screen. 5 s failed the 10 s on `large` once.
 */
export const SLURM_HEARTBEAT_TIMEOUT_MS = 3000;
/** How long new jobs avoid a node whose session was lost (Slurm's own SlurmdTimeout takes over after). */
const AVOID_LOST_NODE_MS = 60_000;
/** How long a session's job may stay pending before the tab is told the cluster is full. */
export const DEFAULT_PENDING_LIMIT_MS = 5000;

export interface SlurmLauncherOptions {
  /** `--partition`; default Slurm's default partition. */
  partition?: string;
  /** More sbatch arguments, as given (`--slurm-args`): an account, a QOS, a constraint. */
  extraArgs?: readonly string[];
  /** `--mem` of each job, MiB: the session's DuckDB limit plus the process's own base. */
  memoryMiB: number;
  /** `--cpus-per-task`: the session's DuckDB threads. */
  cpus: number;
  /** `--time` in minutes (the lifetime cap's backstop); absent: the partition's limit. */
  timeLimitMinutes?: number;
  /** Where each job's output goes (sbatch `--output`, `%j` is the job id); default nowhere. */
  output?: string;
  /** Environment of the Slurm commands (SLURM_CONF, say). */
  env?: NodeJS.ProcessEnv;
  pendingLimitMs?: number;
  /** How long a started job is watched every tick, and how often after that (ms); tests shorten them. */
  watch?: { startingMs: number; runningIntervalMs: number };
  onLog?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

interface Watched {
  submittedAt: number;
  /** Where Slurm placed it (squeue's node list), once it has. */
  placedOn: (node: string) => void;
  /** When squeue first saw it running (Date.now()); null until then. */
  startedAt: number | null;
  onStart: () => void;
  onCannotStart: (error: Error) => void;
  onEnd: () => void;
}

export class SlurmLauncher implements SessionLauncher {
  private readonly jobs = new Map<string, Watched>();
  /** Nodes new jobs avoid, until when (nodeSuspect). */
  private readonly avoided = new Map<string, number>();
  private watching: NodeJS.Timeout | null = null;
  private polling = false;
  private lastPolledAt = 0;

  constructor(private readonly options: SlurmLauncherOptions) {}

  get description(): string {
    return `Slurm jobs${this.options.partition ? ` in partition ${this.options.partition}` : ''}`;
  }

  launch(env: Record<string, string>): LaunchedSession {
    let cancelled = false;
    let jobId: string | null = null;
    let node: string | null = null;
    let settleStart!: { resolve: () => void; reject: (error: Error) => void };
    let settleEnd!: () => void;
    const started = new Promise<void>((resolve, reject) => (settleStart = { resolve, reject }));
    const ended = new Promise<void>((resolve) => (settleEnd = resolve));
    started.catch(() => undefined);
    const launched: LaunchedSession = {
      get id() {
        return jobId ? `job ${jobId}` : 'job (submitting)';
      },
      get node() {
        return node;
      },
      started,
      ended,
      kill: () => {
        cancelled = true;
        if (jobId) void this.cancel(jobId);
      },
    };
    this.submit(env).then(
      (id) => {
        jobId = id;
        this.jobs.set(id, {
          submittedAt: Date.now(),
          placedOn: (placed) => (node = placed),
          startedAt: null,
          onStart: settleStart.resolve,
          onCannotStart: settleStart.reject,
          onEnd: () => {
            settleStart.reject(new Error(`Slurm job ${id} ended before it started`));
            settleEnd();
          },
        });
        if (cancelled) void this.cancel(id);
        this.watch();
      },
      (error: unknown) => {
        settleStart.reject(error as Error);
        settleEnd();
      },
    );
    return launched;
  }

  nodeSuspect(node: string): void {
    this.avoided.set(node, Date.now() + AVOID_LOST_NODE_MS);
  }

  async close(): Promise<void> {
    if (this.watching) clearInterval(this.watching);
    this.watching = null;
    const ids = [...this.jobs.keys()];
    this.jobs.clear();
    if (ids.length > 0) await this.cancel(...ids);
  }

  private async submit(env: Record<string, string>): Promise<string> {
    const now = Date.now();
    for (const [node, until] of this.avoided) if (until <= now) this.avoided.delete(node);
    if (this.avoided.size === 0) return this.sbatch(env, []);
    const avoided = [...this.avoided.keys()];
    try {
      return await this.sbatch(env, avoided);
    } catch (error) {
      // Suspicion must not shut a small cluster: with every node of the partition avoided, sbatch
      // refuses the job at once ("Requested node configuration is not available"), and every tab
      // got a 500 until the first suspicion ran out. Once more, anywhere Slurm allows.
      this.avoided.clear();
      try {
        return await this.sbatch(env, []);
      } catch (retryError) {
        throw new Error(`${errorMessage(retryError)} (and with nodes ${avoided.join(', ')} avoided after a lost session: ${errorMessage(error)})`, { cause: retryError });
      }
    }
  }

  /** One `sbatch` of a session job, keeping off the `avoid`ed nodes; resolves with its id. */
  private async sbatch(env: Record<string, string>, avoid: readonly string[]): Promise<string> {
    const { partition, extraArgs = [], memoryMiB, cpus, timeLimitMinutes, output } = this.options;
    const args = [
      '--parsable',
      `--job-name=${SESSION_JOB_NAME}`,
      `--mem=${memoryMiB}M`,
      `--cpus-per-task=${cpus}`,
      '--ntasks=1',
      '--nodes=1',
      // A session cannot resume elsewhere: if its node fails, its tab asks for a new one.
      '--no-requeue',
      `--output=${output ?? '/dev/null'}`,
      // The session's one-time secret goes in the environment, never on the command line.
      '--export=ALL',
      ...(partition ? [`--partition=${partition}`] : []),
      ...(timeLimitMinutes ? [`--time=${timeLimitMinutes}`] : []),
      ...(avoid.length > 0 ? [`--exclude=${avoid.join(',')}`] : []),
      ...extraArgs,
      `--wrap=exec ${sessionCommand().map(shellQuote).join(' ')}`,
    ];
    try {
      const { stdout } = await run('sbatch', args, { env: sessionEnvironment({ ...this.options.env, ...env }), timeout: 30_000 });
      const id = stdout.trim().split(';')[0]!;
      if (!/^\d+$/.test(id)) throw new Error(`sbatch printed no job id: ${stdout.trim()}`);
      return id;
    } catch (error) {
      throw new Error(`submitting a session job to Slurm (sbatch ${args.slice(0, -1).join(' ')}): ${describeFailure(error)}`);
    }
  }

  private watch(): void {
    if (this.watching) return;
    this.watching = setInterval(() => void this.poll(), WATCH_INTERVAL_MS);
    this.watching.unref();
  }

  /** One squeue for all jobs: started ones leave the pending watch, gone ones end. */
  private async poll(): Promise<void> {
    if (this.polling || this.jobs.size === 0) return;
    const now = Date.now();
    const { startingMs, runningIntervalMs } = this.options.watch ?? { startingMs: STARTING_WATCH_MS, runningIntervalMs: RUNNING_WATCH_INTERVAL_MS };
    const starting = [...this.jobs.values()].some((job) => job.startedAt === null || now - job.startedAt < startingMs);
    if (!starting && now - this.lastPolledAt < runningIntervalMs) return;
    this.polling = true;
    this.lastPolledAt = now;
    try {
      const ids = [...this.jobs.keys()];
      const { stdout } = await run('squeue', ['--noheader', `--jobs=${ids.join(',')}`, '--states=all', '--format=%i|%T|%r|%N'], {
        env: { ...process.env, ...this.options.env },
        timeout: 10_000,
      });
      const states = new Map<string, { state: string; reason: string; node: string }>();
      for (const line of stdout.split('\n')) {
        const [id, state, reason, node] = line.trim().split('|');
        if (id && state) states.set(id, { state, reason: reason ?? '', node: node ?? '' });
      }
      for (const id of ids) this.update(id, states.get(id));
    } catch (error) {
      // squeue says "Invalid job id" once every job it was asked about has left its memory.
      if (/Invalid job id/i.test(describeFailure(error))) for (const id of [...this.jobs.keys()]) this.update(id, undefined);
      else this.options.onLog?.('warn', 'squeue failed; session jobs are watched again next tick', { error: describeFailure(error) });
    } finally {
      this.polling = false;
    }
  }

  private update(id: string, seen: { state: string; reason: string; node: string } | undefined): void {
    const job = this.jobs.get(id);
    if (!job) return;
    if (seen?.node) job.placedOn(seen.node);
    const state = seen?.state ?? 'GONE';
    if (state === 'PENDING' || state === 'CONFIGURING') {
      const waitedMs = Date.now() - job.submittedAt;
      if (state === 'PENDING' && waitedMs > (this.options.pendingLimitMs ?? DEFAULT_PENDING_LIMIT_MS)) {
        const avoided = [...this.avoided.keys()];
        job.onCannotStart(
          controlErrors.clusterFull(
            `Slurm kept the session's job ${id} pending for ${Math.round(waitedMs / 1000)} s (reason: ${seen?.reason || 'none given'}` +
              `${avoided.length > 0 ? `; nodes avoided after a lost session: ${avoided.join(', ')}` : ''})`,
          ),
        );
        // Suspicion must not shut a small cluster: the next job may go anywhere Slurm allows.
        this.avoided.clear();
        void this.cancel(id);
      }
      return;
    }
    if (state === 'RUNNING' || state === 'COMPLETING') {
      if (job.startedAt === null) {
        job.startedAt = Date.now();
        job.onStart();
      }
      if (state === 'RUNNING') return;
    }
    // Completed, failed, cancelled, timed out, node failure, or no longer known: it has ended.
    this.jobs.delete(id);
    job.onEnd();
  }

  private async cancel(...ids: string[]): Promise<void> {
    try {
      await run('scancel', ids, { env: { ...process.env, ...this.options.env }, timeout: 10_000 });
    } catch (error) {
      this.options.onLog?.('warn', 'scancel of session jobs failed', { jobs: ids.join(','), error: describeFailure(error) });
    }
  }
}

function shellQuote(word: string): string {
  return /^[\w./=:@-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function describeFailure(error: unknown): string {
  const { stderr, message } = error as { stderr?: string; message?: string };
  return (stderr?.trim() || message || String(error)).split('\n').slice(0, 3).join(' ');
}
