// The plain values of the wire contract: names, lists, limits, and the literal types of the lists.
// This module imports nothing, so the UI can use these values without pulling TypeBox into its
// bundle. The schemas (shared/http-api.ts, shared/messages.ts) are built from these lists, so a
// list and its schema cannot drift apart; a list that has a schema of its own (SESSION_STATES:
// SessionState) takes its type from that schema.

/** Version of the WebSocket protocol (shared/messages.ts); the hello carries it and the client checks it. */
export const PROTOCOL_VERSION = 8;

// ---------------------------------------------------------------------------------------------
// Session and dataset lifecycle (HTTP)

export const SESSION_STATES = ['starting', 'ready', 'draining', 'terminated'] as const;
/** `unresponsive`: no heartbeat from its process for the heartbeat timeout (stopped, hung, starved). */
export const TERMINATION_REASONS = [
  'idle', 'lifetime', 'deleted', 'crashed', 'unresponsive', 'startup-failed', 'server-shutdown',
  // Its dataset was prepared again with new runs and its tab asked again (a reload): a new session opens the new store.
  'dataset-grown',
] as const;
export const DATASET_STATES = ['pending', 'preparing', 'ready', 'failed'] as const;

// ---------------------------------------------------------------------------------------------
// Requests

export const QUERY_NAMES = ['summary', 'equity', 'exposure', 'breakdown', 'series', 'trades', 'histogram', 'heatmap', 'rolling', 'export', 'episodes', 'attribution', 'scatter', 'risk', 'benchmark', 'leaderboard', 'surface', 'rundiff'] as const;
export type QueryName = (typeof QUERY_NAMES)[number];

/** Most rows a windowed answer (trades, breakdown) returns at once. */
export const MAX_WINDOW_ROWS = 10_000;
/** Largest offset into a window; more than any store holds, small enough to stay exact. */
export const MAX_WINDOW_OFFSET = 1_000_000_000;
/** Most rows one export streams. */
export const MAX_EXPORT_ROWS = 100_000_000;

/** Most runs a request may name (a selection: absent means every run of the dataset). */
export const MAX_RUNS_PER_REQUEST = 1000;
/** Most runs the UI pins (shows in every view) at once. */
export const MAX_PINNED_RUNS = 8;

export const SIDES = ['long', 'short'] as const;

export const BREAKDOWN_DIMENSIONS = ['sector', 'symbol', 'run', 'month', 'weekday', 'hour'] as const;
export type BreakdownDimension = (typeof BREAKDOWN_DIMENSIONS)[number];
/** Arrow columns of a `breakdown` answer, each also a sort key. */
export const BREAKDOWN_COLUMNS = ['key', 'pnl', 'contribution', 'fees', 'trades', 'win_rate', 'avg_exposure'] as const;
export type BreakdownColumn = (typeof BREAKDOWN_COLUMNS)[number];

/** The columns of a trade row: the Arrow columns of the `trades` answer, in order. */
export const TRADE_COLUMNS = [
  'run_id', 'trade_id', 'symbol', 'sector', 'side', 'entry_ts', 'exit_ts', 'qty', 'entry_price', 'exit_price',
  'fees', 'pnl', 'ret', 'bars_held', 'holding_ms', 'mae', 'mfe', 'tag',
] as const;
/**
 * Columns a trade window may be sorted by: every column of a trade row. The store answers each
 * from a rank of its own (RANKED_TRADE_COLUMNS in server/store/format.ts); a unit test keeps the
 * two lists in step.
 */
export const TRADE_SORT_COLUMNS = TRADE_COLUMNS;
export type TradeSortColumn = (typeof TRADE_SORT_COLUMNS)[number];

export const HISTOGRAM_FIELDS = ['pnl', 'ret', 'bars_held', 'holding_ms', 'mae', 'mfe', 'daily_return'] as const;
export type HistogramField = (typeof HISTOGRAM_FIELDS)[number];

