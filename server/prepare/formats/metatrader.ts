// MetaTrader's list of closed positions, saved as CSV (or Parquet) from its report or history:
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
// Rows of other types: `balance` and `credit` rows are money moved in or out, not P&L (the first
// ones, up to the first trade, are the run's capital); a pending order that never filled (buy
// limit, sell stop, ...) has no P&L and is left out; anything else with a P&L is refused.
// Volume is in lots, and the contract size (100,000 units a lot of a currency pair) is not in the
// file, so a trade's return is its price move by side times its net over its gross profit
// (exact when the profit's currency rate did not move between entry and exit), not pnl over
// lots x price; position values of the daily bars (made of the trades) are lots x price.
// Times are the trade server's clock, naive: the dataset's `timezone` says which zone that is.
import { errorMessage } from '../../../shared/errors.js';
import { sqlIdent, sqlString } from '../../sql/text.js';
import { familyOf, type ColumnInfo } from '../column-types.js';
import { PrepareError } from '../errors.js';
import { exportedNumberSql } from '../expressions.js';
import { stampPath } from '../inputs.js';
import { normalise } from '../mapping.js';
import { runOfFile, type CandidateFile, type Detection, type FormatAdapter, type FormatDescription, type StageContext, type StagedTables } from './adapter.js';

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

type Parts = Record<string, ColumnInfo | undefined>;

interface MetaTraderFile {
  file: CandidateFile;
  parts: Parts;
}

interface MetaTraderPlan {
  files: MetaTraderFile[];
}

/** What a row is, by its Type. */
const TRADE_TYPES = ['buy', 'sell'];
const CASH_TYPES = ['balance', 'credit'];

function partsOf(file: CandidateFile): Parts | null {
  const parts: Parts = {};
  for (const [part, re] of Object.entries(PARTS)) parts[part] = file.columns.find((c) => re.test(normalise(c.name)));
  return REQUIRED.every((p) => parts[p]) ? parts : null;
}

/** A time column as written (the pipeline reads text dates such as 2024.01.02 09:35:00); blank text is none. */
function timeOf(c: ColumnInfo): string {
  const v = sqlIdent(c.name);
  return familyOf(c) === 'string' ? `nullif(trim(${v}::VARCHAR), '')` : v;
}

/** Each row with its kind and its numbers; the rows of a file in the order it lists them. */
function rowsSql(p: Parts, relation: string): string {
  const type = `lower(trim(${sqlIdent(p.type!.name)}::VARCHAR))`;
  const isTrade = `${type} IN (${TRADE_TYPES.map(sqlString).join(', ')})`;
  const money = (c: ColumnInfo | undefined) => `coalesce(${exportedNumberSql(c)}, 0)`;
  const ticket = p.ticket ? `TRY_CAST(${sqlIdent(p.ticket.name)} AS BIGINT)` : 'NULL::BIGINT';
  return `SELECT ${type} AS type, ${isTrade} AS is_trade, ${type} IN (${CASH_TYPES.map(sqlString).join(', ')}) AS is_cash,
      ${ticket} AS ticket, trim(${sqlIdent(p.symbol!.name)}::VARCHAR) AS symbol,
      ${timeOf(p.entryTime!)} AS entry_ts, ${timeOf(p.exitTime!)} AS exit_ts,
      ${exportedNumberSql(p.volume, isTrade)} AS volume,
      ${exportedNumberSql(p.entryPrice, isTrade)} AS entry_price, ${exportedNumberSql(p.exitPrice, isTrade)} AS exit_price,
      ${money(p.commission)} AS commission, ${money(p.taxes)} AS taxes, ${money(p.swap)} AS swap, ${money(p.profit)} AS profit,
      ${p.comment ? `nullif(trim(${sqlIdent(p.comment.name)}::VARCHAR), '')` : 'NULL::VARCHAR'} AS comment
    FROM ${relation}`;
}

function what(f: MetaTraderFile): string {
  return `MetaTrader list of positions ${stampPath(f.file)}`;
}

