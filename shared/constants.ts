// The plain values of the wire contract: names, lists, limits, and the literal types of the lists.
// This module imports nothing, so the UI can use these values without pulling TypeBox into its
// bundle. The schemas (shared/http-api.ts, shared/messages.ts) are built from these lists, so a
// list and its schema cannot drift apart; a list that has a schema of its own (SESSION_STATES:
// SessionState) takes its type from that schema.

/** Version of the WebSocket protocol (shared/messages.ts); the hello carries it and the client checks it. */
export const PROTOCOL_VERSION = 6;

// ---------------------------------------------------------------------------------------------
// Session and dataset lifecycle (HTTP)

export const SESSION_STATES = ['starting', 'ready', 'draining', 'terminated'] as const;
/** `unresponsive`: no heartbeat from its process for the heartbeat timeout (stopped, hung, starved). */
export const TERMINATION_REASONS = [
  'idle', 'lifetime', 'deleted', 'crashed', 'unresponsive', 'startup-failed', 'server-shutdown',
] as const;
export const DATASET_STATES = ['pending', 'preparing', 'ready', 'failed'] as const;

// ---------------------------------------------------------------------------------------------
// Requests

export const QUERY_NAMES = ['summary', 'equity', 'exposure', 'breakdown', 'series', 'trades', 'histogram', 'heatmap', 'rolling', 'export'] as const;
export type QueryName = (typeof QUERY_NAMES)[number];

/** Most rows a windowed answer (trades, breakdown) returns at once. */
export const MAX_WINDOW_ROWS = 10_000;
/** Largest offset into a window; more than any store holds, small enough to stay exact. */
export const MAX_WINDOW_OFFSET = 1_000_000_000;
/** Most rows one export streams. */
export const MAX_EXPORT_ROWS = 100_000_000;

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

// ---------------------------------------------------------------------------------------------
// Answers

export const ERROR_CODES = ['bad-message', 'bad-params', 'duplicate-id', 'cancelled', 'query-failed', 'overloaded'] as const;

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
export const BAR_EXPORT_COLUMNS = ['run_id', 'ts', 'symbol', 'price', 'position_qty', 'position_value', 'trade_qty', 'fees', 'pnl'] as const;
