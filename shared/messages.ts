// The WebSocket messages between the browser's worker and the session process: the requests, the
// hello, errors, progress and done. Control messages are JSON text frames; the data of an answer
// travels in binary frames (shared/frame.ts). Each message has one TypeBox schema, which is both
// the TypeScript type and the runtime check applied on receipt at either end (the validators at
// the bottom). Everything here is browser-safe: no Node imports.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  BREAKDOWN_COLUMNS,
  BREAKDOWN_DIMENSIONS,
  DOWNLOAD_FORMATS,
  ERROR_CODES,
  EXPORT_TABLES,
  HISTOGRAM_FIELDS,
  LEADERBOARD_METRICS,
  MAX_RUNS_PER_REQUEST,
  MAX_EXPORT_ROWS,
  MAX_WINDOW_OFFSET,
  MAX_WINDOW_ROWS,
  PROTOCOL_VERSION,
  QUERY_NAMES,
  SIDES,
  TRADE_SORT_COLUMNS,
  type QueryName,
} from './constants.js';
import { compileValidator, discriminated, literals, type Validator } from './validate.js';

// ---------------------------------------------------------------------------------------------
// Requests

/** Request ids are chosen by the client; they must fit the u32 of the binary frame header. */
const RequestId = Type.Integer({ minimum: 1, maximum: 0xffff_ffff });

/** Epoch milliseconds, UTC. */
const EpochMs = Type.Number({ minimum: -8.64e15, maximum: 8.64e15 });

/** A run id, sector, symbol or tag: checked against the dataset's own lists before any SQL. */
const Name = Type.String({ minLength: 1, maxLength: 256 });

const Offset = Type.Integer({ minimum: 0, maximum: MAX_WINDOW_OFFSET });
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

export const Side = literals(SIDES);
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
    sides: Type.Optional(Type.Array(Side, { maxItems: SIDES.length })),
    tags: Type.Optional(Type.Array(Name, { maxItems: 256 })),
    pnl: Type.Optional(NumberRange),
    ret: Type.Optional(NumberRange),
    barsHeld: Type.Optional(NumberRange),
    holdingMs: Type.Optional(NumberRange),
    mae: Type.Optional(NumberRange),
    mfe: Type.Optional(NumberRange),
    /** Close hours in the exchange time zone (0-23): trades whose close falls in one of them. */
    hours: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 23 }), { maxItems: 24 })),
    /** ISO weekdays (1 = Monday .. 7 = Sunday) of the close's UTC date, as the weekday breakdown's. */
    weekdays: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { maxItems: 7 })),
  },
  { additionalProperties: false },
);
export type Filters = Static<typeof Filters>;

/** What every query is over: runs (empty or absent = all), an inclusive time range, filters. */
const scope = {
  runs: Type.Optional(Type.Array(Name, { maxItems: MAX_RUNS_PER_REQUEST })),
  /** Inclusive bounds on bar timestamps (bar end), epoch ms UTC. */
  from: Type.Optional(EpochMs),
  to: Type.Optional(EpochMs),
  filters: Type.Optional(Filters),
};
const params = <P extends Record<string, TSchema>>(extra: P) =>
  Type.Object({ ...scope, ...extra }, { additionalProperties: false });

/** A sort of a windowed answer by one of `columns`. */
const sortBy = <T extends readonly string[]>(columns: T) =>
  Type.Object({ column: literals(columns), descending: Type.Optional(Type.Boolean()) }, { additionalProperties: false });

/**
 * The annual risk-free rate (a decimal fraction) that Sharpe, Sortino, alpha and the probabilistic
 * Sharpe ratio are in excess of; absent means the dataset's (DatasetSchema.riskFreeRate). Sent by
 * the UI with every such request, so an answer is exact for the rate it was asked with.
 */
const RiskFreeRate = Type.Number({ minimum: -1, maximum: 1 });

export const SummaryParams = params({ riskFreeRate: Type.Optional(RiskFreeRate) });
export type SummaryParams = Static<typeof SummaryParams>;

export const EquityParams = params({
  /** Target pixel width; M4 keeps the first, last, min and max (and deepest drawdown) per pixel column. */
  width: Width,
});
export type EquityParams = Static<typeof EquityParams>;

export const ExposureParams = params({ width: Width });
export type ExposureParams = Static<typeof ExposureParams>;

export const BreakdownParams = params({
  by: literals(BREAKDOWN_DIMENSIONS),
  sort: Type.Optional(sortBy(BREAKDOWN_COLUMNS)),
  offset: Type.Optional(Offset),
  limit: Limit,
});
export type BreakdownParams = Static<typeof BreakdownParams>;

