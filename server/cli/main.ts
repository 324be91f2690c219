// `tickscope serve | prepare | inspect | fixtures` (the command line of DESIGN.md) and `tickscope stores`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism, constants as osConstants } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { errorMessage } from '../../shared/errors.js';
import { ensureFixtures, FIXTURE_SCALES, generateFixtures, isFixtureScale, repoRoot } from '../../fixtures/generate.js';
import { startControlServer } from '../control/app.js';
import { HEARTBEAT_TIMEOUT_MS, QUEUE_LENGTH } from '../control/session-manager.js';
import { DEFAULT_MAX_SESSIONS, SESSION_BASE_BYTES, defaultMaxSessions, defaultMemoryBudget, defaultSessionMemory } from '../control/memory-budget.js';
import { SLURM_HEARTBEAT_TIMEOUT_MS, SlurmLauncher } from '../control/runtime/remote/slurm-launcher.js';
import type { DatasetSpec } from '../control/dataset-catalog.js';
import { BAD_ROW_POLICIES, type BadRowPolicy } from '../prepare/description.js';
import { inspectDataset } from '../prepare/inspect.js';
import { formatSize, parseSize } from '../os/memory.js';
import { unreadArchivesText } from '../prepare/inputs/index.js';
import { defaultMemoryLimit } from '../prepare/memory.js';
import { prepareInChild } from '../prepare/run-in-child.js';
import { listStores, pruneStores, unreadableByThisBuild } from '../prepare/store-dir.js';
import { STORE_FORMAT_VERSION } from '../store/format.js';
import { formatInspectReport } from './inspect-report.js';
import { inputHelp } from './input-help.js';
import { defaultLogFormat, LOG_FORMATS, LOG_LEVELS, loggerOptions } from './log-output.js';
import { formatCount, formatDuration, ProgressBar } from './progress.js';

const DEMO_SEED = 42;
/** A Slurm session's DuckDB memory_limit unless --session-memory says otherwise. */
const SLURM_SESSION_MEMORY = '1GiB';

/** A size option (parseSize), kept as written: DuckDB reads the same text. */
function size(name: string) {
  return (value: string): string => {
    try {
      parseSize(value, name);
    } catch (error) {
      throw new InvalidArgumentError(errorMessage(error));
    }
    return value;
  };
}

