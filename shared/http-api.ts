// The control server's HTTP API: sessions and datasets. Each body and reply has one TypeBox
// schema, which is both the TypeScript type and the check (Fastify validates and serialises with
// it on the server; the worker checks the replies it reads).
import { Type, type Static } from '@sinclair/typebox';
import { DATASET_STATES, SESSION_STATES, TERMINATION_REASONS } from './constants.js';
import { literals } from './validate.js';

export const SessionState = literals(SESSION_STATES);
export type SessionState = Static<typeof SessionState>;

export const TerminationReason = literals(TERMINATION_REASONS);
export type TerminationReason = Static<typeof TerminationReason>;

/** Keys and dataset ids travel in URLs and logs, so they are kept to a safe alphabet. */
const SafeId = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,128}$' });

export const CreateSessionBody = Type.Object(
  { dataset: Type.Optional(SafeId), key: Type.Optional(SafeId) },
  { additionalProperties: false },
);
export type CreateSessionBody = Static<typeof CreateSessionBody>;

export const CreateSessionReply = Type.Object({
  id: Type.String(),
  key: Type.String(),
  status: SessionState,
  spawned: Type.Boolean(),
  wsUrl: Type.String(),
});
export type CreateSessionReply = Static<typeof CreateSessionReply>;

/**
 * HTTP 202 to POST /api/sessions: no session slot is free, and the request waits in the queue.
 * Asking again with the same key keeps its place (and answers 200 once the session is ready);
 * a place nobody asks about for a few seconds is given up.
 */
export const QueuedSessionReply = Type.Object({
  id: Type.String(),
  key: Type.String(),
  status: Type.Literal('queued'),
  spawned: Type.Boolean(),
  /** 1 = next to get a session. */
  position: Type.Integer({ minimum: 1 }),
  /** Requests waiting in the queue, this one included. */
  waiting: Type.Integer({ minimum: 1 }),
  /** Estimated seconds until this request gets a session; null until there is a basis. */
  etaSeconds: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
});
export type QueuedSessionReply = Static<typeof QueuedSessionReply>;

/** How a process ended; null while it runs. */
const processExit = {
  reason: Type.Union([TerminationReason, Type.Null()]),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  exitSignal: Type.Union([Type.String(), Type.Null()]),
};

export const SessionInfo = Type.Object({
  id: Type.String(),
  key: Type.String(),
  /** Whose it is: `user:NAME` behind an authenticating proxy, `browser:` and a short id otherwise. */
  owner: Type.String(),
  dataset: Type.String(),
  /** Its place in the admission queue (state `starting`, no process yet), or null. */
  queuePosition: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  pid: Type.Union([Type.Integer(), Type.Null()]),
  status: SessionState,
  ...processExit,
  connections: Type.Integer(),
  rssBytes: Type.Union([Type.Integer(), Type.Null()]),
  cpuSeconds: Type.Number(),
  queriesServed: Type.Integer(),
  bytesSent: Type.Integer(),
  /**
   * Requests the session ran again alone after DuckDB ran out of its memory_limit beside the tab's
   * other requests: a count that keeps growing says --session-memory is tight for this dataset.
   */
  outOfMemoryRetries: Type.Integer(),
  startedAt: Type.String(),
  idleSince: Type.Union([Type.String(), Type.Null()]),
});
export type SessionInfo = Static<typeof SessionInfo>;

export const SessionStateEvent = Type.Object({
  state: SessionState,
  at: Type.String(),
  ...processExit,
  message: Type.Union([Type.String(), Type.Null()]),
});
export type SessionStateEvent = Static<typeof SessionStateEvent>;

export const DatasetState = literals(DATASET_STATES);
export type DatasetState = Static<typeof DatasetState>;

export const DataQualityKind = Type.Union([Type.Literal('dropped'), Type.Literal('finding')]);
export type DataQualityKind = Static<typeof DataQualityKind>;

/** One entry of a store's data_quality table: rows dropped at preparation, or a finding. */
export const DataQualityEntry = Type.Object({
  kind: DataQualityKind,
  /** The store table the rows belong to: bars, trades, ... */
  table: Type.String(),
  /** The canonical column at fault; null for a problem of the whole row (e.g. a duplicate key). */
  column: Type.Union([Type.String(), Type.Null()]),
  /** Short name of the problem, e.g. "NaN or infinite value", "duplicate key". */
  problem: Type.String(),
  /** Rows concerned. */
  count: Type.Number(),
  /** The first few rows concerned, as text. */
  examples: Type.Array(Type.String()),
  /** The whole sentence, naming the input file(s) and column. */
  message: Type.String(),
});
export type DataQualityEntry = Static<typeof DataQualityEntry>;

export const DatasetInfo = Type.Object({
  id: Type.String(),
  inputs: Type.Array(Type.String()),
  state: DatasetState,
  /** 0..1 over the whole preparation while preparing. */
  progress: Type.Number(),
  /** What the preparation is doing, e.g. "sorting bars"; null when not preparing. */
  phase: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  /** Rows of the current phase done so far and its total, when the phase counts rows. */
  rows: Type.Union([Type.Number(), Type.Null()]),
  totalRows: Type.Union([Type.Number(), Type.Null()]),
  /** Estimated seconds until the store is ready; null until there is a basis. */
  etaSeconds: Type.Union([Type.Number(), Type.Null()]),
  /** The dataset description (tickscope.json or --mapping) used, or where one would be read. */
  descriptionPath: Type.Union([Type.String(), Type.Null()]),
  /** What preparation dropped or found (the store's data_quality table); empty until ready. */
  dataQuality: Type.Array(DataQualityEntry),
  /**
   * Files among the inputs that were not read, each `<path> (<why, and what to do>)`: an archive
   * of a kind not opened, a damaged compressed file, a pickle of no frame. Empty until ready.
   */
  notRead: Type.Array(Type.String()),
  /** How many times the served folder was prepared again with new files since the server started. */
  revision: Type.Integer({ minimum: 0 }),
  /** The runs those preparations added, in order. */
  addedRuns: Type.Array(Type.String()),
});
export type DatasetInfo = Static<typeof DatasetInfo>;

export const ErrorReply = Type.Object({ statusCode: Type.Integer(), error: Type.String(), message: Type.String() });
export type ErrorReply = Static<typeof ErrorReply>;
