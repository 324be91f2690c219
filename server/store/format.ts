// The prepared store: the one door between the preparation pipeline (which writes it) and the
// session processes (which open it READ_ONLY, many at once). Bump STORE_FORMAT_VERSION whenever
// a table, column or meaning below changes; a store of another version is rebuilt, never read.

// 14 (2026-12-06): the tables are as in 13, but the same inputs are read differently (text dates
// and money as spreadsheets write them, decimal commas, one run per folder, camelCase names, one
// instrument without a symbol column: server/prepare/), so a store of 13 may hold another reading.
// 15 (2026-12-07): symbols.multiplier (a contract's value per point of price: position values,
// derived returns and money MAE/MFE use it, server/prepare/multipliers.ts); and a MetaTrader list
// of positions, read as bars until now (its ticket as the quantity, Profit before costs), is its
// trades (server/prepare/formats/metatrader.ts).
// 16 (2026-12-07): the tables are as in 15, but more of the same inputs is read: an archive's data
// files, workbooks, pandas' to_json layouts, AmiBroker's trade list, a trade list's side in
// `type` (server/prepare/). A store of 15 lists fewer input files than the folder now gives, and
// would take the rest for runs to add (add-runs.ts): it is prepared again instead.
// 17 (2026-12-07): the tables are as in 16, but the round trips of pyfolio's and zipline's
// transactions and of Lean's orders take the symbols file's contract multiplier
// (formats/round-trips.ts): a store of 16 holds their futures trades' P&L 1/multiplier too low;
// and workbooks and HTML reports inside an archive are read (server/prepare/inputs/).
// 18 (2026-12-07): the tables are as in 17, but pandas pickles are read (server/prepare/pandas-files/pandas-pickle.ts),
// and pyfolio's frames extracted from zipline name their assets by symbol (AAPL, not
// `Equity(24 [AAPL])`), as zipline's frame does (formats/pandas.ts ziplineAssetSymbolSql).
// 19 (2026-12-07): the tables are as in 18, but more of the same inputs is read: files compressed
// with bzip2 or xz (trades.csv.bz2, a .tar.xz), archives inside archives, and a gzipped pickle's frames, now named
// `<x.pkl.gz>!x.pkl!x.csv` (server/prepare/archives/compressed-files.ts): a store of 18 lists fewer files;
// and pyfolio fills that state no commission take their fees from the positions' cash
// (formats/pyfolio.ts feesFromCash): a store of 18 holds their P&L before commissions.
// 20 (2026-12-07): the tables are as in 19, but files compressed whole with zstd (positions.pkl.zst,
// a .tar.zst) are read (server/prepare/archives/zstd.ts): a store of 19 lists fewer files.
// 21 (2026-12-08): trade_sample_by_sector, the trade list sorted by sector, then sample key: a
// sector's scatter reads that sector's smallest keys (queries/scatter.ts).
export const STORE_FORMAT_VERSION = 21;

/**
 * The folder, in the folder of the prepared stores, of the answers the sessions of each store
 * share (server/session/answer-cache.ts): `answers/<fingerprint>-<identity>/`.
 */
export const ANSWERS_FOLDER = 'answers';

/** Name of the single-row-per-key metadata table: (key VARCHAR PRIMARY KEY, value VARCHAR). */
export const META_TABLE = 'meta';