function integer(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

/** 'host', 'host:port', '[v6]:port' -> [host, port?]. */
function splitHostPort(address: string): [string, number | undefined] {
  const bracketed = /^\[(.*)\](?::(\d*))?$/.exec(address);
  if (bracketed) return [bracketed[1]!, bracketed[2] === undefined ? undefined : Number(bracketed[2])];
  const parts = address.split(':');
  return parts.length === 2 ? [parts[0]!, Number(parts[1])] : [address, undefined];
}

function storeDir(): string {
  return path.join(repoRoot(), '.cache', 'stores');
}

/** One dataset per --data folder, named after the folder; --mapping and --on-bad-rows apply to each. */
function datasetSpecs(paths: readonly string[], description: { mappingFile?: string; onBadRows?: BadRowPolicy }): DatasetSpec[] {
  return paths.map((input) => ({ id: path.basename(path.resolve(input)).replace(/[^A-Za-z0-9_.-]/g, '_'), input: path.resolve(input), ...description }));
}

const MAPPING_HELP = 'dataset description (JSON: column names, timezone, capital, onBadRows...) read instead of the tickscope.json beside the data';
const onBadRowsOption = () =>
  new Option('--on-bad-rows <policy>', 'rows with NaN, null keys or duplicate keys: fail (list them all) or drop (and report them); overrides onBadRows of the description').choices(
    BAD_ROW_POLICIES,
  );

/** The description options of a command, as prepare settings take them. */
function descriptionOptions(options: { mapping?: string; onBadRows?: BadRowPolicy }): { mappingFile?: string; onBadRows?: BadRowPolicy } {
  return { ...(options.mapping ? { mappingFile: path.resolve(options.mapping) } : {}), ...(options.onBadRows ? { onBadRows: options.onBadRows } : {}) };
}

const program = new Command('tickscope').description('Drill into large backtests in a browser.').showHelpAfterError();

program
  .command('serve')
  .addHelpText('after', inputHelp)
  .description('start the control server (generates and prepares a demo backtest when no --data is given)')
  .option('--data <dirs...>', 'dataset folders (bars/ and trades/ Parquet; see README)')
  .option('--mapping <file>', MAPPING_HELP)
  .addOption(onBadRowsOption())
  .option('--port <n>', 'port to listen on', integer('--port', 0), 8080)
  .option('--host <address>', 'interface to bind; anything but loopback exposes every session', '127.0.0.1')
  .option('--idle-timeout <s>', 'seconds a session lives with no tab connected', integer('--idle-timeout', 1), 60)
  .option('--lifetime <s>', 'end every session after this many seconds (0 = never)', integer('--lifetime', 0), 0)
  .option('--max-sessions <n>', `live sessions allowed at once (default ${DEFAULT_MAX_SESSIONS}, fewer when the memory budget cannot hold them)`, integer('--max-sessions', 1))
  .option('--pool-size <n>', 'warm session processes kept ready', integer('--pool-size', 0), 2)
  .option('--session-memory <size>', 'DuckDB memory_limit of each session (default: the memory budget shared by --max-sessions, 64MiB to 1GiB)', size('--session-memory'))
  .option('--session-threads <n>', 'DuckDB threads of each session', integer('--session-threads', 1), Math.min(2, availableParallelism()))
  .option('--memory-budget <size>', 'memory all sessions together may use (default 75% of this machine, or of its container\'s limit)', size('--memory-budget'))
  .option('--queue-length <n>', 'tab requests that may wait for a free session slot (beyond them: 503)', integer('--queue-length', 0), QUEUE_LENGTH)
  .option('--heartbeat-timeout <s>', `end a session whose process is silent this many seconds (reason unresponsive; default ${HEARTBEAT_TIMEOUT_MS / 1000}, ${SLURM_HEARTBEAT_TIMEOUT_MS / 1000} with --runtime slurm)`, integer('--heartbeat-timeout', 2))
  .option('--public-url <url>', 'where users reach this server (e.g. https://tickscope.example through a proxy): its host name and origin are allowed')
  .option('--trust-user-header <name>', 'the owner of a session is the user this request header names (set by an authenticating proxy, e.g. X-Forwarded-User); only with such a proxy in front')
  .addOption(new Option('--log-format <format>', 'log lines: pretty (one short line per event) or json (one object per line); default pretty on a terminal, json otherwise').choices(LOG_FORMATS))
  .addOption(new Option('--log-level <level>', 'least severe level logged (debug adds every HTTP request)').choices(LOG_LEVELS).default('info'))
  .option('--no-answer-cache', "compute every answer in each session: no answers shared between the sessions of a store (kept in the store folder's answers/)")
  .addOption(new Option('--runtime <where>', 'where session processes run: local children, or Slurm jobs on a cluster (docs/cluster.md)').choices(['local', 'slurm']).default('local'))
  .option('--slurm-partition <name>', 'with --runtime slurm: the partition of the session jobs (default: the cluster\'s default)')
  .option('--slurm-args <args>', 'with --runtime slurm: more sbatch arguments for each session job, e.g. "--account=research --qos=interactive"')
  .option('--slurm-output <pattern>', 'with --runtime slurm: where each session job writes its output (sbatch --output, %j = job id); default nowhere')
  .option('--cluster-address <host[:port]>', 'with --runtime slurm: the address of this machine that the cluster nodes reach (sessions dial back to it; default --host), and its port (default: any free one)')
  .option('--admin-token <token>', 'operator token (Authorization: Bearer) that lists and ends every session; prefer the TICKSCOPE_ADMIN_TOKEN environment variable, which other users cannot read in the process list')
  .action(async (options) => {
    const dataPaths: string[] = options.data ?? [await demoDataset()];
    let memoryBudgetBytes = options.memoryBudget ? parseSize(options.memoryBudget, '--memory-budget') : defaultMemoryBudget();
    const adminToken: string | undefined = options.adminToken ?? (process.env.TICKSCOPE_ADMIN_TOKEN || undefined);
    const slurm = options.runtime === 'slurm';
    // On a cluster the sessions' memory is the nodes', which Slurm accounts for: this machine's
    // budget does not bound them, and a session gets a fixed limit unless told.
    if (slurm) memoryBudgetBytes = Number.MAX_SAFE_INTEGER;
    const maxSessions: number = options.maxSessions ?? defaultMaxSessions(memoryBudgetBytes);
    const memoryLimit: string = options.sessionMemory ?? (slurm ? SLURM_SESSION_MEMORY : defaultSessionMemory(maxSessions, memoryBudgetBytes));
    let remote: Parameters<typeof startControlServer>[0]['remote'];
    if (slurm) {
      const [clusterHost, clusterPort] = splitHostPort(options.clusterAddress ?? options.host);
      if (/^(127\.|::1$|localhost$|0\.0\.0\.0$|::$)/.test(clusterHost)) {
        return fail('serve', `--runtime slurm: the nodes cannot dial back to ${clusterHost}; give --cluster-address, an address of this machine they reach`);
      }
      if (clusterPort !== undefined && !(Number.isInteger(clusterPort) && clusterPort > 0 && clusterPort < 65536)) {
        return fail('serve', `--cluster-address ${options.clusterAddress}: the port must be 1-65535`);
      }
      remote = {
        listen: { host: clusterHost, ...(clusterPort !== undefined ? { port: clusterPort } : {}) },
        launcher: new SlurmLauncher({
          ...(options.slurmPartition ? { partition: options.slurmPartition } : {}),
          ...(options.slurmArgs ? { extraArgs: String(options.slurmArgs).split(/\s+/).filter(Boolean) } : {}),
          ...(options.slurmOutput ? { output: options.slurmOutput } : {}),
          memoryMiB: Math.ceil((parseSize(memoryLimit, '--session-memory') + SESSION_BASE_BYTES) / 2 ** 20),
          cpus: options.sessionThreads,
          // The job's time limit backs the lifetime cap: a minute past it.
          ...(options.lifetime > 0 ? { timeLimitMinutes: Math.ceil(options.lifetime / 60) + 1 } : {}),
        }),
      };
    }
    const server = await startControlServer({
      logger: loggerOptions(options.logFormat ?? defaultLogFormat(Boolean(process.stdout.isTTY)), options.logLevel),
      host: options.host,
      port: options.port,
      ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
      ...(options.trustUserHeader ? { trustUserHeader: options.trustUserHeader } : {}),
      ...(adminToken ? { adminToken } : {}),
      datasets: datasetSpecs(dataPaths, descriptionOptions(options)),
      storeDir: storeDir(),
      clientDir: fileURLToPath(new URL('../../web/', import.meta.url)),
      poolSize: options.poolSize,
      answerCache: options.answerCache !== false,
      ...(remote ? { remote } : {}),
      limits: {
        maxSessions,
        idleTimeoutMs: options.idleTimeout * 1000,
        lifetimeMs: options.lifetime * 1000,
        startupTimeoutMs: 30_000,
        terminateGraceMs: 3000,
        memoryLimit,
        threads: options.sessionThreads,
        memoryBudgetBytes,
        queueLength: options.queueLength,
        heartbeatTimeoutMs: options.heartbeatTimeout !== undefined ? options.heartbeatTimeout * 1000 : slurm ? SLURM_HEARTBEAT_TIMEOUT_MS : HEARTBEAT_TIMEOUT_MS,
      },
    }).catch((error: unknown) => fail('serve', errorMessage(error)));
    if (!server) return;
    // Before the server says where it runs: a Ctrl-C or a `kill` as soon as it has must end the
    // sessions, not the process alone (the listing of stores below can take seconds).
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      server.app.log.debug({ event: 'server.stopping', signal }, 'stopping: ending every session');
      server.close().then(
        () => {
          process.stdout.write(`\nTickscope stopped (${signal}): every session ended.\n`);
          process.exit(0);
        },
        (error: unknown) => {
          server.app.log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.stdout.write(`\nTickscope is running at ${server.url}\n\n`);
    const stale = unreadableByThisBuild(await listStores(storeDir()));
    if (stale.length) {
      const bytes = stale.reduce((sum, e) => sum + e.bytes, 0);
      process.stdout.write(`${stale.length} prepared store(s) of other format versions (${formatSize(bytes)}) in ${storeDir()}; \`tickscope stores --prune\` removes them\n\n`);
    }
  });

program
  .command('prepare')
  .addHelpText('after', inputHelp)
  .description('prepare a dataset (folders, files or globs of Parquet, Arrow IPC, CSV or JSON) into a store that session processes open')
  .argument('<inputs...>', 'dataset folder(s), Parquet or Arrow files, globs (quote them), hive-partitioned folders')
  .option('--out <dir>', 'folder of prepared stores', storeDir())
  .option('--mapping <file>', MAPPING_HELP)
  .addOption(onBadRowsOption())
  .option('--memory-limit <size>', 'memory of the preparation; DuckDB spills to a temp folder beyond it (default: TICKSCOPE_PREPARE_MEMORY, else a quarter of this machine)', size('--memory-limit'))
  .option('--threads <n>', 'DuckDB threads (default: all cores)', integer('--threads', 1))
  .option('--temp-dir <dir>', 'where to spill when over the memory limit (default: <out>/.tmp)')
  .action(async (inputs: string[], options) => {
    const bar = new ProgressBar();
    const started = Date.now();
    // Stopped (Ctrl-C, `kill`, a service manager): the preparation child is killed too. Without
    // this, a `kill` of this process alone left the child building (and holding the dataset's
    // lock) until its DuckDB statement ended, tens of seconds on `large`.
    const stop = new AbortController();
    const stopOn = (signal: NodeJS.Signals) => () => stop.abort(new PreparationStopped(signal));
    const stopOnSigint = stopOn('SIGINT');
    const stopOnSigterm = stopOn('SIGTERM');
    process.once('SIGINT', stopOnSigint);
    process.once('SIGTERM', stopOnSigterm);
    try {
      const memoryLimit = options.memoryLimit ?? defaultMemoryLimit();
      // In a child process: whatever the input does to DuckDB, this command reports it by name.
      const result = await prepareInChild({
        input: inputs.map((i) => path.resolve(i)),
        storeDir: path.resolve(options.out),
        memoryLimit,
        ...(options.threads ? { threads: options.threads } : {}),
        ...descriptionOptions(options),
        ...(options.tempDir ? { tempDir: path.resolve(options.tempDir) } : {}),
        onProgress: (p) => bar.update(p),
        signal: stop.signal,
      });
      bar.stop();
      const secs = (Date.now() - started) / 1000;
      const how = result.reused ? (result.waited ? 'prepared by another process meanwhile' : 'already prepared') : `prepared in ${formatDuration(secs)}`;
      process.stdout.write(`${how}: ${result.storePath}\n`);
      if (!result.reused && result.rows) {
        process.stdout.write(`  ${formatCount(result.rows)} input rows, ${formatCount(result.rows / Math.max(secs, 1e-3))} rows/s, memory limit ${memoryLimit}, peak RSS ${formatSize(result.peakRssBytes)}\n`);
      }
      if (result.timezoneNote) process.stdout.write(`  timestamps: ${result.timezoneNote}\n`);
      for (const e of result.dataQuality) process.stdout.write(`  ${e.kind === 'dropped' ? 'dropped' : 'found'}: ${e.message}\n`);
      if (result.unreadArchives) process.stdout.write(`  ${unreadArchivesText(result.unreadArchives)}\n`);
    } catch (error) {
      bar.stop();
      fail('prepare', errorMessage(error));
      if (error instanceof PreparationStopped) process.exitCode = 128 + osConstants.signals[error.signal];
    } finally {
      process.removeListener('SIGINT', stopOnSigint);
      process.removeListener('SIGTERM', stopOnSigterm);
    }
  });

/** The reason a preparation was stopped by a signal to this process. */
class PreparationStopped extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`stopped by ${signal}: the preparation process was ended and no store was published (the next preparation removes what it left)`);
    this.name = 'PreparationStopped';
  }
}

