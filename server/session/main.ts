// Entry of a session process: one per browser tab (or per shared key). See contract.ts for the
// lifecycle its runtime drives. It imports DuckDB before announcing itself `warm`, and opens the
// store the runtime expects (`preopen`) while it waits in the pool, so that a tab arriving for
// that store finds a process with nothing left to do.
import { cpuUsage } from 'node:process';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { DefaultPin } from '../../shared/default-pin.js';
import { errorMessage } from '../../shared/errors.js';
import { HEARTBEAT_INTERVAL_MS, sameStoreSettings, type FromSession, type SessionAssignment, type StoreSettings } from './contract.js';
import { controlLinkFromEnvironment, type ConnectionMessage } from './control-link.js';
import { AnswerCache } from './answer-cache.js';
import { IdleMemory } from './idle-memory.js';
import { QueryRunner } from './query-runner.js';
import { SocketHandler, type SessionContext } from './socket-handler.js';
import { openStore, type OpenStore } from './store.js';
import { removeOwnProcessFolders, removeStaleProcessFolders } from './process-folders.js';
import { defaultPinFor, loadBarTableMetadata } from './warm-up.js';

/**
 * Hard limit on a client frame (16 MiB): past it ws closes the socket (1009). Below it, a frame
 * larger than the handler's own limit (64 KiB) gets an error and the socket stays usable.
 */
const MAX_CLIENT_FRAME_BYTES = 16 * 1024 * 1024;
/**
 * DuckDB connections: one per running request, so a cancel interrupts exactly one query. They
 * share the instance's threads; more connections than threads keeps a small query from waiting
 * behind a long export.
 */
const connectionsFor = (threads: number) => Math.max(4, 2 * threads);
const STATS_INTERVAL_MS = 1000;
const DEFAULT_PING_INTERVAL_MS = 10_000;

const link = await controlLinkFromEnvironment().catch((error: unknown) => {
  process.stderr.write(`${errorMessage(error)}\n`);
  process.exit(2);
});
const send = (message: FromSession): void => link.send(message);
const log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void =>
  send({ type: 'log', level, message, ...(fields ? { fields } : {}) });

const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME_BYTES, clientTracking: true });
const handlers = new Set<SocketHandler>();
let store: OpenStore | null = null;
/**
 * A store opened ahead of the assignment (`preopen`), while this process waits in the pool, and
 * its default pin ranked ahead too (warm-up.ts).
 */
let preopened: {
  settings: StoreSettings;
  opening: Promise<OpenStore>;
  answers: Promise<AnswerCache | null>;
  defaultPin: Promise<DefaultPin | null>;
  /** The bar tables' metadata loaded (warm-up.ts); never rejects. */
  metadata: Promise<void>;
} | null = null;
let runner: QueryRunner | null = null;
let idleMemory: IdleMemory | null = null;
let context: SessionContext | null = null;
let assignment: SessionAssignment | null = null;
let draining = false;
/** Set once shutdown() closes DuckDB: a warm-up read it interrupts is no failure to report. */
let ending = false;
/** Settles once the hello has what it brings (the default pin): sockets are taken after it. */
let helloReady: Promise<void> = Promise.resolve();

// A session never outlives its control server (contract.ts 6, and d. for a remote one).
link.onLost((why) => shutdown(0, why));
process.on('SIGTERM', () => void drain());
process.on('SIGINT', () => void drain());

link.onMessage((message, socket) => {
  switch (message.type) {
    case 'preopen':
      preopen(message.store);
      break;
    case 'assign':
      void assign(message.assignment);
      break;
    case 'connection':
      acceptConnection(message, socket);
      break;
    case 'terminate':
      void drain();
      break;
  }
});

send({ type: 'warm' });
// A session killed while it wrote or sent a download left its folder: the next one clears it.
removeStaleProcessFolders().catch((error: unknown) => log('warn', 'the download and spill folders of gone session processes could not be removed', { error: errorMessage(error) }));
// Liveness (contract.ts, 7): the control server ends a process it stops hearing from.
setInterval(() => send({ type: 'heartbeat' }), HEARTBEAT_INTERVAL_MS).unref();