/** Keys of the meta table. */
export const MetaKey = {
  formatVersion: 'format_version',
  fingerprint: 'fingerprint',
  createdAt: 'created_at',
  /** JSON array of the input paths the store was built from. */
  inputs: 'inputs',
  /** How timestamps were normalised to UTC, e.g. "naive timestamps taken as UTC". */
  timezoneNote: 'timezone_note',
  /** The exchange time zone (IANA name, 'UTC' when none is known): the default display zone, and
   * the zone of trade_day's `hour` and of the session's hour breakdown. */
  exchangeTimezone: 'exchange_timezone',
  /** Where the exchange time zone came from, e.g. "tickscope.json" or "inferred: every zoned
   * timestamp column is in America/New_York"; "none: ..." when it defaulted to UTC. */
  exchangeTimezoneSource: 'exchange_timezone_source',
  /** The dataset description used (tickscope.json or --mapping), as canonical JSON. */
  description: 'description',
  /** The file the description was read from, or where tickscope.json would be. */
  descriptionPath: 'description_path',
  /** JSON { formats: [summary], sources: [line] }: what each format adapter recognised
   * (server/prepare/formats/) and where the numbers it staged came from; empty lists when none. */
  formats: 'formats',
  /** Where the bars came from (BarsOrigin). */
  barsOrigin: 'bars_origin',
  /** 'day' when every bar is stamped at midnight in the exchange zone (a daily bar stands for its
   * whole day: derive-trades.ts, "daily bars"), else 'intraday'. */
  barPeriod: 'bar_period',
  /** JSON { kind: 'market' | 'symbol' | 'file', name, source }: what benchmark_day holds
   * (server/prepare/benchmark.ts). Since format 8. */
  benchmark: 'benchmark',
  /** The annual risk-free rate (a decimal fraction, as text) of tickscope.json, 0 when absent:
   * the default of the requests' riskFreeRate. Since format 8. */
  riskFreeRate: 'risk_free_rate',
} as const;

/**
 * Where a dataset's bars came from: 'input' (bars files, or a tool's per-bar frames such as
 * pyfolio's positions and transactions), 'trades' (no bars in the input: daily bars derived from
 * the trades, P&L booked on the day each trade closed; server/prepare/formats/fill-bars.ts), or
 * 'portfolio' (one series for the whole portfolio, no per-symbol rows:
 * server/prepare/formats/portfolio.ts).
 */
export const BARS_ORIGINS = ['input', 'trades', 'portfolio'] as const;
export type BarsOrigin = (typeof BARS_ORIGINS)[number];

/**
 * SQL turning a UTC TIMESTAMP expression into the naive wall-clock time of `zone` (an IANA name
 * checked at preparation). Preparation (trade_day's hour) and the session (hour breakdown) both
 * use it, so an hour means the same on either side of the store.
 */
export function exchangeTimeSql(ts: string, zone: string): string {
  if (zone === 'UTC') return ts;
  return `timezone('${zone.replace(/'/g, "''")}', timezone('UTC', ${ts}))`;
}

