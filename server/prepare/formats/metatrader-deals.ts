// MetaTrader 5's list of deals, a table of its HTML report (html-reports.ts) or saved as CSV:
// the Deals table of a Strategy Tester report (its only list of trades) or of the account history:
//   Time, Deal, Symbol, Type, Direction, Volume, Price, Order, Commission[, Fee], Swap, Profit,
//   Balance, Comment
// Each buy or sell deal is a fill; Direction says whether it opened a position (in), closed one
// (out, out by) or both (in/out, a reversal). The fills are matched into round trips FIFO
// (round-trips.ts), and each round trip's P&L before fees is the Profit + Swap MetaTrader booked
// on its closing deal (in the account's currency; the file has lots, not the contract size, so the
// price move would not give it); its fees are its share of the deals' Commission and Fee (costs
// written as negative amounts). So the trades sum to the report's Total Net Profit, and the last
// Balance is the first plus that.
// FIFO on one position per symbol is MetaTrader's netting accounts and its tester's usual mode; a
// hedging account holds opposite positions on one symbol at once, which no FIFO matching of the
// deals can tell apart: a deal whose Direction disagrees with the matching is refused, naming it
// (the report's Positions table, metatrader.ts, reads such an account exactly).
// Balance and credit rows are money moved (metatrader-rows.ts). Recognised before the
// portfolio-only reading of the Balance column (portfolio.ts), which it replaces.
import { sqlIdent } from '../../sql/text.js';
import { PrepareError } from '../errors.js';
import { exportedNumberSql } from '../expressions.js';
import { stampPath } from '../inputs/index.js';
import type { Detection, FormatAdapter, FormatDescription, StageContext, StagedTables } from './adapter.js';
import { isTradeSql, kindSql, moneyOf, stageCapital, stageLists } from './metatrader-rows.js';
import { detectLists, timeOf, type Columns, type ListFile } from './named-columns.js';
import { stageRoundTrips } from './round-trips.js';

const PARTS: Record<string, RegExp> = {
  time: /^time$/,
  deal: /^deal$/,
  symbol: /^symbol$/,
  type: /^type$/,
  direction: /^direction$/,
  volume: /^volume$/,
  price: /^price$/,
  commission: /^commission$/,
  fee: /^fee$/,
  swap: /^swap$/,
  profit: /^profit$/,
  balance: /^balance$/,
};
const REQUIRED = ['time', 'symbol', 'type', 'direction', 'volume', 'price', 'profit', 'balance'];

interface DealsPlan {
  files: ListFile[];
}

/** Quantities are compared after rounding, as round-trips.ts does. */
const QTY_DECIMALS = 9;

function rowsSql(p: Columns, relation: string, index: number): string {
  const isTrade = isTradeSql(p['type']!);
  return `SELECT ${kindSql(p['type']!)}, ${index}::BIGINT * 4294967296 + row_number() OVER () AS seq,
      ${p['deal'] ? `trim(${sqlIdent(p['deal'].name)}::VARCHAR)` : 'NULL::VARCHAR'} AS deal,
      lower(trim(${sqlIdent(p['direction']!.name)}::VARCHAR)) AS direction, trim(${sqlIdent(p['symbol']!.name)}::VARCHAR) AS symbol,
      ${timeOf(p['time']!)} AS time, ${exportedNumberSql(p['volume'], isTrade)} AS volume, ${exportedNumberSql(p['price'], isTrade)} AS price,
      ${moneyOf(p['commission'])} AS commission, ${moneyOf(p['fee'])} AS fee, ${moneyOf(p['swap'])} AS swap, ${moneyOf(p['profit'])} AS profit
    FROM ${relation}`;
}

/**
 * The first deal whose Direction disagrees with FIFO matching on one position per symbol (an
 * `in` that closes, an `out` that opens or reverses), or null.
 */
async function firstHedgedDeal(ctx: StageContext, rows: string): Promise<string | null> {
  const q = QTY_DECIMALS;
  const [bad] = (await ctx.con.runAndReadAll(`
    WITH signed AS (
      SELECT *, CASE type WHEN 'buy' THEN volume ELSE -volume END AS amount FROM ${rows} WHERE is_trade
    ),
    held AS (
      SELECT *, round(sum(amount) OVER (PARTITION BY run_id, symbol ORDER BY time, seq ROWS UNBOUNDED PRECEDING) - amount, ${q}) AS before FROM signed
    )
    SELECT deal, time, symbol, direction FROM held
    WHERE (direction = 'in' AND before <> 0 AND sign(before) <> sign(amount))
       OR (direction IN ('out', 'out by') AND (before = 0 OR sign(before) = sign(amount) OR round(abs(amount) - abs(before), ${q}) > 0))
    ORDER BY time, seq LIMIT 1`)).getRowsJson();
  if (!bad) return null;
  const [deal, time, symbol, direction] = bad.map((v) => (v === null ? '' : String(v)));
  return `deal ${deal} of ${symbol} at ${time} (Direction ${direction})`;
}

