// The prepared store: the one door between the preparation pipeline (which writes it) and the
// session processes (which open it READ_ONLY, many at once). Bump STORE_FORMAT_VERSION whenever
// a table, column or meaning below changes; a store of another version is rebuilt, never read.

export const STORE_FORMAT_VERSION = 1;

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
} as const;

/**
 * Tables of format version 1. All timestamps are TIMESTAMP holding UTC (bar end for bars);
 * symbols and run ids are VARCHAR; money is DOUBLE.
 *
 * - runs(run_id, name, params)                       one row per run
 * - symbols(symbol, sector, industry)                one row per symbol ('Unknown' sector if absent)
 * - bars(run_id, ts, symbol, price, position_qty, position_value, trade_qty, fees, pnl)
 *                                                    sorted by (run_id, symbol, ts); unique key
 * - trades(run_id, trade_id, symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price,
 *          fees, pnl, ret, bars_held, mae, mfe, tag)  sorted by (run_id, symbol, entry_ts)
 * - portfolio_bar(run_id, ts, pnl, fees, gross_exposure, net_exposure, long_exposure,
 *                 short_exposure, trade_qty)         per run per bar, sorted by (run_id, ts)
 * - portfolio_day(run_id, day DATE, pnl, fees, gross_exposure, net_exposure, bars)
 *                                                    per run per UTC day; exposures are end-of-day
 * - symbol_day(run_id, symbol, day, pnl, fees, position_value, trade_qty)
 * - sector_day(run_id, sector, day, pnl, fees, gross_exposure, net_exposure)
 */
export const StoreTable = {
  runs: 'runs',
  symbols: 'symbols',
  bars: 'bars',
  trades: 'trades',
  portfolioBar: 'portfolio_bar',
  portfolioDay: 'portfolio_day',
  symbolDay: 'symbol_day',
  sectorDay: 'sector_day',
} as const;
