// MetaTrader's list of closed positions, a table of its HTML report (html-reports.ts) or saved as
// CSV (or Parquet):
//   MetaTrader 5, the report's Positions: Time, Position, Symbol, Type, Volume, Price, S / L, T / P,
//     Time, Price, Commission, Swap, Profit[, Comment]
//   MetaTrader 4, the statement's Closed Transactions: Ticket, Open Time, Type, Size, Item, Price,
//     S / L, T / P, Close Time, Price, Commission, Taxes, Swap, Profit
// The second Time and Price are the exit's; a CSV reader names the repeats Time_1 and Price_1
// (DuckDB) or Time.1 and Price.1 (pandas), both time_1 and price_1 as mapping.ts compares names.
// Type is buy or sell: the side. Profit is the price move alone: MetaTrader's net profit is
// Profit + Commission + Swap (+ Taxes), costs written as negative amounts. That sum is the trade's
// pnl, so the dataset's P&L is the report's Total Net Profit to the cent. Read the canonical way
// these files came out wrong: the position number as a quantity, Profit before costs.
// Rows of other types (money moved in or out, the capital, pending orders, a totals line) are as
// metatrader-rows.ts says.
// Volume is in lots, and the contract size (100,000 units a lot of a currency pair) is not in the
// file, so a trade's return is its price move by side times its net over its gross P&L (Profit +
// Swap, as the list of deals gives it, metatrader-deals.ts), not pnl over lots x price; position
// values of the daily bars (made of the trades) are lots x price, unless the symbols give the
// contract size as a multiplier (multipliers.ts).
// Times are the trade server's clock, naive: the dataset's `timezone` says which zone that is.
import { sqlIdent } from '../../sql/text.js';
import { stampPath } from '../inputs/index.js';
import type { ColumnInfo } from '../column-types.js';
import { exportedNumberSql } from '../expressions.js';
import type { Detection, FormatAdapter, FormatDescription, StagedTables } from './adapter.js';
import { isTradeSql, kindSql, moneyOf, stageCapital, stageLists } from './metatrader-rows.js';
import { detectLists, timeOf, type Columns, type ListFile } from './named-columns.js';

/** Which column plays each part, by its normalised name. */
const PARTS: Record<string, RegExp> = {
  entryTime: /^(time|open_time)$/,
  exitTime: /^(time_1|close_time)$/,
  ticket: /^(position|ticket|order)$/,
  symbol: /^(symbol|item)$/,
  type: /^type$/,
  volume: /^(volume|size|lots)$/,
  entryPrice: /^(price|open_price)$/,
  exitPrice: /^(price_1|close_price)$/,
  commission: /^commission$/,
  taxes: /^taxes$/,
  swap: /^swap$/,
  profit: /^profit$/,
  comment: /^comment$/,
};
// Swap beside a repeated Time and Price (or Open and Close Time): no other tool writes that header.
const REQUIRED = ['entryTime', 'exitTime', 'symbol', 'type', 'volume', 'entryPrice', 'exitPrice', 'swap', 'profit'];

interface MetaTraderPlan {
  files: ListFile[];
}

/** Each row with its kind and its numbers. */
function rowsSql(p: Columns, relation: string): string {
  const isTrade = isTradeSql(p['type']!);
  const ticket = p['ticket'] ? `TRY_CAST(${sqlIdent(p['ticket'].name)} AS BIGINT)` : 'NULL::BIGINT';
  return `SELECT ${kindSql(p['type']!)}, ${ticket} AS ticket, trim(${sqlIdent(p['symbol']!.name)}::VARCHAR) AS symbol,
      ${timeOf(p['entryTime']!)} AS time, ${timeOf(p['entryTime']!)} AS entry_ts, ${timeOf(p['exitTime']!)} AS exit_ts,
      ${exportedNumberSql(p['volume'], isTrade)} AS volume,
      ${exportedNumberSql(p['entryPrice'], isTrade)} AS entry_price, ${exportedNumberSql(p['exitPrice'], isTrade)} AS exit_price,
      ${moneyOf(p['commission'])} AS commission, ${moneyOf(p['taxes'])} AS taxes, ${moneyOf(p['swap'])} AS swap, ${moneyOf(p['profit'])} AS profit,
      ${p['comment'] ? `nullif(trim(${sqlIdent(p['comment'].name)}::VARCHAR), '')` : 'NULL::VARCHAR'} AS comment
    FROM ${relation}`;
}

