// The control server: serves the client, creates and ends session processes, and lets
// authenticated WebSockets through to them. It never touches the data itself.
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { errorMessage } from '../../shared/errors.js';
import { ANSWERS_FOLDER } from '../store/format.js';
import { setClientCacheHeaders } from './client-cache.js';
import { DatasetCatalog, type DatasetSpec } from './dataset-catalog.js';
import { ControlError } from './errors.js';
import { healthRoutes } from './routes/health.js';
import { datasetRoutes } from './routes/datasets.js';
import { sessionRoutes } from './routes/sessions.js';
import { LocalProcessRuntime } from './runtime/local-process-runtime.js';
import type { SessionRuntime } from './runtime/types.js';
import { RemoteRuntime, type RemoteRuntimeOptions } from './runtime/remote/remote-runtime.js';
import { SessionManager, type SessionLimits } from './session-manager.js';
import { attachWebSocketGateway } from './ws-gateway.js';
import { checkMemoryBudget } from './memory-budget.js';
import { installHttpGuard } from './access/http-guard.js';
import { OriginPolicy } from './access/origin-policy.js';
import { OwnerIdentity } from './access/owner.js';

export interface ControlServerOptions {
  host: string;
  port: number;
  datasets: readonly DatasetSpec[];
  storeDir: string;
  /** The built client (vite output); omitted in API-only tests. */
  clientDir?: string;
  limits: SessionLimits;
  /** Warm session processes kept ready. */
  poolSize: number;
  /** Origins allowed besides the server's own and `publicUrl` (scheme://host:port, exactly). */
  allowedOrigins?: readonly string[];
  /** `--public-url`: where users reach the server (a proxy's https origin, say): its name and origin are allowed. */
  publicUrl?: string;
  /** `--trust-user-header`: the header an authenticating proxy names the user in; the owner is that user. */
  trustUserHeader?: string;
  /** `--admin-token`: an operator presenting it (Authorization: Bearer) sees and may end every session. */
  adminToken?: string;
  /** Fastify's logger: off, on at a level, or at a level into a stream (one JSON line per event). */
  logger?: boolean | { level: string; stream?: { write(line: string): void } };
  /** Defaults to local child processes (or remote ones, with `remote`). */
  runtime?: SessionRuntime;
  /**
   * Sessions on other hosts (runtime/remote): who launches them (Slurm jobs, a command), the
   * address they dial back to, and their own listeners' address. Absent: local child processes.
   */
  remote?: Pick<RemoteRuntimeOptions, 'launcher' | 'listen' | 'sessionListenHost'>;
  /** How often the served folders are read for new runs (ms; 0: never). Default NEW_RUNS_POLL_MS. */
  newRunsPollMs?: number;
  /**
   * Whether the sessions of a store share their answers through files in `<storeDir>/answers`
   * (session/answer-cache.ts). Off unless asked: `tickscope serve` asks (`--no-answer-cache`
   * turns it off); a benchmark of query times must not read answers computed by an earlier run.
   * `minCostMs`: the session time under which an answer is not kept (tests set 0).
   */
  answerCache?: boolean | { minCostMs: number };
}


/** A served folder's listing is read this often for new runs' files (dataset-catalog.ts). */
export const NEW_RUNS_POLL_MS = 5_000;

export interface ControlServer {
  app: FastifyInstance;
  sessions: SessionManager;
  datasets: DatasetCatalog;
  /** http://host:port */
  url: string;
  /** Ends every session (server-shutdown), then stops listening. */
  close(): Promise<void>;
}