const LABEL = 'MetaTrader list of deals';

export const metatraderDealsAdapter: FormatAdapter<DealsPlan> = {
  id: 'metatrader-deals',
  label: LABEL,

  detect(files) {
    // Direction (in/out) beside Balance and Profit: MetaTrader 5's deals header.
    return detectLists(files, PARTS, REQUIRED);
  },

  describe(detection: Detection<DealsPlan>): FormatDescription {
    const files = detection.plan.files.map(({ file, parts: p }) => {
      const costs = [p['commission'], p['fee']].filter((c) => c !== undefined).map((c) => c!.name);
      return {
        path: stampPath(file),
        role: 'deals, matched into round trips FIFO (balance and credit rows are money moved in or out)',
        columns: {
          symbol: p['symbol']!.name,
          side: `${p['type']!.name} of the opening deal (buy: long, sell: short)`,
          entry_ts: `${p['time']!.name} of the opening deal (the trade server's clock)`,
          exit_ts: `${p['time']!.name} of the closing deal`,
          qty: `${p['volume']!.name} (lots)`,
          entry_price: `${p['price']!.name} of the opening deal(s), weighted`,
          exit_price: `${p['price']!.name} of the closing deal`,
          ...(costs.length ? { fees: `-(${costs.join(' + ')}), shared by volume` } : {}),
          pnl: `${p['profit']!.name}${p['swap'] ? ` + ${p['swap'].name}` : ''} of the closing deal - fees (net, as MetaTrader's Total Net Profit sums it)`,
          ret: 'price move by side x pnl / (pnl + fees)',
          capital: `${p['profit']!.name} of the balance and credit rows up to the first trade`,
        },
      };
    });
    return {
      summary: `MetaTrader list of deals: ${files.map((f) => f.path).join(', ')}`,
      files,
      missing: [{ table: 'bars', why: "a list of deals holds no per-bar positions or prices: daily bars are made of the trades' entry and exit fills (P&L on the day each closed)" }],
    };
  },

  async stage(detection, ctx): Promise<StagedTables> {
    const all = await stageLists(ctx, detection.plan.files, rowsSql, LABEL, ['profit', 'swap', 'commission', 'fee']);
    const what = `${LABEL} ${detection.plan.files.map((f) => stampPath(f.file)).join(', ')}`;
    const hedged = await firstHedgedDeal(ctx, all);
    if (hedged) {
      throw new PrepareError(
        `${what}: ${hedged} does not match the deals before it on one position per symbol, as on a hedging account, which holds opposite positions at once; give the report's Positions table instead (saved as CSV, it is read position by position)`,
      );
    }
    const matched = ctx.table('matched');
    await stageRoundTrips(
      ctx.con,
      [`SELECT run_id, symbol, time AS ts, seq, CASE type WHEN 'buy' THEN volume ELSE -volume END AS amount, price, -(commission + fee) AS fees, profit + swap AS realized FROM ${all} WHERE is_trade`],
      { fills: ctx.table('fills'), target: matched },
      what,
      (n) => `${n} buy or sell deal(s) have no Volume`,
      { realized: true },
    );
    // The file has lots, not the contract size: a return is the price move scaled to the net P&L.
    const trades = ctx.table('trades');
    const move = `CASE side WHEN 'short' THEN -1 ELSE 1 END * (exit_price / entry_price - 1)`;
    await ctx.con.run(`CREATE TEMP TABLE ${trades} AS
      SELECT * REPLACE (CASE WHEN pnl IS NULL THEN NULL WHEN pnl + fees <> 0 THEN ${move} * pnl / (pnl + fees) ELSE ${move} END AS ret) FROM ${matched}`);
    const capital = await stageCapital(ctx, all);
    const sources = ["trades: FIFO round trips of MetaTrader's deals (pnl = the closing deal's Profit + Swap - Commission and Fee, net as its Total Net Profit; qty in lots)", ...capital.sources];
    return capital.runs ? { trades, runs: capital.runs, sources } : { trades, sources };
  },
};
