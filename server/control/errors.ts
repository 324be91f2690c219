// Every error the control server answers a client with, in one catalogue (as Fastify keeps its
// own in errors.js): each code has its HTTP status and the `error` label of the reply, and one
// maker below writes its message. The session manager, the routes and the WebSocket gateway only
// ever throw or refuse with these, so a status is decided here and nowhere else.
import type { ErrorReply } from '../../shared/http-api.js';

interface CatalogueEntry {
  statusCode: number;
  /** The reply's `error` field. */
  label: string;
  /** Sent as Retry-After: the client may try again by itself. */
  retryAfterSeconds?: number;
}

const CATALOGUE = {
  // Every HTTP request and WebSocket upgrade (access/http-guard.ts, ws-gateway.ts), before any route
  'wrong-host': { statusCode: 403, label: 'Forbidden' },
  'cross-origin': { statusCode: 403, label: 'Forbidden' },
  // Who the caller is (access/owner.ts): no owner, a malformed proxy user, a failed operator login
  'no-owner': { statusCode: 401, label: 'Unauthorized' },
  'bad-owner': { statusCode: 400, label: 'Bad Request' },
  'bad-operator-token': { statusCode: 401, label: 'Unauthorized' },
  // POST /api/sessions
  'shutting-down': { statusCode: 503, label: 'Service Unavailable', retryAfterSeconds: 5 },
  /** Every slot in use and the admission queue full; Retry-After from the queue's estimate. */
  'queue-full': { statusCode: 503, label: 'Service Unavailable', retryAfterSeconds: 5 },
  /** A cluster runtime's scheduler has no room for the session now (runtime/remote/slurm-launcher.ts). */
  'cluster-full': { statusCode: 503, label: 'Service Unavailable', retryAfterSeconds: 10 },
  'unknown-dataset': { statusCode: 404, label: 'Not Found' },
  'session-failed': { statusCode: 500, label: 'Session Failed' },
  // /api/sessions/:id and WebSocket upgrades
  'no-session': { statusCode: 404, label: 'Not Found' },
  'no-live-session': { statusCode: 404, label: 'Not Found' },
  // WebSocket upgrades only (ws-gateway.ts), answered before they reach a session
  'no-endpoint': { statusCode: 404, label: 'Not Found' },
  'bad-token': { statusCode: 401, label: 'Unauthorized' },
  'origin-refused': { statusCode: 403, label: 'Forbidden' },
  'not-owner': { statusCode: 403, label: 'Forbidden' },
  'session-not-ready': { statusCode: 409, label: 'Conflict' },
} as const satisfies Record<string, CatalogueEntry>;

export type ControlErrorCode = keyof typeof CATALOGUE;

export class ControlError extends Error {
  override name = 'ControlError';
  readonly statusCode: number;
  readonly retryAfterSeconds: number | undefined;
  private readonly label: string;

  constructor(
    readonly code: ControlErrorCode,
    message: string,
    options?: ErrorOptions & { retryAfterSeconds?: number },
  ) {
    super(message, options);
    const entry: CatalogueEntry = CATALOGUE[code];
    this.statusCode = entry.statusCode;
    this.label = entry.label;
    this.retryAfterSeconds = options?.retryAfterSeconds ?? entry.retryAfterSeconds;
  }

  /** The JSON body of its HTTP reply. */
  reply(): ErrorReply {
    return { statusCode: this.statusCode, error: this.label, message: this.message };
  }
}

/** The one way to make a control error: a maker per code, so a message reads the same everywhere. */
export const controlErrors = {
  /** `names`: the host names it does answer to (said over HTTP, not to a WebSocket upgrade). */
  wrongHost: (names?: string) =>
    new ControlError(
      'wrong-host',
      `this server does not answer to that host name${names === undefined ? '' : ` (it answers to ${names}; see --public-url)`}`,
    ),
  crossOrigin: () => new ControlError('cross-origin', 'requests from pages of other origins are refused'),
  /** The request proves no owner; `status` 400 when what it sent is malformed (access/owner.ts says which). */
  noOwner: (message: string, status: 400 | 401 = 401) => new ControlError(status === 400 ? 'bad-owner' : 'no-owner', message),
  badOperatorToken: () => new ControlError('bad-operator-token', 'the Authorization header carries no valid operator token'),
  shuttingDown: () => new ControlError('shutting-down', 'the server is shutting down'),
  queueFull: (maxSessions: number, waiting: number, retryAfterSeconds: number) =>
    new ControlError(
      'queue-full',
      `all ${maxSessions} session slots are in use and ${waiting} requests are waiting for one; ` +
        'close another Tickscope tab or try again shortly',
      { retryAfterSeconds },
    ),
  clusterFull: (why: string) =>
    new ControlError('cluster-full', `the cluster has no room for another session now (${why}); close another Tickscope tab or try again shortly`),
  unknownDataset: (id: string, known: readonly string[]) =>
    new ControlError('unknown-dataset', `unknown dataset "${id}"; this server has ${known.map((k) => `"${k}"`).join(', ') || 'none'}`),
  /** Why a session did not start (its store did not open, its dataset failed to prepare, ...). */
  sessionFailed: (message: string, cause?: unknown) =>
    new ControlError('session-failed', message, cause === undefined ? undefined : { cause }),
  noSession: (id: string) => new ControlError('no-session', `no session ${id}`),
  noLiveSession: (id: string) => new ControlError('no-live-session', `no live session ${id}`),
  noEndpoint: () => new ControlError('no-endpoint', 'no WebSocket endpoint here'),
  badToken: () => new ControlError('bad-token', 'missing or wrong session token'),
  originRefused: () => new ControlError('origin-refused', 'pages of other origins may not open sessions here'),
  /** Same answer for "no owner" and "another owner": the token alone never opens a session. */
  notOwner: () => new ControlError('not-owner', 'this session belongs to another owner'),
  sessionNotReady: (state: string) => new ControlError('session-not-ready', `session is ${state}, not ready`),
};
