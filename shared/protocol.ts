// The wire contract between the browser's worker, the control server and the session process.
// Everything here is browser-safe: no Node imports. Each message has one TypeBox schema, which is
// both the TypeScript type and the runtime check applied on receipt at either end.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { compileValidator, discriminated, type Validator } from './validate.js';

/** Version of the WebSocket protocol below; the hello carries it and the client checks it. */
export const PROTOCOL_VERSION = 4;

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
  /** No heartbeat from its process for the heartbeat timeout (stopped, hung, starved). */
  Type.Literal('unresponsive'),
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
// first batch before the last one arrives; `done` closes the answer. An answer of several parts
// (e.g. `series`: its points and its trades) names the part of each frame in the Arrow schema's
// metadata under PART_METADATA_KEY; batch indexes count across parts.
//
// Every time column on the wire is epoch milliseconds UTC as Float64 (days: the UTC midnight of
// the day), so the client never meets a bigint or a timestamp unit.

/** Request ids are chosen by the client; they must fit the u32 of the binary frame header. */
const RequestId = Type.Integer({ minimum: 1, maximum: 0xffff_ffff });

/** Epoch milliseconds, UTC. */
const EpochMs = Type.Number({ minimum: -8.64e15, maximum: 8.64e15 });

/** A run id, sector, symbol or tag: checked against the dataset's own lists before any SQL. */
const Name = Type.String({ minLength: 1, maxLength: 256 });

/** Most rows a windowed answer (trades, breakdown) returns at once. */
export const MAX_WINDOW_ROWS = 10_000;
/** Largest offset into a window; more than any store holds, small enough to stay exact. */
const MAX_OFFSET = 1_000_000_000;
/** Most rows one export streams. */
export const MAX_EXPORT_ROWS = 100_000_000;

const Offset = Type.Integer({ minimum: 0, maximum: MAX_OFFSET });
const Limit = Type.Integer({ minimum: 1, maximum: MAX_WINDOW_ROWS });
/** Target pixel width of a downsampled series. */
const Width = Type.Integer({ minimum: 1, maximum: 16_384 });

/**
 * Inclusive bounds of a trade filter: any finite numbers, answered exactly (a bound beyond every
 * value, 2^63 or 1e300 included, selects all or nothing); min above max is `bad-params`.
 */
const NumberRange = Type.Object(
  { min: Type.Optional(Type.Number()), max: Type.Optional(Type.Number()) },
  { additionalProperties: false },
);
export type NumberRange = Static<typeof NumberRange>;

export const Side = Type.Union([Type.Literal('long'), Type.Literal('short')]);
export type Side = Static<typeof Side>;

/**
 * The active filters of a view. Dimension filters (sectors, symbols) restrict every measure.
 * Trade filters (sides, tags and the numeric ranges) select trades: they restrict the trade
 * measures (counts, win rates, profit factor, the trade list, trade histograms, series markers)
 * and not the bar measures (P&L curves, exposures, daily returns), which have no trade identity;
 * the done message says so in its notes when such a filter was ignored.
 */
export const Filters = Type.Object(
  {
    sectors: Type.Optional(Type.Array(Name, { maxItems: 256 })),
    symbols: Type.Optional(Type.Array(Name, { maxItems: 1000 })),
    sides: Type.Optional(Type.Array(Side, { maxItems: 2 })),
    tags: Type.Optional(Type.Array(Name, { maxItems: 256 })),
    pnl: Type.Optional(NumberRange),
    ret: Type.Optional(NumberRange),
    barsHeld: Type.Optional(NumberRange),
    holdingMs: Type.Optional(NumberRange),
    mae: Type.Optional(NumberRange),
    mfe: Type.Optional(NumberRange),
  },
  { additionalProperties: false },
);
export type Filters = Static<typeof Filters>;

/** What every query is over: runs (empty or absent = all), an inclusive time range, filters. */
const scope = {
  runs: Type.Optional(Type.Array(Name, { maxItems: 64 })),
  /** Inclusive bounds on bar timestamps (bar end), epoch ms UTC. */
  from: Type.Optional(EpochMs),
  to: Type.Optional(EpochMs),
  filters: Type.Optional(Filters),
};
const params = <P extends Record<string, TSchema>>(extra: P) =>
  Type.Object({ ...scope, ...extra }, { additionalProperties: false });

export const SummaryParams = params({});
export type SummaryParams = Static<typeof SummaryParams>;