export const SeriesParams = params({
  symbol: Name,
  width: Width,
  /** Most trade markers returned; more than this in range is reported as truncated. */
  maxTrades: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WINDOW_ROWS })),
});
export type SeriesParams = Static<typeof SeriesParams>;

export const TradesParams = params({
  sort: Type.Optional(sortBy(TRADE_SORT_COLUMNS)),
  offset: Type.Optional(Offset),
  limit: Limit,
});
export type TradesParams = Static<typeof TradesParams>;

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
export type HistogramParams = Static<typeof HistogramParams>;

export const HeatmapParams = params({});
export type HeatmapParams = Static<typeof HeatmapParams>;

export const RollingParams = params({
  /** Window in trading days. */
  window: Type.Integer({ minimum: 2, maximum: 2520 }),
});
export type RollingParams = Static<typeof RollingParams>;

export const ExportParams = params({
  table: literals(EXPORT_TABLES),
  /** Trades only: their order (default entry time); bars are in the store's order. */
  sort: Type.Optional(sortBy(TRADE_SORT_COLUMNS)),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EXPORT_ROWS })),
});
export type ExportParams = Static<typeof ExportParams>;

export const EpisodesParams = params({
  /** Most episodes per run, the deepest first. */
  limit: Type.Integer({ minimum: 1, maximum: 1000 }),
});
export type EpisodesParams = Static<typeof EpisodesParams>;

export const AttributionParams = params({
  /** When given, the symbols of this sector (within the filters); otherwise the sectors. */
  sector: Type.Optional(Name),
});
export type AttributionParams = Static<typeof AttributionParams>;

/** Every trade in scope as a point (MAE, MFE, return, P&L), at most MAX_SCATTER_POINTS of them. */
export const ScatterParams = params({});
export type ScatterParams = Static<typeof ScatterParams>;

export const RiskParams = params({ riskFreeRate: Type.Optional(RiskFreeRate) });
export type RiskParams = Static<typeof RiskParams>;

export const BenchmarkParams = params({});
export type BenchmarkParams = Static<typeof BenchmarkParams>;

/**
 * Conditions on run parameters (runs.params): a run is kept when, for every condition, its value of
 * parameter `name` is one of `values` and within [min, max] (either bound absent: open). A run
 * without the parameter fails the condition. Names are checked against the dataset's parameters.
 */
const ParamFilters = Type.Array(
  Type.Object(
    {
      name: Name,
      values: Type.Optional(Type.Array(Type.Union([Type.Number(), Type.String({ maxLength: 256 }), Type.Boolean()]), { maxItems: 1000 })),
      min: Type.Optional(Type.Number()),
      max: Type.Optional(Type.Number()),
    },
    { additionalProperties: false },
  ),
  { maxItems: 32 },
);
export type ParamFilters = Static<typeof ParamFilters>;

/**
 * Every run in scope (the scope's runs, then `params`) as a row: run_id, name, one column per
 * parameter (`param.<key>`: Float64 when every run's value is a number, else Utf8), then
 * LEADERBOARD_METRICS over the range and filters. Sorted by `sort` (a metric, 'run_id', 'name' or
 * `param.<key>`; ties by run_id; NaN last), windowed by offset/limit; done.total counts the runs
 * that passed the filters. deflated_sharpe counts as trials every run of the dataset.
 */
export const LeaderboardParams = params({
  sort: Type.Optional(Type.Object({ column: Type.String({ minLength: 1, maxLength: 300 }), descending: Type.Optional(Type.Boolean()) }, { additionalProperties: false })),
  offset: Type.Optional(Offset),
  limit: Limit,
  params: Type.Optional(ParamFilters),
  riskFreeRate: Type.Optional(RiskFreeRate),
});
export type LeaderboardParams = Static<typeof LeaderboardParams>;

/**
 * A metric over one (x) or two (x, y) parameters: one row per distinct value (pair) of the runs in
 * scope (filters and `params` fix the other parameters), columns x, y (absent for one parameter;
 * Float64 or Utf8 like the leaderboard's parameter columns), runs (how many runs the cell holds),
 * value (the median of the metric over the cell's runs: the run's own when it holds one, equal to
 * its leaderboard cell), best (the largest), best_run_id (the run of `best`). Sorted by x, y.
 */
export const SurfaceParams = params({
  x: Name,
  y: Type.Optional(Name),
  metric: literals(LEADERBOARD_METRICS),
  params: Type.Optional(ParamFilters),
  riskFreeRate: Type.Optional(RiskFreeRate),
});
export type SurfaceParams = Static<typeof SurfaceParams>;