function preopen(settings: StoreSettings): void {
  if (assignment) return;
  if (preopened && sameStoreSettings(preopened.settings, settings)) return;
  const previous = preopened;
  // The store it replaces is closed once its open and its warm-up have settled (a failed open has nothing to close).
  if (previous) void Promise.all([previous.opening, previous.metadata]).then(([old]) => old.close(), () => undefined);
  const opening = openStore(settings);
  const answers = openAnswers(settings);
  const defaultPin = opening.then(
    async (opened) => rankDefaultPin(opened, await answers, settings.storePath, 'ahead of a tab'),
    (error: unknown) => {
      log('warn', 'opening the store ahead of a tab failed; an assignment opens it again', { storePath: settings.storePath, error: errorMessage(error) });
      return null;
    },
  );
  const metadata = opening.then(
    (opened) => loadMetadataAhead(opened, settings.storePath),
    () => undefined,
  );
  preopened = { settings, opening, answers, defaultPin, metadata };
}

/**
 * After an assignment, how long before the bar tables are read, at the first moment then that no
 * request is in flight: the tab's first view asks within it (its hello ~50 ms after the
 * assignment, its first chart's answers ~150-250 ms later on large). At 1 s, bench:queries' first
 * symbol series (its script asks within the first second, with no pause) found them unread:
 * series p95 63-70 ms against 36 at 300 ms.
 */
const METADATA_AFTER_MS = 300;

/**
 * At an assignment that opened its store itself, the bar tables are read once the tab's first
 * requests are answered: read at once, they ran beside the first chart's requests, whose tab asks
 * right after the hello (bench:ui on large, one tab: tab open -> first chart 767-840 ms before,
 * 1,144-1,379 ms with them). The analyst's first zoom or symbol view comes seconds later.
 */
async function loadMetadataWhenQuiet(opened: OpenStore, storePath: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, METADATA_AFTER_MS).unref());
  await idleMemory?.whenQuiet();
  if (!ending) await loadMetadataAhead(opened, storePath);
}

/** The bar tables' metadata, loaded before the tab asks (not fatal: the tab's requests load it). */
function loadMetadataAhead(opened: OpenStore, storePath: string): Promise<void> {
  return loadBarTableMetadata(opened).catch((error: unknown) => {
    if (!ending) log('warn', "reading the bar tables ahead of the tab's requests failed; its first requests read them", { storePath, error: errorMessage(error) });
  });
}

/** The store's shared answer cache, when the runtime gave it a folder (null, logged, if it cannot be made). */
function openAnswers(settings: StoreSettings): Promise<AnswerCache | null> {
  if (!settings.answerCache) return Promise.resolve(null);
  return AnswerCache.open({ ...settings.answerCache, storePath: settings.storePath, log });
}

/**
 * The store's default pin for the hello; null with few runs, or when ranking failed (not fatal:
 * the tab then ranks the runs with a leaderboard of its own).
 */
function rankDefaultPin(opened: OpenStore, answers: AnswerCache | null, storePath: string, when: string): Promise<DefaultPin | null> {
  const started = performance.now();
  return defaultPinFor(opened, answers).then(
    (pin) => {
      if (pin) log('info', `default pin ranked ${when}`, { storePath, ms: Math.round(performance.now() - started) });
      return pin;
    },
    (error: unknown) => {
      log('warn', 'ranking the runs for the default pin failed; the tab ranks them itself', { storePath, error: errorMessage(error) });
      return null;
    },
  );
}

/** The assignment's store: the pre-opened one when it is the same store with the same limits. */
async function storeFor(
  next: SessionAssignment,
): Promise<{ store: OpenStore; answers: AnswerCache | null; preopened: boolean; defaultPin: Promise<DefaultPin | null>; metadata: Promise<void> }> {
  const ahead = preopened;
  preopened = null;
  if (ahead) {
    // A failed open was logged by preopen(); the assignment opens the store again below.
    const opened = await ahead.opening.catch(() => null);
    if (opened && sameStoreSettings(ahead.settings, next)) {
      return { store: opened, answers: await ahead.answers, preopened: true, defaultPin: ahead.defaultPin, metadata: ahead.metadata };
    }
    await ahead.metadata;
    opened?.close();
  }
  const [store, answers] = await Promise.all([openStore(next), openAnswers(next)]);
  return { store, answers, preopened: false, defaultPin: rankDefaultPin(store, answers, next.storePath, 'for the tab'), metadata: loadMetadataWhenQuiet(store, next.storePath) };
}