/**
 * Tables of format version 5 (and what later versions changed, with the version). All timestamps are TIMESTAMP holding UTC (bar end for bars);
 * `day` is the UTC calendar DATE of a bar; symbols and run ids are VARCHAR; money is DOUBLE.
 *
 * Base tables (server/prepare/build.ts):
 * - runs(run_id, name, params, capital, capital_source, input_order, run_key)
 *                                                    one row per run; params is JSON text.
 *     run_key (INTEGER, format 12) numbers the store's runs 1, 2, ... in run_id order. Every rollup
 *     below that has run_id has run_key beside it, and the session filters runs on both: DuckDB's
 *     zonemaps keep only the first 8 bytes of a VARCHAR, so run ids that share them (a sweep's
 *     "lb05-q0.20-h01", "lb05-q0.15-h01", ...) prune nothing, and one run of 200 read the rows of
 *     the 50 that share its prefix (10-13 ms for one run's symbol_day rows on the sweep fixture,
 *     against about 1 on an integer). The run_id condition keeps every answer exact whatever the
 *     key (each segment of a dataset numbers its own runs, and a run's rows are in one segment).
 *     The base tables bars and trades have no run_key: they are read by symbol, which prunes.
 *     input_order (format 10) is the row of the run in its runs input (NULL for runs only the
 *     bars name): the order runs are listed and shown in, then run_id.
 *     capital is the run's capital base (DOUBLE, NULL when none is stated) and capital_source
 *     where it came from: 'tickscope.json', 'runs.capital', 'params.<key>', or 'none: <why>'
 *     (server/prepare/capital.ts). Never inferred from exposure.
 * - symbols(symbol, sector, industry, multiplier)    one row per symbol ('Unknown' sector if absent; multiplier:
 *                                                    the contract's value per point of price, 1 unless given)
 * - bars(run_id, ts, symbol, price, position_qty, position_value, trade_qty, fees, pnl)
 *                                                    sorted by (run_id, symbol, ts); unique key
 * - trades(run_id, trade_id, symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price,
 *          fees, pnl, ret, bars_held, mae, mfe, tag)  sorted by (run_id, symbol, entry_ts)
 *     bars_held, mae, mfe, fees and ret missing from the input are derived from the bars
 *     (server/prepare/derive-trades.ts); column_sources says which were.
 * - column_sources(table_name, column_name, source, input_column, note)
 *     one row per canonical column of bars and trades: source 'input' (input_column names the
 *     column read), 'derived' (computed at preparation; note says from what) or 'absent' (NULL
 *     or a default throughout; note says which).
 *
 * Rollups (server/prepare/rollups.ts), in build order. Per bar, a bar's exposures are its
 * position values: gross = |pv|, net = pv, long = max(pv, 0), short = min(pv, 0) (<= 0);
 * traded_value = |trade_qty| x price (dollars traded); trade_qty in rollups is shares traded,
 * sum(|trade_qty|). `*_sum` columns of the day rollups are sums over the day's bars of the
 * per-bar exposure (so the average exposure over any set of bars is sum / bar count), and the
 * day rollups' `bars` counts the bar timestamps the row covers. Sums are additive, so a range
 * answered from day rows for whole days plus bar rows for cut days is exact.
 * - sector_bar(run_id, sector, ts, pnl, fees, traded_value, trade_qty, gross_exposure,
 *              net_exposure, long_exposure, short_exposure)          sorted (run_id, sector, ts)
 * - portfolio_bar(run_id, ts, pnl, fees, gross_exposure, net_exposure, long_exposure,
 *                 short_exposure, trade_qty, traded_value)           sorted (run_id, ts)
 * - symbol_day(run_id, symbol, day, pnl, fees, position_value, trade_qty, traded_value, close,
 *              gross_sum, net_sum, long_sum, short_sum, bars)       sorted (run_id, symbol, day)
 *     position_value and close are at the symbol's last bar of the day.
 * - symbol_day_by_day: the same rows sorted (run_id, day, symbol), so a day range prunes it
 *     when every symbol is grouped (breakdown by symbol over a zoomed range).
 * - symbol_day_gaps(run_id, symbol, day, next_day, position_value, close)   sorted (run_id, day, symbol)
 *     the symbol_day rows whose symbol's next row comes more than POSITION_LOOKBACK_DAYS trading days
 *     later (next_day), or never (next_day NULL): where a symbol's last position before a time is
 *     when it has no row in the days just before (queries/attribution.ts). Since format 9.
 * - sector_day(run_id, sector, day, pnl, fees, gross_exposure, net_exposure, traded_value,
 *              gross_sum, net_sum, long_sum, short_sum, bars)       sorted (run_id, sector, day)
 *     gross/net_exposure: sum over the sector's symbols of their end-of-day position_value;
 *     bars: the largest bar count of the sector's symbols that day.
 * - portfolio_day(run_id, day, pnl, fees, gross_exposure, net_exposure, bars, traded_value,
 *                 gross_sum, net_sum, long_sum, short_sum, first_ts, last_ts)  sorted (run_id, day)
 *     exposures at the day's last bar; bars = bar timestamps of the run that day; first_ts and
 *     last_ts the day's first and last bar of the run.
 * - symbol_total(run_id, symbol, pnl, fees, traded_value, gross_sum, trades, winning_trades)
 *     per run per symbol over the whole dataset (trades counted over all of the run's trades).
 * - market_day(day, ret, symbols)                    equal-weighted market: the mean over symbols
 *     of close / previous close - 1 (close = symbol_day.close of the alphabetically first run that
 *     has the symbol that day); NULL on the first day.
 * - trade_list(run_id, trade_id, symbol, sector, side, entry_ts, exit_ts, close_ts, qty,
 *              entry_price, exit_price, fees, pnl, ret, bars_held, holding_ms, mae, mfe, tag,
 *              sample_key, rk_<c> for every c of RANKED_TRADE_COLUMNS)   sorted (run_id, close_ts)
 *     close_ts = coalesce(exit_ts, entry_ts): a trade belongs to a time range by its close.
 *     holding_ms = exit_ts - entry_ts in milliseconds. rk_<c> is the trade's 0-based rank over
 *     the whole table by (c NULLS LAST, run_id, trade_id): a window of any sort order at any
 *     offset is then found from a histogram of ranks and one small sort (queries/trades.ts).
 *     sample_key (UBIGINT, since format 11) is tradeSampleKeySql: a fixed pseudo-random number per
 *     trade, the order in which the scatter samples trades (queries/scatter.ts).
 * - trade_sample: trade_list again, sorted (sample_key, run_id, trade_id)
 *     a scatter's uniform sample of any scope (queries/scatter.ts) is the scope's trades with the
 *     smallest keys: rows at the head of this table, which zonemaps on sample_key prune to, where
 *     in trade_list they are spread over every block of the scope's range. Since format 11; until
 *     format 13 only the MAX_SCATTER_POINTS smallest keys (the scatter of every trade).
 * - trade_sample_by_sector: trade_list again, sorted (sector, sample_key, run_id, trade_id)
 *     the sample of a scope filtered to sectors: each sector's smallest keys are the head of its
 *     rows, where in trade_sample they are spread among every other sector's (a sector of a tenth
 *     of the trades reads ten times the rows there). Since format 21.
 * - trade_list_by_<c> for c in CLUSTERED_TRADE_SORTS (pnl, ret)  trade_list again, sorted (rk_<c>)
 *     a window of the trade list sorted by c reads contiguous rows (zonemaps prune to the window)
 *     instead of one row in each of a hundred vectors of every column: the sorts analysts use to
 *     find their best and worst trades. Since format 5.
 * - trade_day(run_id, day, hour, sector, side, trades, wins, pnl_n, gross_profit, gross_loss,
 *             holding_sum, holding_n, bars_held_sum, bars_held_n, min_<f>, max_<f> for every f
 *             of TRADE_BOUND_FIELDS)
 *     trade statistics per run per UTC close day, close hour (in the exchange time zone:
 *     exchangeTimeSql), sector and side, from trade_list:
 *     answers the trade measures of a range's whole days without reading every trade (sums and
 *     counts are additive; averages are sum / n; bounds combine by min and max). Since format 4.
 * - bars_by_time(run_id, ts, symbol, pnl, fees, traded_value, position_value, price)
 *                                                    sorted (run_id, ts, symbol)
 *     the bar measures again, in time order: the cut days of a range grouped by symbol (a zoomed
 *     breakdown by symbol) read two days of it instead of scanning all of bars. price since format 8:
 *     the positions held at a range's start and their marks at its end (queries/attribution.ts).
 * - trade_tags(tag, trades)                          distinct non-null trade tags
 * - benchmark_day(day, ret)                          sorted (day)  since format 8
 *     the benchmark's daily return on each UTC date it has one (server/prepare/benchmark.ts):
 *     market_day's ret by default, a symbol's close / previous close - 1 (symbol_day closes, as
 *     market_day takes them), or a file's returns compounded per day / last prices per day as
 *     price / previous price - 1. NULL on its first day. meta's `benchmark` says which.
 *
 * Preparation's report (server/prepare/data-quality.ts):
 * - data_quality(kind, table_name, column_name, problem, count, examples, message)
 *     one row per problem found in the input rows: kind 'dropped' (rows left out under
 *     onBadRows "drop") or 'finding' (nothing changed: the reconciliation of trades against
 *     bars, server/prepare/reconcile.ts, finds trade sides against the bar position's sign and
 *     trade P&L summed per run and symbol against the bars' P&L);
 *     table_name and column_name canonical (column NULL for a whole-row problem such as a
 *     duplicate key); count rows concerned; examples a JSON array of up to 3 rows as text;
 *     message the sentence naming the input file(s). Empty when nothing was found.
 */
