// The session process's contract with whatever runs it: the local child-process runtime, or a
// remote one (a process on another host, placed by Slurm; a pod-per-session runtime next, see
// docs/deploy-kubernetes.md). Nothing else crosses this door.
//
// Lifecycle, as seen from the runtime:
//   1. start `node dist/server/session/main.bundle.js` (session-entry.ts) with an IPC channel.
//      The process imports DuckDB, then sends `warm`: it is now a pooled process waiting for work.
//      The runtime may send it `preopen` with the store (and DuckDB limits) the next tab most
//      likely wants; the process opens it READ_ONLY ahead of time and keeps it. A later `preopen`
//      replaces it.
//   2. send `assign` (store path, dataset id, session id, DuckDB limits). The process opens the
//      store READ_ONLY (or takes the pre-opened one, when it is the same store with the same
//      limits) and answers `ready`, or `startup-failed` with the reason and exits 1.
//   3. hand it client sockets: a `connection` message whose send-handle is the TCP socket of an
//      HTTP upgrade that the runtime has already authenticated. The process finishes the
//      WebSocket handshake itself, so data bytes go from it to the browser without a second copy.
//   4. it reports `connections` whenever its socket count changes, `connection-closed` for each
//      socket it is done with (the runtime may hold a duplicate of it until then), and `stats`
//      periodically.
//   5. SIGTERM: stop taking connections, let in-flight answers finish for up to the grace period,
//      close sockets with 1001, close DuckDB, exit 0. The runtime sends SIGKILL after its grace.
//   6. if the IPC channel closes (the control server died, however it died) the process exits
//      at once: a session never outlives its control server.
//   7. from its start to its end the process sends `heartbeat` every HEARTBEAT_INTERVAL_MS (any
//      message counts as one); a process silent for the control server's heartbeat timeout
//      (stopped, hung in native code, starved) is ended as `unresponsive` and its tabs are told
//      so. After `assign` it also pings each of its WebSockets every `pingIntervalMs`, and drops
//      one whose browser has answered none of the last three pings (no pong, no message, no bytes
//      read): a tab that vanished without a FIN then stops holding its session.

//
// Remote sessions (a session on another host; server/control/runtime/remote). The runtime starts
// `node dist/server/session/main.bundle.js` there with REMOTE_ENV.control (host:port of the control
// server's session listener) and REMOTE_ENV.secret, good for one registration. The process:
//   a. listens for WebSocket upgrades on its own host (all addresses, or REMOTE_ENV.listenHost;
//      a free port) and takes only those that carry the connection secret in
//      SESSION_SECRET_HEADER: a socket cannot cross machines, so the control server proxies each
//      tab's authenticated upgrade there, naming the connection in CONNECTION_ID_HEADER;
//   b. dials the control address, sends `register` (the secret, that port), gets `welcome` with
//      the connection secret (never in its environment, so never in a process list or a job's
//      record), then speaks the messages below, one JSON object per line (json-lines.ts). The
//      `connection` message never comes this way (a. replaces it);
//   c. takes `terminate` as SIGTERM (nobody can signal a process on another host);
//   d. hears a `heartbeat` from the control server every HEARTBEAT_INTERVAL_MS, and exits when the
//      connection closes or when it has heard nothing for CONTROL_SILENCE_MS. That silence is the
//      grace for a blip: TCP rides out a short outage by itself, a longer one means the control
//      server is gone or cut off, and its sessions must not run on unseen.

/**
 * Node's flags for a session process, wherever it runs (the first two are for idle-memory.ts):
 * - --expose-gc: a session that goes idle collects its JS heap before DuckDB's allocator is flushed;
 * - --flush-baseline-code: with bytecode (flushed by default), V8 may drop the baseline machine
 *   code of functions a long-idle session has not run since (off by default in Node 20);
 * - --initial-old-space-size=64: every DuckDB vector a session reads is copied by the bindings into
 *   a fresh Buffer (they are built without external buffers), short-lived memory V8 counts against
 *   a heap limit that, sized from the session's ~10 MB of live objects, was reached every batch or
 *   two: a full collection ~60 times per 5M-row export (0.65 s of its 2.3 s of CPU). From 64 MB up
 *   the young collections free those Buffers before the limit is reached (docs/architecture.md,
 *   "A session's V8 heap starts at 64 MB");
 * - --max-semi-space-size=8: a busy session's young generation grew to 2 x 16 MB, all of it
 *   resident until the process ends; at 2 x 8 MB a busy session holds ~13 MiB less, with no more
 *   young collections in an export (same docs section).
 */
export const SESSION_NODE_FLAGS: readonly string[] = ['--expose-gc', '--flush-baseline-code', '--initial-old-space-size=64', '--max-semi-space-size=8'];

