// Whether a dataset's bars are daily: every bar stamped at midnight in the exchange zone, as
// daily backtesters (zipline/pyfolio, vectorbt on daily prices, a spreadsheet of dates) write
// them. Such a bar stands for its whole day, closing at its end, although the stamp is the
// day's start; barTime below says how trades are matched to it. Recorded in the meta table
// (MetaKey.barPeriod).
import type { DuckDBConnection } from '@duckdb/node-api';
import { StoreTable } from '../store/format.js';

export type BarPeriod = 'day' | 'intraday';

/**
 * The period of the built bars table; needs the build's `exchange_time` macro (exchange-zone.ts).
 * Intraday bars are told from the first bar off midnight (one row read); only daily bars are read
 * through.
 */
export async function barPeriod(con: DuckDBConnection): Promise<BarPeriod> {
  const r = await con.runAndReadAll(`SELECT
    EXISTS (SELECT 1 FROM ${StoreTable.bars}),
    EXISTS (SELECT 1 FROM ${StoreTable.bars} WHERE exchange_time(ts)::TIME <> TIME '00:00:00')`);
  const [any, offMidnight] = r.getRows()[0] as [boolean, boolean];
  return any && !offMidnight ? 'day' : 'intraday';
}

/**
 * How bars and trades are put on one time axis when they are matched (derive-trades.ts,
 * reconcile.ts). A bar's ts is its end. A daily bar stamped D 00:00 ends when day D does, so it is
 * placed at D + 1 day; a trade time at exactly midnight in a daily dataset is a day's close as
 * well (daily backtesters stamp a fill at the close with the day's date), placed the same way.
 * Then "the first bar ending at or after the entry" is the entry day's bar, and a trade held from
 * the close of D to the close of X covers the bars of D+1 to X.
 */
export interface BarTime {
  /** SQL placing a bar's ts column on the matching axis. */
  bar(ts: string): string;
  /** SQL placing a trade's entry or exit time on the matching axis. */
  trade(ts: string): string;
}

export function barTime(period: BarPeriod): BarTime {
  if (period === 'intraday') return { bar: (ts) => ts, trade: (ts) => ts };
  return {
    bar: (ts) => `(${ts} + INTERVAL 1 DAY)`,
    trade: (ts) => `(CASE WHEN exchange_time(${ts})::TIME = TIME '00:00:00' THEN ${ts} + INTERVAL 1 DAY ELSE ${ts} END)`,
  };
}