/**
 * Two runs compared over the range and dimension filters (the scope's runs are ignored): parts
 * (RUNDIFF_PARTS) `summary` (one row: each run's P&L and trade count, matched pairs, trades only in
 * each, the P&L difference), `matched` (pairs of trades of the same symbol whose holding periods
 * overlap, one to one, by largest |pnl difference| first), `only_a` / `only_b` (trades without a
 * match, by |pnl| first), `sectors` and `symbols` (the difference of the two runs' P&L attributed,
 * a_pnl - b_pnl by sector and by symbol, by |difference| first; the sector rows sum exactly to the
 * summary's difference). Each list part holds at most `limit` rows; the summary has the totals.
 */
export const RundiffParams = params({
  a: Name,
  b: Name,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_WINDOW_ROWS })),
});
export type RundiffParams = Static<typeof RundiffParams>;

/** The params of each query, by name: the one table the requests and their validators come from. */
const PARAMS_BY_QUERY = {
  summary: SummaryParams,
  equity: EquityParams,
  exposure: ExposureParams,
  breakdown: BreakdownParams,
  series: SeriesParams,
  trades: TradesParams,
  histogram: HistogramParams,
  heatmap: HeatmapParams,
  rolling: RollingParams,
  export: ExportParams,
  risk: RiskParams,
  benchmark: BenchmarkParams,
  episodes: EpisodesParams,
  attribution: AttributionParams,
  scatter: ScatterParams,
  leaderboard: LeaderboardParams,
  surface: SurfaceParams,
  rundiff: RundiffParams,
} satisfies Record<QueryName, TSchema>;

export type QueryParamsByName = { [Q in QueryName]: Static<(typeof PARAMS_BY_QUERY)[Q]> };
/** Asks for the answer as a file (DOWNLOADABLE_QUERIES): its bytes come in the data frames. */
export const DownloadOption = Type.Object({ format: literals(DOWNLOAD_FORMATS) }, { additionalProperties: false });
export type DownloadOption = Static<typeof DownloadOption>;

export type RequestOf<Q extends QueryName> = { type: 'request'; id: number; query: Q; params: QueryParamsByName[Q]; download?: DownloadOption };
export type QueryRequest = { [Q in QueryName]: RequestOf<Q> }[QueryName];

export const CancelMessage = Type.Object(
  { type: Type.Literal('cancel'), id: RequestId },
  { additionalProperties: false },
);
export type CancelMessage = Static<typeof CancelMessage>;

export type ClientMessage = QueryRequest | CancelMessage;

// ---------------------------------------------------------------------------------------------
// Answers

export const RunInfo = Type.Object({
  runId: Type.String(),
  name: Type.String(),
  /** The capital base of the run's returns (docs/metrics.md); null when it has none. */
  capital: Type.Union([Type.Number(), Type.Null()]),
  /** Where the capital came from ("tickscope.json", "runs.capital", "params.gross_notional"), or
   * "none: ..." saying why there is none and how to state it. */
  capitalSource: Type.String(),
  /** The run's parameters (runs.params), flattened to scalars: nested values as JSON text. */
  params: Type.Record(Type.String(), Type.Union([Type.Number(), Type.String(), Type.Boolean(), Type.Null()])),
});
export type RunInfo = Static<typeof RunInfo>;

export const ColumnSource = Type.Object({
  table: Type.Union([Type.Literal('bars'), Type.Literal('trades')]),
  column: Type.String(),
  source: Type.Union([Type.Literal('input'), Type.Literal('derived'), Type.Literal('absent')]),
  /** The input column read, for source 'input'. */
  inputColumn: Type.Union([Type.String(), Type.Null()]),
  /** From what a derived column was computed, or what an absent one holds. */
  note: Type.Union([Type.String(), Type.Null()]),
});
export type ColumnSource = Static<typeof ColumnSource>;

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
  /**
   * The exchange time zone (IANA name; 'UTC' when none is known): the UI's default display zone,
   * and the zone of the hour breakdown. `source` says where it came from.
   */
  timezone: Type.Object({ zone: Type.String(), source: Type.String() }),
  /**
   * Where the bars came from: 'input' (bars, or a tool's per-bar frames), 'trades' (the input has
   * no bars: daily bars made of the trades, P&L booked when each trade closed, prices are fill
   * prices), 'portfolio' (one series for the whole portfolio: no per-symbol bars). `period` is
   * 'day' when every bar is a day's (stamped at midnight in the exchange zone).
   */
  bars: Type.Object({
    origin: Type.Union([Type.Literal('input'), Type.Literal('trades'), Type.Literal('portfolio')]),
    period: Type.Union([Type.Literal('day'), Type.Literal('intraday')]),
  }),
  /** Where each column of bars and trades came from: read, derived at preparation, or absent. */
  columnSources: Type.Array(ColumnSource),
  /**
   * What the benchmark-relative metrics and the benchmark line are against (meta `benchmark`):
   * 'market' is the dataset's own equal-weighted market, named as such; 'symbol' a symbol of the
   * dataset; 'file' a file of returns or prices. `source` says where it was stated.
   */
  benchmark: Type.Object({
    kind: Type.Union([Type.Literal('market'), Type.Literal('symbol'), Type.Literal('file')]),
    name: Type.String(),
    source: Type.String(),
  }),
  /** The dataset's annual risk-free rate (tickscope.json `riskFreeRate`, 0 when absent). */
  riskFreeRate: Type.Number(),
  /**
   * With more runs than a tab pins (MAX_PINNED_RUNS): the runs a tab shows first, the best by
   * Sharpe over the whole history plus the median run (shared/default-pin.ts). Absent with fewer
   * runs, or when the session could not rank them (the UI then asks a leaderboard itself).
   */
  defaultPin: Type.Optional(Type.Object({ runs: Type.Array(Type.String()), of: Type.Integer({ minimum: 0 }) })),
});
export type DatasetSchema = Static<typeof DatasetSchema>;