async function assign(next: SessionAssignment): Promise<void> {
  if (assignment) return log('error', 'assign received twice', { sessionId: next.sessionId });
  assignment = next;
  try {
    const opened = await storeFor(next);
    store = opened.store;
    // Gives DuckDB's cache, its allocator's spare pages and the JS garbage back once the tab has
    // gone quiet (idle-memory.ts); the runtime starts this process with --expose-gc for the latter.
    const collectGarbage = typeof globalThis.gc === 'function' ? () => globalThis.gc!() : undefined;
    if (!collectGarbage) log('warn', 'session process started without --expose-gc: going idle gives back DuckDB memory only, not the JS heap');
    idleMemory = new IdleMemory(() => store!.instance, {
      memoryLimit: next.memoryLimit,
      collectGarbage,
      reopen: async () => {
        // The default pin's ranking and the warm-up read the store on connections of their own: they finish first.
        await Promise.all([opened.defaultPin.catch(() => null), opened.metadata]);
        const fresh = await openStore(next);
        runner!.replaceInstance(fresh.instance);
        const old = store!;
        store = fresh;
        old.close();
      },
      onShrink: (report) => log('info', 'idle: memory given back', { ...report }),
      onError: (error) => log('error', 'idle: giving memory back failed', { error: errorMessage(error) }),
    });
    runner = new QueryRunner(store.instance, connectionsFor(next.threads), {
      activity: idleMemory,
      answers: opened.answers,
      sideBySideLookups: next.threads > 1,
    });
    context = {
      sessionId: next.sessionId,
      dataset: { id: next.datasetId, ...store.schema },
      catalog: store.catalog,
      runner,
      stats: { queriesServed: 0, bytesSent: 0 },
      log,
    };
    // Every view of a tab on a sweep waits for the default pin, and the hello brings it. `ready`
    // does not wait for it (the tab's page loads meanwhile, ~0.5 s); a socket that connects while
    // the runs are still being ranked (about a second on the 200-run sweep) waits.
    const ready = context;
    helloReady = opened.defaultPin.then((defaultPin) => {
      if (defaultPin) ready.dataset = { ...ready.dataset, defaultPin };
    });
    setInterval(reportStats, STATS_INTERVAL_MS).unref();
    setInterval(pingBrowsers, next.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS).unref();
    send({ type: 'ready', preopened: opened.preopened });
  } catch (error) {
    send({ type: 'startup-failed', message: errorMessage(error) });
    shutdown(1, 'startup failed');
  }
}

function acceptConnection(message: ConnectionMessage, socket: Socket | undefined): void {
  if (!socket) return log('error', 'connection message arrived without its socket');
  // A handshake that fails never reaches the upgrade's callback; the runtime still has to drop its copy.
  let upgraded = false;
  socket.once('close', () => {
    if (!upgraded) send({ type: 'connection-closed', connectionId: message.connectionId });
  });
  void helloReady.then(() => {
    if (!context || draining) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    if (socket.destroyed) return; // gone while the hello was being made
    upgrade(message, socket, context, () => (upgraded = true));
  });
}

function upgrade(message: ConnectionMessage, socket: Socket, sessionContext: SessionContext, onUpgraded: () => void): void {
  const request = { method: message.method, url: message.url, headers: message.headers };
  // ws reads only method, url and headers of the upgrade request; the socket came over IPC.
  wss.handleUpgrade(request as never, socket, Buffer.from(message.head, 'base64'), (ws: WebSocket) => {
    onUpgraded();
    watchBrowser(ws);
    const handler = new SocketHandler(ws, sessionContext);
    handlers.add(handler);
    reportConnections();
    ws.on('close', () => {
      handlers.delete(handler);
      send({ type: 'connection-closed', connectionId: message.connectionId });
      reportConnections();
    });
  });
}