export const EquityParams = params({
  /** Target pixel width; M4 keeps the first, last, min and max (and deepest drawdown) per pixel column. */
  width: Width,
});
export type EquityParams = Static<typeof EquityParams>;

export const ExposureParams = params({ width: Width });
export type ExposureParams = Static<typeof ExposureParams>;

export const BREAKDOWN_DIMENSIONS = ['sector', 'symbol', 'run', 'month', 'weekday', 'hour'] as const;
export type BreakdownDimension = (typeof BREAKDOWN_DIMENSIONS)[number];
/** Arrow columns of a `breakdown` answer, each also a sort key. */
export const BREAKDOWN_COLUMNS = ['key', 'pnl', 'contribution', 'fees', 'trades', 'win_rate', 'avg_exposure'] as const;
export type BreakdownColumn = (typeof BREAKDOWN_COLUMNS)[number];

const literals = <T extends readonly string[]>(values: T) => Type.Union(values.map((v) => Type.Literal(v)));

export const BreakdownParams = params({
  by: literals(BREAKDOWN_DIMENSIONS),
  sort: Type.Optional(
    Type.Object({ column: literals(BREAKDOWN_COLUMNS), descending: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  ),
  offset: Type.Optional(Offset),
  limit: Limit,
});
export type BreakdownParams = Omit<Static<typeof BreakdownParams>, 'by' | 'sort'> & {
  by: BreakdownDimension;
  sort?: { column: BreakdownColumn; descending?: boolean };
};

export const SeriesParams = params({
  symbol: Name,
  width: Width,
  /** Most trade markers returned; more than this in range is reported as truncated. */
  maxTrades: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WINDOW_ROWS })),
});
export type SeriesParams = Static<typeof SeriesParams>;

/** The columns of a trade row: the Arrow columns of the `trades` answer, in order. */
export const TRADE_COLUMNS = [
  'run_id',
  'trade_id',
  'symbol',
  'sector',
  'side',
  'entry_ts',
  'exit_ts',
  'qty',
  'entry_price',
  'exit_price',
  'fees',
  'pnl',
  'ret',
  'bars_held',
  'holding_ms',
  'mae',
  'mfe',
  'tag',
] as const;
/** Columns a trade window may be sorted by: every column of a trade row. */
export const TRADE_SORT_COLUMNS = TRADE_COLUMNS;
export type TradeSortColumn = (typeof TRADE_SORT_COLUMNS)[number];

export const TradesParams = params({
  sort: Type.Optional(
    Type.Object({ column: literals(TRADE_SORT_COLUMNS), descending: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  ),
  offset: Type.Optional(Offset),
  limit: Limit,
});
export type TradesParams = Omit<Static<typeof TradesParams>, 'sort'> & {
  sort?: { column: TradeSortColumn; descending?: boolean };
};

export const HISTOGRAM_FIELDS = ['pnl', 'ret', 'bars_held', 'holding_ms', 'mae', 'mfe', 'daily_return'] as const;
export type HistogramField = (typeof HISTOGRAM_FIELDS)[number];

export const HistogramParams = params({
  field: literals(HISTOGRAM_FIELDS),
  bins: Type.Integer({ minimum: 1, maximum: 1000 }),
  /**
   * Bounds of the bins; default the data's min and max. Values outside are counted apart. Any
   * finite numbers whose difference max - min is finite too (else `bad-params` naming both).
   */
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
});
export type HistogramParams = Omit<Static<typeof HistogramParams>, 'field'> & { field: HistogramField };

export const HeatmapParams = params({});
export type HeatmapParams = Static<typeof HeatmapParams>;

export const RollingParams = params({
  /** Window in trading days. */
  window: Type.Integer({ minimum: 2, maximum: 2520 }),
});
export type RollingParams = Static<typeof RollingParams>;

export const EXPORT_TABLES = ['trades', 'bars'] as const;
export const ExportParams = params({
  table: literals(EXPORT_TABLES),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EXPORT_ROWS })),
});
export type ExportParams = Omit<Static<typeof ExportParams>, 'table'> & { table: (typeof EXPORT_TABLES)[number] };

const request = <Q extends string, P extends TSchema>(query: Q, paramsSchema: P) =>
  Type.Object(
    { type: Type.Literal('request'), id: RequestId, query: Type.Literal(query), params: paramsSchema },
    { additionalProperties: false },
  );