program
  .command('inspect')
  .addHelpText('after', inputHelp)
  .description('dry run: how each file would be read (table, format, columns, what is missing) and a suggested tickscope.json; reads footers and a few rows only')
  .argument('<inputs...>', 'dataset folder(s), files or globs, as for prepare')
  .option('--mapping <file>', MAPPING_HELP)
  .option('--json', 'print one JSON document (for scripts)')
  .action(async (inputs: string[], options) => {
    try {
      const report = await inspectDataset({ inputs, ...descriptionOptions(options) });
      process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatInspectReport(report));
    } catch (error) {
      fail('inspect', errorMessage(error));
    }
  });

program
  .command('stores')
  .description('list the prepared stores; --prune removes those this build does not read (older formats)')
  .option('--dir <dir>', 'folder of prepared stores', storeDir())
  .option('--prune', 'remove the stores of other format versions and unreadable ones')
  .action(async (options) => {
    const dir = path.resolve(options.dir);
    try {
      const entries = await listStores(dir);
      if (entries.length === 0) process.stdout.write(`no prepared stores in ${dir}\n`);
      for (const e of entries) {
        const state =
          e.formatVersion === STORE_FORMAT_VERSION
            ? 'current'
            : e.formatVersion === null
              ? `unreadable (${e.problem})`
              : `format ${e.formatVersion}: this build reads ${STORE_FORMAT_VERSION} and prepares the dataset again`;
        process.stdout.write(`${e.fingerprint}  ${formatSize(e.bytes).padStart(8)}  ${state}${e.inputs.length ? `\n    from ${e.inputs.join(', ')}` : ''}\n`);
      }
      if (options.prune) {
        const removed = await pruneStores(dir);
        const freed = removed.reduce((sum, e) => sum + e.bytes, 0);
        process.stdout.write(removed.length ? `removed ${removed.length} store(s), ${formatSize(freed)} freed\n` : 'nothing to remove\n');
      } else {
        const stale = unreadableByThisBuild(entries);
        if (stale.length) process.stdout.write(`${stale.length} store(s) this build does not read; \`tickscope stores --prune\` removes them\n`);
      }
    } catch (error) {
      fail('stores', errorMessage(error));
    }
  });