export const StoreTable = {
  runs: 'runs',
  symbols: 'symbols',
  bars: 'bars',
  trades: 'trades',
  sectorBar: 'sector_bar',
  portfolioBar: 'portfolio_bar',
  portfolioDay: 'portfolio_day',
  symbolDay: 'symbol_day',
  symbolDayByDay: 'symbol_day_by_day',
  symbolDayGaps: 'symbol_day_gaps',
  sectorDay: 'sector_day',
  symbolTotal: 'symbol_total',
  marketDay: 'market_day',
  tradeList: 'trade_list',
  tradeSample: 'trade_sample',
  tradeSampleBySector: 'trade_sample_by_sector',
  tradeDay: 'trade_day',
  barsByTime: 'bars_by_time',
  tradeTags: 'trade_tags',
  benchmarkDay: 'benchmark_day',
  dataQuality: 'data_quality',
  columnSources: 'column_sources',
} as const;
export type StoreTableName = (typeof StoreTable)[keyof typeof StoreTable];

/**
 * Trading days a position look-up reads before its boundary's day in symbol_day; a symbol without
 * a row in them has its last row in symbol_day_gaps (the store and the session must agree).
 */
export const POSITION_LOOKBACK_DAYS = 5;

/**
 * Columns of trade_list ranked for sorting: each has an rk_<column> rank. The store's own list,
 * not the wire's: the session maps a sort column of the protocol onto it, and a unit test fails
 * when a column sortable on the wire has no rank here (test/unit/store-format.test.ts).
 */