export const SummaryRequest = request('summary', SummaryParams);
export const EquityRequest = request('equity', EquityParams);
export const ExposureRequest = request('exposure', ExposureParams);
export const BreakdownRequest = request('breakdown', BreakdownParams);
export const SeriesRequest = request('series', SeriesParams);
export const TradesRequest = request('trades', TradesParams);
export const HistogramRequest = request('histogram', HistogramParams);
export const HeatmapRequest = request('heatmap', HeatmapParams);
export const RollingRequest = request('rolling', RollingParams);
export const ExportRequest = request('export', ExportParams);

export const CancelMessage = Type.Object(
  { type: Type.Literal('cancel'), id: RequestId },
  { additionalProperties: false },
);
export type CancelMessage = Static<typeof CancelMessage>;

/** The params of each query, by name. */
export interface QueryParamsByName {
  summary: SummaryParams;
  equity: EquityParams;
  exposure: ExposureParams;
  breakdown: BreakdownParams;
  series: SeriesParams;
  trades: TradesParams;
  histogram: HistogramParams;
  heatmap: HeatmapParams;
  rolling: RollingParams;
  export: ExportParams;
}
export type QueryName = keyof QueryParamsByName;
export const QUERY_NAMES: readonly QueryName[] = [
  'summary',
  'equity',
  'exposure',
  'breakdown',
  'series',
  'trades',
  'histogram',
  'heatmap',
  'rolling',
  'export',
];
export type RequestOf<Q extends QueryName> = { type: 'request'; id: number; query: Q; params: QueryParamsByName[Q] };
export type QueryRequest = { [Q in QueryName]: RequestOf<Q> }[QueryName];

export type ClientMessage = QueryRequest | CancelMessage;

export const RunInfo = Type.Object({
  runId: Type.String(),
  name: Type.String(),
  /** The capital base of the run's returns (docs/metrics.md); null when it has none. */
  capital: Type.Union([Type.Number(), Type.Null()]),
  /** Where the capital came from, e.g. "params.gross_notional" or "mean gross exposure". */
  capitalSource: Type.String(),
});
export type RunInfo = Static<typeof RunInfo>;