program
  .command('fixtures')
  .description('generate a synthetic backtest (bars, trades, symbols, runs) as Parquet and Arrow')
  .option('--scale <scale>', FIXTURE_SCALES.join(' | '), 'demo')
  .option('--seed <n>', 'random seed', integer('--seed', 0), DEMO_SEED)
  .option('--out <dir>', 'output folder (default: the cache folder for this scale and seed, reused when present)')
  .action(async (options) => {
    const scale = String(options.scale);
    if (!isFixtureScale(scale)) return fail('fixtures', `--scale must be one of ${FIXTURE_SCALES.join(', ')}, not "${scale}"`);
    const progress = fixtureProgress();
    try {
      if (options.out) {
        const summary = await generateFixtures({ scale, seed: options.seed, outDir: path.resolve(options.out), onProgress: progress.update });
        progress.stop();
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      } else {
        const dir = await ensureFixtures(scale, options.seed, progress.update);
        progress.stop();
        process.stdout.write(`${dir}${progress.generated() ? '' : ' (cached)'}\n`);
      }
    } catch (error) {
      progress.stop();
      fail('fixtures', errorMessage(error));
    }
  });

/** Reports a command's failure on stderr and sets a failing exit code. */
function fail(command: string, message: string): undefined {
  process.stderr.write(`tickscope ${command}: ${message}\n`);
  process.exitCode = 1;
  return undefined;
}

/** A progress bar for fixture generation, with an ETA from the fraction done so far. */
function fixtureProgress() {
  const bar = new ProgressBar();
  const started = Date.now();
  let lastFraction = 0;
  return {
    update: (p: { phase: string; fraction: number }) => {
      const secs = (Date.now() - started) / 1000;
      lastFraction = p.fraction;
      bar.update({ phase: p.phase, fraction: p.fraction, etaSeconds: p.fraction > 0.03 ? (secs * (1 - p.fraction)) / p.fraction : null });
    },
    stop: () => bar.stop(),
    /** Whether anything was generated (false: the cached files were used). */
    generated: () => lastFraction > 0,
  };
}

async function demoDataset(): Promise<string> {
  process.stdout.write('No --data given: using the generated demo backtest (created on first run).\n');
  const progress = fixtureProgress();
  try {
    return await ensureFixtures('demo', DEMO_SEED, progress.update);
  } finally {
    progress.stop();
  }
}

await program.parseAsync(process.argv);