const LABEL = 'MetaTrader list of positions';

export const metatraderAdapter: FormatAdapter<MetaTraderPlan> = {
  id: 'metatrader',
  label: LABEL,

  detect(files) {
    return detectLists(files, PARTS, REQUIRED);
  },

  describe(detection: Detection<MetaTraderPlan>): FormatDescription {
    const files = detection.plan.files.map(({ file, parts: p }) => {
      const costs = [p.commission, p.swap, p.taxes].filter((c): c is ColumnInfo => c !== undefined).map((c) => c.name);
      return {
        path: stampPath(file),
        role: 'closed positions (buy and sell rows; balance and credit rows are money moved in or out)',
        columns: Object.fromEntries(
          Object.entries({
            trade_id: p.ticket && detection.plan.files.length === 1 ? p.ticket.name : undefined,
            symbol: p.symbol!.name,
            side: `${p.type!.name} (buy: long, sell: short)`,
            entry_ts: `${p.entryTime!.name} (the trade server's clock)`,
            exit_ts: `${p.exitTime!.name} (the trade server's clock)`,
            qty: `${p.volume!.name} (lots)`,
            entry_price: p.entryPrice!.name,
            exit_price: p.exitPrice!.name,
            fees: p.commission ? `-(${[p.commission, p.taxes].filter((c) => c).map((c) => c!.name).join(' + ')})` : undefined,
            pnl: `${[p.profit!.name, ...costs].join(' + ')} (net, as MetaTrader's Total Net Profit sums it)`,
            ret: `price move by side x pnl / (${p.profit!.name} + ${p.swap!.name})`,
            tag: p.comment?.name,
            capital: `${p.profit!.name} of the balance and credit rows up to the first trade`,
          }).filter((e): e is [string, string] => e[1] !== undefined),
        ),
      };
    });
    return {
      summary: `MetaTrader list of positions: ${files.map((f) => f.path).join(', ')}`,
      files,
      missing: [{ table: 'bars', why: "a list of positions holds no per-bar positions or prices: daily bars are made of the trades' entry and exit fills (P&L on the day each closed)" }],
    };
  },

  async stage(detection, ctx): Promise<StagedTables> {
    const all = await stageLists(ctx, detection.plan.files, rowsSql, LABEL, ['profit', 'swap', 'commission']);
    // The ticket is the trade's number when one file holds the run (two accounts' tickets could meet).
    const keepTickets = detection.plan.files.length === 1;
    const sign = `CASE type WHEN 'sell' THEN -1 ELSE 1 END`;
    const priceMove = `${sign} * (exit_price / entry_price - 1)`;
    const trades = ctx.table('trades');
    await ctx.con.run(`CREATE TEMP TABLE ${trades} AS
      SELECT run_id, ${keepTickets ? 'ticket' : 'NULL::BIGINT'} AS trade_id, symbol, CASE type WHEN 'sell' THEN 'short' ELSE 'long' END AS side,
        entry_ts, exit_ts, abs(volume) AS qty, entry_price, exit_price,
        -(commission + taxes) AS fees, profit + commission + swap + taxes AS pnl,
        CASE WHEN exit_price IS NULL THEN NULL WHEN profit + swap <> 0 THEN ${priceMove} * (profit + commission + swap + taxes) / (profit + swap) ELSE ${priceMove} END AS ret,
        comment AS tag
      FROM ${all} WHERE is_trade`);
    const capital = await stageCapital(ctx, all);
    const sources = ["trades: MetaTrader's closed positions (pnl = Profit + Commission + Swap + Taxes, net as its Total Net Profit; qty in lots)", ...capital.sources];
    return capital.runs ? { trades, runs: capital.runs, sources } : { trades, sources };
  },
};