export const HelloMessage = Type.Object({
  type: Type.Literal('hello'),
  protocol: Type.Literal(PROTOCOL_VERSION),
  sessionId: Type.String(),
  dataset: DatasetSchema,
});
export type HelloMessage = Static<typeof HelloMessage>;

export const ErrorCode = literals(ERROR_CODES);
export type ErrorCode = Static<typeof ErrorCode>;

export const ErrorMessage = Type.Object({
  type: Type.Literal('error'),
  /** Null when the offending message had no readable id. */
  id: Type.Union([RequestId, Type.Null()]),
  code: ErrorCode,
  message: Type.String(),
});
export type ErrorMessage = Static<typeof ErrorMessage>;

/** How much of an answer has streamed so far (progress) or in all (done). */
const streamed = {
  id: RequestId,
  rows: Type.Integer(),
  batches: Type.Integer(),
  bytes: Type.Integer(),
};

/** Sent while a long answer streams (at most every PROGRESS_INTERVAL_MS). */
export const ProgressMessage = Type.Object({
  type: Type.Literal('progress'),
  ...streamed,
  elapsedMs: Type.Number(),
});
export type ProgressMessage = Static<typeof ProgressMessage>;

export const Timings = Type.Object({
  /** Planning: allow-list checks, the planner's look-ups, DuckDB's prepare (parse, bind, optimize). */
  planMs: Type.Number(),
  /** DuckDB executing: starting the stream and producing every chunk. */
  executeMs: Type.Number(),
  /** Copying chunks into Arrow (and any computation in the session), writing IPC. */
  encodeMs: Type.Number(),
  /**
   * Before any of that: waiting for an idle shrink or reopen of the session to end (the first
   * request after a long quiet) and for one of its connections (the tab's other requests hold
   * them). Absent when the answer did not wait for a connection (a shared answer, a download's file).
   */
  waitMs: Type.Optional(Type.Number()),
});
export type Timings = Static<typeof Timings>;

export const DoneMessage = Type.Object({
  type: Type.Literal('done'),
  ...streamed,
  /** True when the answer is not exact; `notes` then says how. */
  approximate: Type.Boolean(),
  timings: Timings,
  /** Windowed answers (trades, breakdown): rows or groups in total, before the window. */
  total: Type.Optional(Type.Integer()),
  /** The store tables that answered, e.g. "portfolio_day+portfolio_bar". */
  source: Type.String(),
  /** Plain-words remarks: filters that do not apply to a measure, truncation, ... */
  notes: Type.Array(Type.String()),
  /** A download's file: its name and media type; `bytes` are the file's, `rows` its rows. */
  file: Type.Optional(Type.Object({ name: Type.String(), mediaType: Type.String() })),
  /**
   * True when the answer was read from the answers every session of the store shares (computed
   * earlier, by this or another tab's session): `timings` are then the read's.
   */
  cached: Type.Optional(Type.Boolean()),
});
export type DoneMessage = Static<typeof DoneMessage>;

export type ServerMessage = HelloMessage | ErrorMessage | ProgressMessage | DoneMessage;

// ---------------------------------------------------------------------------------------------
// Validators: built once, used on receipt at both ends.

const request = (query: QueryName) =>
  Type.Object(
    { type: Type.Literal('request'), id: RequestId, query: Type.Literal(query), params: PARAMS_BY_QUERY[query], download: Type.Optional(DownloadOption) },
    { additionalProperties: false },
  );

const requestValidators = Object.fromEntries(
  QUERY_NAMES.map((query) => [query, compileValidator(request(query), `${query} request`) as Validator<ClientMessage>]),
) as Record<QueryName, Validator<ClientMessage>>;

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
