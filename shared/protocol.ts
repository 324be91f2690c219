// The wire contract between the browser's worker, the control server and the session process.
// Everything here is browser-safe: no Node imports. Each message has one TypeBox schema, which is
// both the TypeScript type and the runtime check applied on receipt at either end.
import { Type, type Static } from '@sinclair/typebox';
import { compileValidator, discriminated, type Validator } from './validate.js';

export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Session lifecycle (HTTP)

export const SessionState = Type.Union([
  Type.Literal('starting'),
  Type.Literal('ready'),
  Type.Literal('draining'),
  Type.Literal('terminated'),
]);
export type SessionState = Static<typeof SessionState>;

export const TerminationReason = Type.Union([
  Type.Literal('idle'),
  Type.Literal('lifetime'),
  Type.Literal('deleted'),
  Type.Literal('crashed'),
  Type.Literal('startup-failed'),
  Type.Literal('server-shutdown'),
]);
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

export const SessionInfo = Type.Object({
  id: Type.String(),
  key: Type.String(),
  dataset: Type.String(),
  pid: Type.Union([Type.Integer(), Type.Null()]),
  status: SessionState,
  reason: Type.Union([TerminationReason, Type.Null()]),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  exitSignal: Type.Union([Type.String(), Type.Null()]),
  connections: Type.Integer(),
  rssBytes: Type.Union([Type.Integer(), Type.Null()]),
  cpuSeconds: Type.Number(),
  queriesServed: Type.Integer(),
  bytesSent: Type.Integer(),
  startedAt: Type.String(),
  idleSince: Type.Union([Type.String(), Type.Null()]),
});
export type SessionInfo = Static<typeof SessionInfo>;

export const SessionStateEvent = Type.Object({
  state: SessionState,
  at: Type.String(),
  reason: Type.Union([TerminationReason, Type.Null()]),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  exitSignal: Type.Union([Type.String(), Type.Null()]),
  message: Type.Union([Type.String(), Type.Null()]),
});
export type SessionStateEvent = Static<typeof SessionStateEvent>;

export const DatasetState = Type.Union([
  Type.Literal('pending'),
  Type.Literal('preparing'),
  Type.Literal('ready'),
  Type.Literal('failed'),
]);
export type DatasetState = Static<typeof DatasetState>;

export const DatasetInfo = Type.Object({
  id: Type.String(),
  inputs: Type.Array(Type.String()),
  state: DatasetState,
  /** 0..1 while preparing. */
  progress: Type.Number(),
  phase: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
});
export type DatasetInfo = Static<typeof DatasetInfo>;

export const ErrorReply = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
});
export type ErrorReply = Static<typeof ErrorReply>;

// ---------------------------------------------------------------------------------------------
// WebSocket: worker <-> session process.
//
// Control messages are JSON text frames. Data is binary frames: an 8-byte header
// (u32 LE request id, u32 LE batch index) followed by one self-contained Arrow IPC stream
// (schema + record batch). A large answer is several such frames, so the client can draw the
// first batch before the last one arrives; `done` closes the answer.

/** Request ids are chosen by the client; they must fit the u32 of the binary frame header. */
const RequestId = Type.Integer({ minimum: 1, maximum: 0xffff_ffff });

/** Epoch milliseconds, UTC. */
const EpochMs = Type.Number({ minimum: -8.64e15, maximum: 8.64e15 });

export const EquityParams = Type.Object(
  {
    /** Target pixel width; M4 keeps up to 4 points (first, last, min, max) per pixel column. */
    width: Type.Integer({ minimum: 1, maximum: 16_384 }),
    /** Runs to include; empty or absent means every run of the dataset. */
    runs: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 64 })),
    from: Type.Optional(EpochMs),
    to: Type.Optional(EpochMs),
  },
  { additionalProperties: false },
);
export type EquityParams = Static<typeof EquityParams>;

export const EquityRequest = Type.Object(
  { type: Type.Literal('request'), id: RequestId, query: Type.Literal('equity'), params: EquityParams },
  { additionalProperties: false },
);

export const CancelMessage = Type.Object(
  { type: Type.Literal('cancel'), id: RequestId },
  { additionalProperties: false },
);

export const QueryRequest = Type.Union([EquityRequest]);
export type QueryRequest = Static<typeof QueryRequest>;
export type QueryName = QueryRequest['query'];