export const DatasetSchema = Type.Object({
  id: Type.String(),
  runs: Type.Array(RunInfo),
  /** Sectors and trade tags present, sorted: the values the filters accept. */
  sectors: Type.Array(Type.String()),
  tags: Type.Array(Type.String()),
  symbolCount: Type.Integer(),
  barCount: Type.Integer(),
  tradeCount: Type.Integer(),
  /** Trading days (UTC dates with bars). */
  dayCount: Type.Integer(),
  /** Epoch ms of the first and last bar; null for an empty dataset. */
  range: Type.Union([Type.Object({ from: Type.Number(), to: Type.Number() }), Type.Null()]),
  /**
   * The trading calendar: the bar interval and each trading day's first and last bar (epoch ms,
   * flat pairs). Time axes are drawn in trading time over it (shared/trading-time.ts), and M4's
   * pixel columns are taken over it.
   */
  calendar: Type.Object({ barMs: Type.Number({ exclusiveMinimum: 0 }), days: Type.Array(Type.Number()) }),
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

/** Sent while a long answer streams (at most every PROGRESS_INTERVAL_MS). */
export const ProgressMessage = Type.Object({
  type: Type.Literal('progress'),
  id: RequestId,
  rows: Type.Integer(),
  batches: Type.Integer(),
  bytes: Type.Integer(),
  elapsedMs: Type.Number(),
});
export type ProgressMessage = Static<typeof ProgressMessage>;
export const PROGRESS_INTERVAL_MS = 250;

export const Timings = Type.Object({
  /** Planning: allow-list checks, the planner's look-ups, DuckDB's prepare (parse, bind, optimize). */
  planMs: Type.Number(),
  /** DuckDB executing: starting the stream and producing every chunk. */
  executeMs: Type.Number(),
  /** Copying chunks into Arrow (and any computation in the session), writing IPC. */
  encodeMs: Type.Number(),
});
export type Timings = Static<typeof Timings>;

export const DoneMessage = Type.Object({
  type: Type.Literal('done'),
  id: RequestId,
  rows: Type.Integer(),
  batches: Type.Integer(),
  bytes: Type.Integer(),
  /** True when the answer is not exact; `notes` then says how. */
  approximate: Type.Boolean(),
  timings: Timings,
  /** Windowed answers (trades, breakdown): rows or groups in total, before the window. */
  total: Type.Optional(Type.Integer()),
  /** The store tables that answered, e.g. "portfolio_day+portfolio_bar". */
  source: Type.String(),
  /** Plain-words remarks: filters that do not apply to a measure, truncation, ... */
  notes: Type.Array(Type.String()),
});
export type DoneMessage = Static<typeof DoneMessage>;

export type ServerMessage = HelloMessage | ErrorMessage | ProgressMessage | DoneMessage;

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

/** Arrow schema metadata key naming the part of a multi-part answer a frame belongs to. */
export const PART_METADATA_KEY = 'tickscope.part';

/** Arrow columns of each answer, shared so both ends agree without a round trip. */
export const EQUITY_COLUMNS = ['run_id', 'ts', 'equity', 'drawdown'] as const;
export const EXPOSURE_COLUMNS = ['run_id', 'ts', 'gross', 'net', 'long', 'short'] as const;
export const SUMMARY_COLUMNS = [
  'run_id',
  'capital',
  'days',
  'total_pnl',
  'fees',
  'total_return',
  'cagr',
  'annual_volatility',
  'sharpe',
  'sortino',
  'max_drawdown',
  'max_drawdown_peak',
  'max_drawdown_trough',
  'max_drawdown_recovery',
  'max_drawdown_pnl',
  'calmar',
  'day_win_rate',
  'trade_count',
  'winning_trades',
  'trade_win_rate',
  'profit_factor',
  'gross_profit',
  'gross_loss',
  'avg_trade_pnl',
  'avg_holding_ms',
  'avg_bars_held',
  'traded_value',
  'turnover',
  'avg_gross_exposure',
  'avg_net_exposure',
  'avg_long_exposure',
  'avg_short_exposure',
  'long_trades',
  'short_trades',
  'long_pnl',
  'short_pnl',
  'long_win_rate',
  'short_win_rate',
] as const;
export const SERIES_PARTS = { points: 'points', trades: 'trades' } as const;
export const SERIES_POINT_COLUMNS = ['run_id', 'ts', 'price', 'position_qty', 'position_value', 'cum_pnl'] as const;
export const SERIES_TRADE_COLUMNS = [
  'run_id',
  'trade_id',
  'side',
  'entry_ts',
  'exit_ts',
  'qty',
  'entry_price',
  'exit_price',
  'pnl',
  'ret',
  'tag',
] as const;
export const HISTOGRAM_COLUMNS = ['run_id', 'bin', 'lo', 'hi', 'count'] as const;
export const HEATMAP_COLUMNS = ['run_id', 'year', 'month', 'ret', 'pnl', 'days'] as const;
export const ROLLING_COLUMNS = ['run_id', 'day', 'ret', 'sharpe', 'volatility', 'beta'] as const;
export const BAR_EXPORT_COLUMNS = ['run_id', 'ts', 'symbol', 'price', 'position_qty', 'position_value', 'trade_qty', 'fees', 'pnl'] as const;

// ---------------------------------------------------------------------------------------------
// Validators: built once, used on receipt at both ends.

const requestValidators: Record<QueryName, Validator<ClientMessage>> = {
  summary: compileValidator(SummaryRequest, 'summary request') as Validator<ClientMessage>,
  equity: compileValidator(EquityRequest, 'equity request') as Validator<ClientMessage>,
  exposure: compileValidator(ExposureRequest, 'exposure request') as Validator<ClientMessage>,
  breakdown: compileValidator(BreakdownRequest, 'breakdown request') as Validator<ClientMessage>,
  series: compileValidator(SeriesRequest, 'series request') as Validator<ClientMessage>,
  trades: compileValidator(TradesRequest, 'trades request') as Validator<ClientMessage>,
  histogram: compileValidator(HistogramRequest, 'histogram request') as Validator<ClientMessage>,
  heatmap: compileValidator(HeatmapRequest, 'heatmap request') as Validator<ClientMessage>,
  rolling: compileValidator(RollingRequest, 'rolling request') as Validator<ClientMessage>,
  export: compileValidator(ExportRequest, 'export request') as Validator<ClientMessage>,
};

export const clientMessageValidator: Validator<ClientMessage> = discriminated<ClientMessage>('client message', 'type', {
  request: discriminated<ClientMessage>('request', 'query', requestValidators),
  cancel: compileValidator(CancelMessage, 'cancel message'),
});

export const serverMessageValidator: Validator<ServerMessage> = discriminated<ServerMessage>('server message', 'type', {
  hello: compileValidator(HelloMessage, 'hello message'),
  error: compileValidator(ErrorMessage, 'error message'),
  progress: compileValidator(ProgressMessage, 'progress message'),
  done: compileValidator(DoneMessage, 'done message'),
});