export const EXPORT_TABLES = ['trades', 'bars'] as const;
export type ExportTable = (typeof EXPORT_TABLES)[number];

/**
 * A request may ask for its answer as a file (`download`), written by the session: CSV and Parquet
 * by DuckDB's own writers, Arrow as one IPC stream. The tables a view shows can be downloaded:
 * `trades` gives every trade in scope in the sort asked (not the window), `export` the bars or
 * trades of the scope, the others their whole answer.
 */
export const DOWNLOAD_FORMATS = ['csv', 'parquet', 'arrow'] as const;
export type DownloadFormat = (typeof DOWNLOAD_FORMATS)[number];
export const DOWNLOADABLE_QUERIES = ['trades', 'export', 'breakdown', 'leaderboard', 'attribution', 'episodes'] as const;
export type DownloadableQuery = (typeof DOWNLOADABLE_QUERIES)[number];
/** Bytes of a downloaded file per data frame. */
export const DOWNLOAD_CHUNK_BYTES = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Answers

/**
 * `session-ending`: the session is draining (deleted, idle, at its lifetime, the server shutting
 * down) and takes no new request; the socket closes once what it had in flight is answered, and
 * the request belongs on the next session.
 */
export const ERROR_CODES = ['bad-message', 'bad-params', 'duplicate-id', 'cancelled', 'query-failed', 'overloaded', 'session-ending'] as const;

/** Least time between two progress messages of one streaming answer. */
export const PROGRESS_INTERVAL_MS = 250;

/**
 * Arrow columns of each answer, shared so both ends agree without a round trip. Every time
 * column is epoch milliseconds UTC as Float64 (days: the UTC midnight of the day), so the client
 * never meets a bigint or a timestamp unit.
 */
export const EQUITY_COLUMNS = ['run_id', 'ts', 'equity', 'drawdown'] as const;
export const EXPOSURE_COLUMNS = ['run_id', 'ts', 'gross', 'net', 'long', 'short'] as const;
export const SUMMARY_COLUMNS = [
  'run_id', 'capital', 'days', 'total_pnl', 'fees', 'total_return', 'cagr', 'annual_volatility', 'sharpe', 'sortino',
  'max_drawdown', 'max_drawdown_peak', 'max_drawdown_trough', 'max_drawdown_recovery', 'max_drawdown_pnl', 'calmar',
  'day_win_rate', 'trade_count', 'winning_trades', 'trade_win_rate', 'profit_factor', 'gross_profit', 'gross_loss',
  'avg_trade_pnl', 'avg_holding_ms', 'avg_bars_held', 'traded_value', 'turnover',
  'avg_gross_exposure', 'avg_net_exposure', 'avg_long_exposure', 'avg_short_exposure',
  'long_trades', 'short_trades', 'long_pnl', 'short_pnl', 'long_win_rate', 'short_win_rate',
] as const;
/** The parts of a `series` answer, named in each frame's Arrow metadata (PART_METADATA_KEY). */
export const SERIES_PARTS = { points: 'points', trades: 'trades' } as const;
export const SERIES_POINT_COLUMNS = ['run_id', 'ts', 'price', 'position_qty', 'position_value', 'cum_pnl'] as const;
export const SERIES_TRADE_COLUMNS = [
  'run_id', 'trade_id', 'side', 'entry_ts', 'exit_ts', 'qty', 'entry_price', 'exit_price', 'pnl', 'ret', 'tag',
] as const;
export const HISTOGRAM_COLUMNS = ['run_id', 'bin', 'lo', 'hi', 'count'] as const;
export const HEATMAP_COLUMNS = ['run_id', 'year', 'month', 'ret', 'pnl', 'days'] as const;
export const ROLLING_COLUMNS = ['run_id', 'day', 'ret', 'sharpe', 'volatility', 'beta'] as const;
/** Arrow columns of a `scatter` answer: one row per trade drawn (entry and exit let a click open it). */
export const SCATTER_COLUMNS = ['run_id', 'trade_id', 'symbol', 'entry_ts', 'exit_ts', 'mae', 'mfe', 'ret', 'pnl'] as const;
/** Most trades a `scatter` answer draws; more in scope are sampled uniformly by a fixed key per trade (queries/scatter.ts). */
export const MAX_SCATTER_POINTS = 20_000;
/** Drawdown episodes (docs/metrics.md): per run, the deepest first; time columns are days. */
export const EPISODE_COLUMNS = [
  'run_id', 'rank', 'peak_ts', 'from_start', 'trough_ts', 'recovery_ts', 'depth', 'depth_pnl', 'days_to_trough', 'days_to_recovery',
] as const;
/** Attribution of a range: P&L per sector (or per symbol of one sector), split into held and traded. */
export const ATTRIBUTION_COLUMNS = ['run_id', 'key', 'pnl', 'held_pnl', 'traded_pnl', 'contribution', 'trades'] as const;
/**
 * Arrow columns of a `risk` answer, one row per run (docs/metrics.md): the benchmark-relative
 * metrics on the days both have a return, the probabilistic Sharpe ratio, and the P&L and Sharpe
 * left when the best trades or symbols of the range are taken out.
 */
