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
  // POST /api/sessions
  'shutting-down': { statusCode: 503, label: 'Service Unavailable', retryAfterSeconds: 5 },
  'no-free-slot': { statusCode: 503, label: 'Service Unavailable', retryAfterSeconds: 5 },
  'unknown-dataset': { statusCode: 404, label: 'Not Found' },
  'session-failed': { statusCode: 500, label: 'Session Failed' },
  // /api/sessions/:id and WebSocket upgrades
  'no-session': { statusCode: 404, label: 'Not Found' },
  'no-live-session': { statusCode: 404, label: 'Not Found' },
  // WebSocket upgrades only (ws-gateway.ts), answered before they reach a session
  'no-endpoint': { statusCode: 404, label: 'Not Found' },
  'bad-token': { statusCode: 401, label: 'Unauthorized' },
  'origin-refused': { statusCode: 403, label: 'Forbidden' },
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
    options?: ErrorOptions,
  ) {
    super(message, options);
    const entry: CatalogueEntry = CATALOGUE[code];
    this.statusCode = entry.statusCode;
    this.label = entry.label;
    this.retryAfterSeconds = entry.retryAfterSeconds;
  }

  /** The JSON body of its HTTP reply. */
  reply(): ErrorReply {
    return { statusCode: this.statusCode, error: this.label, message: this.message };
  }
}

/** The one way to make a control error: a maker per code, so a message reads the same everywhere. */
export const controlErrors = {
  shuttingDown: () => new ControlError('shutting-down', 'the server is shutting down'),
  noFreeSlot: (maxSessions: number) =>
    new ControlError(
      'no-free-slot',
      `all ${maxSessions} session slots are in use; close another Tickscope tab or try again shortly`,
    ),
  unknownDataset: (id: string, known: readonly string[]) =>
    new ControlError('unknown-dataset', `unknown dataset "${id}"; this server has ${known.map((k) => `"${k}"`).join(', ') || 'none'}`),
  /** Why a session did not start (its store did not open, its dataset failed to prepare, ...). */
  sessionFailed: (message: string, cause?: unknown) =>
    new ControlError('session-failed', message, cause === undefined ? undefined : { cause }),
  noSession: (id: string) => new ControlError('no-session', `no session ${id}`),
  noLiveSession: (id: string) => new ControlError('no-live-session', `no live session ${id}`),
  noEndpoint: () => new ControlError('no-endpoint', 'no WebSocket endpoint here'),
  badToken: () => new ControlError('bad-token', 'missing or wrong session token'),
  originRefused: (origin: string | undefined) => new ControlError('origin-refused', `origin ${origin} may not open sessions here`),
  sessionNotReady: (state: string) => new ControlError('session-not-ready', `session is ${state}, not ready`),
};