/**
 * Pings in a row a browser may leave unanswered before its socket is dropped. A pong waits for
 * the peer's event loop: Chromium answers from its network service, but a script's client (Node's
 * `ws`) answers from JS, and one busy for a while (a long computation on an answer, or a machine
 * so loaded that a thread waits its turn for seconds) missed a single ping. bench:capacity's 40
 * analysts on 2 cores stalled their threads for up to 18.5 s, and every one of their sockets was
 * dropped 10 s into it. Three misses at the default interval: a peer silent for 30 s is gone.
 */
const PINGS_UNANSWERED_BEFORE_DROP = 3;

/** Per socket: pings unanswered in a row (no pong, no message, no bytes read), and what was queued at the last. */
const browserLiveness = new WeakMap<WebSocket, { unanswered: number; buffered: number }>();

function watchBrowser(ws: WebSocket): void {
  const liveness = { unanswered: 0, buffered: 0 };
  browserLiveness.set(ws, liveness);
  const heard = () => (liveness.unanswered = 0);
  ws.on('pong', heard);
  ws.on('message', heard);
}

/**
 * Pings every browser, and drops a socket whose browser has answered nothing for
 * PINGS_UNANSWERED_BEFORE_DROP pings in a row. A pong can queue behind a large answer the browser
 * is still reading, so a queue that shrank (the browser reads) counts as an answer too.
 */
function pingBrowsers(): void {
  for (const ws of wss.clients) {
    const liveness = browserLiveness.get(ws);
    if (!liveness || ws.readyState !== ws.OPEN) continue;
    if (ws.bufferedAmount < liveness.buffered) liveness.unanswered = 0;
    if (liveness.unanswered >= PINGS_UNANSWERED_BEFORE_DROP) {
      log('warn', `dropping a WebSocket whose browser answered none of the last ${liveness.unanswered} pings`, { sessionId: assignment?.sessionId });
      ws.terminate();
      continue;
    }
    liveness.unanswered++;
    liveness.buffered = ws.bufferedAmount;
    ws.ping();
  }
}

function reportConnections(): void {
  send({ type: 'connections', count: handlers.size });
}

function reportStats(): void {
  if (!context) return;
  const cpu = cpuUsage();
  send({ type: 'stats', stats: { ...context.stats, cpuMicros: cpu.user + cpu.system, rssBytes: process.memoryUsage.rss(), outOfMemoryRetries: context.runner.stats.outOfMemoryRetries } });
}

async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  for (const handler of handlers) handler.refuseNewRequests('draining');
  const deadline = Date.now() + (assignment?.drainMs ?? 2000);
  while ([...handlers].some((handler) => handler.pending > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const client of wss.clients) client.close(1001, 'session ending');
  reportStats();
  shutdown(0, 'terminated');
}

/** Removes this process's spill and download folders; what cannot be removed, the next session process's start does. */
function sweepOwnFolders(): void {
  try {
    removeOwnProcessFolders();
  } catch (error) {
    process.stderr.write(`session ${assignment?.sessionId ?? '(unassigned)'}: removing its spill and download folders failed: ${errorMessage(error)}\n`);
  }
}

function shutdown(code: number, why: string): void {
  ending = true;
  for (const handler of handlers) handler.abortAll();
  idleMemory?.close();
  try {
    runner?.close();
    store?.close();
  } catch (error) {
    process.stderr.write(`session ${assignment?.sessionId ?? '(unassigned)'}: closing DuckDB failed: ${errorMessage(error)}\n`);
  }
  sweepOwnFolders();
  if (code !== 0) process.stderr.write(`session ${assignment?.sessionId ?? '(unassigned)'}: ${why}\n`);
  // A folder whose creation was under way above lands while the link closes: sweep once more at
  // the very end (removeOwnProcessFolders is synchronous, as an 'exit' listener must be).
  process.once('exit', sweepOwnFolders);
  // The last messages (final stats, the reason) reach the runtime before the process goes.
  void link.close().then(() => process.exit(code));
}