/** Stages one file's rows; throws, naming the file and the row, on a row that is neither a trade nor money moved. */
async function stageRows(ctx: StageContext, f: MetaTraderFile, index: number): Promise<string> {
  const target = ctx.table(`rows_${index}`);
  try {
    await ctx.con.run(`CREATE TEMP TABLE ${target} AS SELECT ${sqlString(runOfFile(f.file))} AS run_id, * FROM (${rowsSql(f.parts, await ctx.read(f.file))})`);
  } catch (err) {
    throw new PrepareError(`${what(f)} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  const [bad] = (await ctx.con.runAndReadAll(
    `SELECT count(*)::DOUBLE, any_value(type), any_value(profit) FROM ${target} WHERE NOT is_trade AND NOT is_cash AND (profit <> 0 OR swap <> 0 OR commission <> 0)`,
  )).getRowsJson();
  if (Number(bad?.[0] ?? 0) > 0) {
    throw new PrepareError(
      `${what(f)}: ${Number(bad![0])} row(s) with money but a ${f.parts.type!.name} that is neither buy, sell, balance nor credit (one: '${String(bad![1])}' with ${f.parts.profit!.name} ${String(bad![2])}); only positions and money moved in or out can be read`,
    );
  }
  const [noSymbol] = (await ctx.con.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${target} WHERE is_trade AND coalesce(symbol, '') = ''`)).getRowsJson();
  if (Number(noSymbol?.[0] ?? 0) > 0) throw new PrepareError(`${what(f)}: ${Number(noSymbol![0])} buy or sell row(s) without a ${f.parts.symbol!.name}`);
  return target;
}

export const metatraderAdapter: FormatAdapter<MetaTraderPlan> = {
  id: 'metatrader',
  label: 'MetaTrader list of positions',

  detect(files) {
    const found: MetaTraderFile[] = [];
    for (const file of files) {
      const parts = partsOf(file);
      if (parts) found.push({ file, parts });
    }
    return found.length === 0 ? null : { files: found.map((f) => f.file), confidence: 'certain', plan: { files: found } };
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
            ret: `price move by side x pnl / ${p.profit!.name}`,
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
    const rows: string[] = [];
    for (const [i, f] of detection.plan.files.entries()) rows.push(`SELECT * FROM ${await stageRows(ctx, f, i)}`);
    const all = ctx.table('rows');
    await ctx.con.run(`CREATE TEMP TABLE ${all} AS ${rows.join(' UNION ALL ')}`);
    // The ticket is the trade's number when one file holds the run (two accounts' tickets could meet).
    const keepTickets = detection.plan.files.length === 1;
    const sign = `CASE type WHEN 'sell' THEN -1 ELSE 1 END`;
    const priceMove = `${sign} * (exit_price / entry_price - 1)`;
    const trades = ctx.table('trades');
    await ctx.con.run(`CREATE TEMP TABLE ${trades} AS
      SELECT run_id, ${keepTickets ? 'ticket' : 'NULL::BIGINT'} AS trade_id, symbol, CASE type WHEN 'sell' THEN 'short' ELSE 'long' END AS side,
        entry_ts, exit_ts, abs(volume) AS qty, entry_price, exit_price,
        -(commission + taxes) AS fees, profit + commission + swap + taxes AS pnl,
        CASE WHEN exit_price IS NULL THEN NULL WHEN profit <> 0 THEN ${priceMove} * (profit + commission + swap + taxes) / profit ELSE ${priceMove} END AS ret,
        comment AS tag
      FROM ${all} WHERE is_trade`);
    const moves = ctx.table('money_moved');
    // Money moved in before the first trade is what the account started with; later moves are not P&L.
    await ctx.con.run(`CREATE TEMP TABLE ${moves} AS
      SELECT run_id, sum(profit) FILTER (WHERE is_cash AND entry_ts <= first_trade) AS capital,
        count(*) FILTER (WHERE is_cash AND entry_ts > first_trade) AS later
      FROM (SELECT *, min(entry_ts) FILTER (WHERE is_trade) OVER (PARTITION BY run_id) AS first_trade FROM ${all})
      GROUP BY run_id`);
    const runs = ctx.table('runs');
    await ctx.con.run(`CREATE TEMP TABLE ${runs} AS SELECT run_id, run_id AS name, NULL::VARCHAR AS params, capital FROM ${moves}`);
    const [counts] = (await ctx.con.runAndReadAll(`SELECT count(capital)::DOUBLE, sum(later)::DOUBLE FROM ${moves}`)).getRowsJson();
    const sources = ["trades: MetaTrader's closed positions (pnl = Profit + Commission + Swap + Taxes, net as its Total Net Profit; qty in lots)"];
    const later = Number(counts?.[1] ?? 0);
    if (later > 0) sources.push(`${later} balance or credit row(s) after the first trade: deposits and withdrawals, not P&L, left out`);
    // Runs only when the list states a capital: else a runs file of the user's own gives them.
    if (Number(counts?.[0] ?? 0) === 0) return { trades, sources };
    sources.push('capital: the balance and credit rows up to the first trade');
    return { trades, runs, sources };
  },
};