export const RANKED_TRADE_COLUMNS = [
  'run_id', 'trade_id', 'symbol', 'sector', 'side', 'entry_ts', 'exit_ts', 'qty', 'entry_price', 'exit_price',
  'fees', 'pnl', 'ret', 'bars_held', 'holding_ms', 'mae', 'mfe', 'tag',
] as const;
export type RankedTradeColumn = (typeof RANKED_TRADE_COLUMNS)[number];

/** The name of the trade_list column holding each trade's rank by `column` (see trade_list above). */
export function tradeRankColumn(column: RankedTradeColumn): string {
  return `rk_${column}`;
}

/** Ranked columns whose trade windows read a copy of trade_list clustered by their rank. */
export const CLUSTERED_TRADE_SORTS = ['pnl', 'ret'] as const satisfies readonly RankedTradeColumn[];

/** The trade_list copy clustered by `column`'s rank, or trade_list itself for other columns. */
export function tradeListSortedBy(column: RankedTradeColumn): string {
  return (CLUSTERED_TRADE_SORTS as readonly string[]).includes(column) ? `${StoreTable.tradeList}_by_${column}` : StoreTable.tradeList;
}

/**
 * A trade's sample key: the first 8 bytes of md5("<run_id>#<trade_id>") read little-endian, a
 * number uniform over the UBIGINT range, fixed per trade, and computable outside DuckDB (the tests'
 * reference does it with node:crypto).
 */
export function tradeSampleKeySql(runId: string, tradeId: string): string {
  return `md5_number_upper(${runId} || '#' || ${tradeId}::VARCHAR)`;
}

/** Trade fields whose bounds trade_day keeps (the fields a histogram can bin). */
export const TRADE_BOUND_FIELDS = ['pnl', 'ret', 'bars_held', 'holding_ms', 'mae', 'mfe'] as const;
export type TradeBoundField = (typeof TRADE_BOUND_FIELDS)[number];

/**
 * The per-bar measures, as SQL over a row of `bars`. The rollups and the session's bar-level
 * source both use these expressions, so a range answered partly from rollups and partly from
 * bars adds up the same quantities.
 */
export const BAR_MEASURES = {
  pnl: 'pnl',
  fees: 'fees',
  traded_value: 'abs(coalesce(trade_qty, 0)) * price',
  gross: 'abs(position_value)',
  net: 'position_value',
  long: 'greatest(position_value, 0)',
  short: 'least(position_value, 0)',
} as const;