export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { maxSessions, memoryLimit, memoryBudgetBytes } = options.limits;
  checkMemoryBudget(maxSessions, memoryLimit, memoryBudgetBytes);
  // Both throw on a bad flag, before anything is started.
  const policy = new OriginPolicy({
    boundHost: options.host,
    ...(options.publicUrl !== undefined ? { publicUrl: options.publicUrl } : {}),
    extraOrigins: options.allowedOrigins ?? [],
  });
  const owners = new OwnerIdentity({
    ...(options.trustUserHeader !== undefined ? { trustUserHeader: options.trustUserHeader } : {}),
    ...(options.adminToken !== undefined ? { adminToken: options.adminToken } : {}),
    secureCookie: options.publicUrl?.startsWith('https:') ?? false,
  });
  const app = Fastify({
    logger: options.logger ?? { level: 'info' },
    // Close() comes after every session has ended: remaining connections (status streams,
    // keep-alive) are cut rather than waited for.
    forceCloseConnections: true,
    // A tab polls /api/* every few seconds: one debug line per request (onResponse below), not
    // Fastify's two info lines.
    logController: new LogController({ disableRequestLogging: true }),
    // Reject unknown properties instead of silently dropping them.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  // Sessions ended by the server's own shutdown are expected: the shutdown line says it once.
  const lifecycle = (event: string, fields: Record<string, unknown>) =>
    app.log[fields.reason === 'server-shutdown' ? 'debug' : 'info']({ event, ...fields }, event);
  const pool = {
    poolSize: Math.min(options.poolSize, maxSessions),
    // The hard bound on processes: warm ones count toward --max-sessions (admission below).
    maxProcesses: maxSessions,
    ...(options.limits.heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs: options.limits.heartbeatTimeoutMs } : {}),
    onLog: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => app.log[level]({ event: 'runtime', ...fields }, message),
  };
  const runtime =
    options.runtime ??
    (options.remote
      ? // A remote start adds the scheduler's placement and the job's own start to the process's.
        await RemoteRuntime.start({ ...pool, ...options.remote, warmTimeoutMs: 60_000 })
      : new LocalProcessRuntime({ ...pool, warmTimeoutMs: 15_000 }));
  const datasets = new DatasetCatalog(options.datasets, options.storeDir, lifecycle);
  const answerCache = options.answerCache
    ? { dir: path.join(options.storeDir, ANSWERS_FOLDER), ...(typeof options.answerCache === 'object' ? options.answerCache : {}) }
    : undefined;
  const limits = answerCache ? { ...options.limits, answerCache } : options.limits;
  const sessions = new SessionManager(runtime, datasets, limits, lifecycle);

  // Every reply of an error: the control server's own from its catalogue (errors.ts), Fastify's
  // (validation, 404 of a route) with the status they carry.
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ControlError) {
      if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
      return reply.code(error.statusCode).send(error.reply());
    }
    const { statusCode = 500, name = 'Error' } = error as { statusCode?: number; name?: string };
    if (statusCode >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(statusCode).send({ statusCode, error: name, message: errorMessage(error) });
  });

  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, `${request.method} ${request.url}`);
  });
  installHttpGuard(app, policy, owners);
  await app.register(sessionRoutes, { sessions });
  await app.register(datasetRoutes, { datasets });
  await app.register(healthRoutes, { sessions });
  if (options.clientDir && existsSync(options.clientDir)) {
    await app.register(fastifyStatic, { root: options.clientDir, wildcard: false, cacheControl: false, setHeaders: setClientCacheHeaders });
  } else {
    app.get('/', async (_request, reply) =>
      reply.type('text/plain').send('The client is not built: run `npm run build`, then restart.\n'),
    );
  }

  attachWebSocketGateway(app.server, sessions, { policy, owners, log: lifecycle });
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  // Requests are only read from the next tick on: the port is known before the first one.
  policy.listeningOn(port);
  owners.listeningOn(port);
  datasets.prepareAll();
  datasets.watchForNewRuns(options.newRunsPollMs ?? NEW_RUNS_POLL_MS);

  let closing: Promise<void> | null = null;
  return {
    app,
    sessions,
    datasets,
    url: `http://${displayHost(options.host)}:${port}`,
    close: () =>
      (closing ??= (async () => {
        datasets.close();
        await sessions.shutdown();
        await app.close();
      })()),
  };
}

/** A name a browser on this machine can use for the bound address (a wildcard is not one). */
function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '[::]') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