export const RISK_COLUMNS = [
  'run_id', 'days', 'benchmark_days', 'alpha', 'beta', 'correlation', 'tracking_error', 'information_ratio',
  'active_return', 'up_capture', 'down_capture', 'benchmark_return', 'sharpe', 'psr', 'skew', 'kurtosis',
  'total_pnl', 'trades', 'pnl_ex_top1pct_trades', 'sharpe_ex_top1pct_trades', 'pnl_ex_top5pct_trades',
  'sharpe_ex_top5pct_trades', 'symbols', 'pnl_ex_top1_symbols', 'sharpe_ex_top1_symbols', 'pnl_ex_top5_symbols',
  'sharpe_ex_top5_symbols', 'pnl_ex_top10_symbols', 'sharpe_ex_top10_symbols', 'top_symbols',
] as const;
/**
 * Arrow columns of a `benchmark` answer: per run per day of the range, the benchmark's P&L on the
 * run's capital by the day's end; start_ts and ts are the day's first and last bar in the range.
 */
export const BENCHMARK_COLUMNS = ['run_id', 'day', 'start_ts', 'ts', 'ret', 'equity'] as const;
export const BAR_EXPORT_COLUMNS = ['run_id', 'ts', 'symbol', 'price', 'position_qty', 'position_value', 'trade_qty', 'fees', 'pnl'] as const;

// ---------------------------------------------------------------------------------------------
// Parameter sweeps (leaderboard, surface, rundiff)

/**
 * The per-run metrics of a `leaderboard` answer, in its column order after run_id, name and the
 * parameter columns; each is a sort key and a `surface` metric. Formulas in docs/metrics.md.
 * excess_return: the run's total return minus the benchmark's compounded return over the same
 * days; deflated_sharpe: Bailey and Lopez de Prado's DSR, the probability that the run's Sharpe is
 * above the best Sharpe expected of as many trials as the dataset has runs.
 */
export const LEADERBOARD_METRICS = [
  'total_pnl', 'total_return', 'cagr', 'sharpe', 'sortino', 'max_drawdown', 'calmar', 'trade_count',
  'trade_win_rate', 'turnover', 'fees', 'excess_return', 'deflated_sharpe',
] as const;
export type LeaderboardMetric = (typeof LEADERBOARD_METRICS)[number];
/** Prefix of a parameter's column in leaderboard answers and of a parameter sort key: `param.<key>`. */
export const PARAM_COLUMN_PREFIX = 'param.';
/** Parts of a `rundiff` answer (each frame names its part in the Arrow schema metadata `tickscope.part`). */
export const RUNDIFF_PARTS = ['summary', 'matched', 'only_a', 'only_b', 'sectors', 'symbols'] as const;
export type RundiffPart = (typeof RUNDIFF_PARTS)[number];