export const ClientMessage = Type.Union([EquityRequest, CancelMessage]);
export type ClientMessage = Static<typeof ClientMessage>;

export const RunInfo = Type.Object({ runId: Type.String(), name: Type.String() });
export type RunInfo = Static<typeof RunInfo>;

export const DatasetSchema = Type.Object({
  id: Type.String(),
  runs: Type.Array(RunInfo),
  symbolCount: Type.Integer(),
  barCount: Type.Integer(),
  tradeCount: Type.Integer(),
  /** Epoch ms of the first and last bar; null for an empty dataset. */
  range: Type.Union([Type.Object({ from: Type.Number(), to: Type.Number() }), Type.Null()]),
});
export type DatasetSchema = Static<typeof DatasetSchema>;

export const HelloMessage = Type.Object({
  type: Type.Literal('hello'),
  protocol: Type.Literal(PROTOCOL_VERSION),
  sessionId: Type.String(),
  dataset: DatasetSchema,
});
export type HelloMessage = Static<typeof HelloMessage>;

export const ErrorCode = Type.Union([
  Type.Literal('bad-message'),
  Type.Literal('bad-params'),
  Type.Literal('duplicate-id'),
  Type.Literal('cancelled'),
  Type.Literal('query-failed'),
  Type.Literal('overloaded'),
]);
export type ErrorCode = Static<typeof ErrorCode>;

export const ErrorMessage = Type.Object({
  type: Type.Literal('error'),
  /** Null when the offending message had no readable id. */
  id: Type.Union([RequestId, Type.Null()]),
  code: ErrorCode,
  message: Type.String(),
});
export type ErrorMessage = Static<typeof ErrorMessage>;

export const Timings = Type.Object({
  planMs: Type.Number(),
  executeMs: Type.Number(),
  encodeMs: Type.Number(),
});
export type Timings = Static<typeof Timings>;

export const DoneMessage = Type.Object({
  type: Type.Literal('done'),
  id: RequestId,
  rows: Type.Integer(),
  batches: Type.Integer(),
  bytes: Type.Integer(),
  /** True when the answer is not exact (e.g. downsampled below the requested resolution). */
  approximate: Type.Boolean(),
  timings: Timings,
});
export type DoneMessage = Static<typeof DoneMessage>;

export const ServerMessage = Type.Union([HelloMessage, ErrorMessage, DoneMessage]);
export type ServerMessage = Static<typeof ServerMessage>;

// ---------------------------------------------------------------------------------------------
// Binary frame header

export const DATA_FRAME_HEADER_BYTES = 8;

export function encodeDataFrameHeader(requestId: number, batchIndex: number): Uint8Array {
  const header = new Uint8Array(DATA_FRAME_HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint32(0, requestId, true);
  view.setUint32(4, batchIndex, true);
  return header;
}

export interface DataFrame {
  requestId: number;
  batchIndex: number;
  /** The Arrow IPC stream bytes, a view into the frame (no copy). */
  ipc: Uint8Array;
}

export function decodeDataFrame(frame: ArrayBuffer | Uint8Array): DataFrame {
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  if (bytes.byteLength < DATA_FRAME_HEADER_BYTES) {
    throw new Error(`data frame of ${bytes.byteLength} bytes is shorter than its ${DATA_FRAME_HEADER_BYTES}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    requestId: view.getUint32(0, true),
    batchIndex: view.getUint32(4, true),
    ipc: bytes.subarray(DATA_FRAME_HEADER_BYTES),
  };
}

/** Arrow column names of an `equity` answer; shared so both ends agree without a round trip. */
export const EQUITY_COLUMNS = ['run_id', 'ts', 'equity', 'drawdown'] as const;


// ---------------------------------------------------------------------------------------------
// Validators: built once, used on receipt at both ends.

export const clientMessageValidator: Validator<ClientMessage> = discriminated<ClientMessage>('client message', 'type', {
  request: discriminated<ClientMessage>('request', 'query', {
    equity: compileValidator(EquityRequest, 'equity request'),
  }),
  cancel: compileValidator(CancelMessage, 'cancel message'),
});

export const serverMessageValidator: Validator<ServerMessage> = discriminated<ServerMessage>('server message', 'type', {
  hello: compileValidator(HelloMessage, 'hello message'),
  error: compileValidator(ErrorMessage, 'error message'),
  done: compileValidator(DoneMessage, 'done message'),
});