/**
 * The environment a session process starts with, wherever it runs: these defaults, then the
 * starter's environment (an operator's own setting wins), then `own` (what this start is for).
 *
 * DUCKDB_JE_MALLOC_CONF configures DuckDB's bundled jemalloc (read when libduckdb loads). DuckDB
 * compiles in dirty_decay_ms:1000: memory a query freed goes back to the kernel a second later,
 * so the next request after an analyst's pause touches fresh pages again, and a fresh page costs
 * a page fault. On the VMs this runs on a fault costs ~12 us (64 MiB first touched: 180 ms,
 * against 3 ms to rewrite it resident; docs/architecture.md, "Page faults"), so a risk or an
 * attribution after 1.5 s of thought spent 25-55 ms of its time faulting. Dirty pages now stay
 * with the allocator until the idle shrink (idle-memory.ts) purges them explicitly; muzzy_decay 0
 * makes that purge give them back to the kernel at once (MADV_DONTNEED), not lazily (MADV_FREE,
 * which leaves them in the RSS until the kernel wants them).
 */
export const SESSION_ENV: Readonly<Record<string, string>> = {
  DUCKDB_JE_MALLOC_CONF: 'dirty_decay_ms:-1,muzzy_decay_ms:0',
};

/** A session process's environment (see SESSION_ENV). */
export function sessionEnvironment(own: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...SESSION_ENV, ...process.env, ...own };
}

/** How often a session process tells the control server it is alive. */
export const HEARTBEAT_INTERVAL_MS = 1000;
/** A remote session that hears nothing from its control server this long ends itself. */
export const CONTROL_SILENCE_MS = 5000;

/** The environment a remote session process is started with. */
export const REMOTE_ENV = {
  /** host:port of the control server's session listener. */
  control: 'TICKSCOPE_CONTROL_ADDRESS',
  /** Good for one registration. */
  secret: 'TICKSCOPE_SESSION_SECRET',
  /** The address its WebSocket listener binds; default all. */
  listenHost: 'TICKSCOPE_SESSION_LISTEN_HOST',
} as const;

/** The header of a proxied upgrade that proves it comes from the control server. */
export const SESSION_SECRET_HEADER = 'x-tickscope-session-secret';
/** The header of a proxied upgrade that names its connection (for `connection-closed`). */
export const CONNECTION_ID_HEADER = 'x-tickscope-connection';

export interface SessionAssignment {
  sessionId: string;
  datasetId: string;
  storePath: string;
  /** DuckDB `memory_limit`, e.g. '512MB'. */
  memoryLimit: string;
  /** DuckDB `threads`. */
  threads: number;
  /** Grace period for in-flight answers after SIGTERM, in ms. */
  drainMs: number;
  /** WebSocket ping interval towards the browser (a socket silent over one interval is dropped); default 10 s. */
  pingIntervalMs?: number;
  /**
   * The answers every session of a store shares (answer-cache.ts): their folder, and the session
   * time under which an answer is not kept (default MIN_KEPT_COST_MS). Absent: the session keeps
   * no answer for others and reads none.
   */
  answerCache?: { dir: string; minCostMs?: number };
}

/** What opening a store depends on: an assignment can take a pre-opened store only if all match. */
export type StoreSettings = Pick<SessionAssignment, 'storePath' | 'memoryLimit' | 'threads' | 'answerCache'>;

export function sameStoreSettings(a: StoreSettings, b: StoreSettings): boolean {
  return a.storePath === b.storePath && a.memoryLimit === b.memoryLimit && a.threads === b.threads &&
    a.answerCache?.dir === b.answerCache?.dir && a.answerCache?.minCostMs === b.answerCache?.minCostMs;
}

export type ToSession =
  | { type: 'preopen'; store: StoreSettings }
  /** Remote only: the secret each proxied upgrade must carry. */
  | { type: 'welcome'; connectionSecret: string }
  /** Remote only: what SIGTERM is to a local process. */
  | { type: 'terminate' }
  /** Remote only: the control server is alive. */
  | { type: 'heartbeat' }
  | { type: 'assign'; assignment: SessionAssignment }
  | {
      type: 'connection';
      /** Chosen by the runtime; the process reports it back in `connection-closed`. */
      connectionId: number;
      /** The HTTP upgrade request, minus its socket; the socket is the message's send-handle. */
      method: string;
      url: string;
      headers: Record<string, string | string[] | undefined>;
      /** Bytes read past the upgrade request, base64. */
      head: string;
    };

export interface SessionStats {
  queriesServed: number;
  bytesSent: number;
  /** Cumulative CPU time of the process in microseconds (user + system). */
  cpuMicros: number;
  /** Resident set size (a remote process's own figure: its /proc is on another host). */
  rssBytes?: number;
  /** Requests run again alone after running out of DuckDB's memory beside others (query-runner.ts). */
  outOfMemoryRetries?: number;
}

export type FromSession =
  /**
   * Remote only, first: the one-time secret it was started with, the port of its WebSocket
   * listener, and the node it runs on (Slurm's name for it, else the host name).
   */
  | { type: 'register'; secret: string; port: number; pid: number; node: string }
  | { type: 'warm' }
  | { type: 'heartbeat' }
  /** `preopened`: the store had been opened ahead of the assignment (`preopen`). */
  | { type: 'ready'; preopened: boolean }
  | { type: 'startup-failed'; message: string }
  | { type: 'connections'; count: number }
  | { type: 'connection-closed'; connectionId: number }
  | { type: 'stats'; stats: SessionStats }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown> };

export function isFromSession(value: unknown): value is FromSession {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
