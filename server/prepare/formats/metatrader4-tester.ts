// MetaTrader 4's Strategy Tester report (StrategyTester.htm, html-reports.ts, or its table saved as
// CSV): one row per order event of one instrument's backtest:
//   #, Time, Type, Order, Size, Price, S / L, T / P, Profit, Balance
// An order opens with a `buy` or `sell` row and closes with a `close`, `t/p`, `s/l`, `close at
// stop` or `so` (stop out) row, which carries its Profit; `modify` and `delete` rows and pending
// orders (`buy limit`, ...) move no money. A trade per closed order: side, entry time and price
// from its opening row; exit time and price, quantity (lots; a partial close closes part of the
// order, and MetaTrader goes on under a new order number) and P&L from its closing row. The P&L
// is the change of Balance the close made, which is Profit as the tester booked it, net of its
// commission and swap: so the trades sum to the report's Total Net Profit and the capital is the
// Balance of the first row. A close whose Profit is not the change of Balance (a row missing
// between them) is refused, naming it.
// The table names no instrument; the report's heading does ("Symbol: EURUSD (Euro vs US Dollar)",
// its Summary table, html-reports.ts). The symbol is the description's `symbol`, else the
// heading's, else the report's folder name, as for any single-instrument backtest.
// Lots carry no contract size: `ret` is the price move by side.
import path from 'node:path';
import { errorMessage } from '../../../shared/errors.js';
import { sqlIdent, sqlString } from '../../sql/text.js';
import { PrepareError } from '../errors.js';
import { exportedNumberSql } from '../expressions.js';
import { stampPath } from '../inputs/index.js';
import { SUMMARY_TABLE } from '../report-tables.js';
import { runOfFile, type CandidateFile, type Detection, type FormatAdapter, type FormatDescription, type StageContext, type StagedTables } from './adapter.js';
import { moneyOf } from './metatrader-rows.js';
import { detectLists, timeOf, type Columns, type ListFile } from './named-columns.js';

const PARTS: Record<string, RegExp> = {
  number: /^#$/,
  time: /^time$/,
  type: /^type$/,
  order: /^order$/,
  size: /^size$/,
  price: /^price$/,
  profit: /^profit$/,
  balance: /^balance$/,
};
// `#` and Order beside Size, Profit and Balance, and no Symbol: MetaTrader 4's tester header.
const REQUIRED = Object.keys(PARTS);

const OPENS = ['buy', 'sell'];
const CLOSES = ['close', 't/p', 's/l', 'close at stop', 'so'];

interface TesterPlan {
  files: ListFile[];
  /** The Summary table of the report each list came from, by the list's path. */
  summaries: Map<string, CandidateFile>;
}

const LABEL = 'MetaTrader 4 Strategy Tester report';

/** The first word of the report heading's Symbol ("EURUSD (Euro vs US Dollar)"), or null. */
async function headingSymbol(ctx: StageContext, summary: CandidateFile | undefined): Promise<string | null> {
  if (!summary) return null;
  const [row] = (await ctx.con.runAndReadAll(`SELECT split_part(trim(value::VARCHAR), ' ', 1) FROM ${await ctx.read(summary)} WHERE lower(trim(label::VARCHAR)) = 'symbol' LIMIT 1`)).getRowsJson();
  return row?.[0] ? String(row[0]) : null;
}

/** The instrument: the description's, else the report heading's, else the folder of the report (or of the file). */
async function symbolOf(ctx: StageContext, file: CandidateFile, summary: CandidateFile | undefined): Promise<string> {
  return ctx.description.symbol ?? (await headingSymbol(ctx, summary)) ?? path.basename(path.dirname(file.archive?.archive ?? file.path));
}

function rowsSql(p: Columns, relation: string, file: CandidateFile, index: number, symbol: string): string {
  const type = `lower(trim(${sqlIdent(p['type']!.name)}::VARCHAR))`;
  const moves = `${type} IN (${[...OPENS, ...CLOSES].map(sqlString).join(', ')})`;
  return `SELECT ${sqlString(runOfFile(file))} AS run_id, ${sqlString(symbol)} AS symbol, ${index}::BIGINT * 4294967296 + row_number() OVER () AS seq,
      ${type} AS type, trim(${sqlIdent(p['order']!.name)}::VARCHAR) AS order_id, ${timeOf(p['time']!)} AS time,
      ${exportedNumberSql(p['size'], moves)} AS size, ${exportedNumberSql(p['price'], moves)} AS price,
      ${moneyOf(p['profit'])} AS profit, ${exportedNumberSql(p['balance'])} AS balance
    FROM ${relation}`;
}

export const metatrader4TesterAdapter: FormatAdapter<TesterPlan> = {
  id: 'metatrader4-tester',
  label: LABEL,

  detect(files) {
    const lists = detectLists(files, PARTS, REQUIRED);
    if (!lists) return null;
    // The Summary table written out of the same report (html-reports.ts), for the heading's symbol.
    const summaries = new Map<string, CandidateFile>();
    for (const { file } of lists.plan.files) {
      const summary = file.archive && files.find((f) => f.archive?.archive === file.archive!.archive && f.archive.member === `${SUMMARY_TABLE}.csv`);
      if (summary) summaries.set(file.path, summary);
    }
    return { ...lists, files: [...lists.files, ...summaries.values()], plan: { files: lists.plan.files, summaries } };
  },

  describe(detection: Detection<TesterPlan>): FormatDescription {
    const files = detection.plan.files.map(({ file, parts: p }) => ({
      path: stampPath(file),
      role: 'order events of one instrument (buy/sell open an order; close, t/p, s/l, so close it)',
      columns: {
        symbol: 'the description\'s "symbol", else the report heading\'s Symbol, else the report\'s folder name (the table names none)',
        side: `${p['type']!.name} of the opening row`,
        entry_ts: `${p['time']!.name} of the opening row (the trade server's clock)`,
        exit_ts: `${p['time']!.name} of the closing row`,
        qty: `${p['size']!.name} of the closing row (lots)`,
        entry_price: `${p['price']!.name} of the opening row`,
        exit_price: `${p['price']!.name} of the closing row`,
        pnl: `${p['profit']!.name} of the closing row (net: the change of ${p['balance']!.name} it made)`,
        ret: 'price move by side',
        capital: `${p['balance']!.name} of the first row`,
      },
    }));
    return {
      summary: `${LABEL}: ${files.map((f) => f.path).join(', ')}`,
      files,
      missing: [{ table: 'bars', why: "the report holds no per-bar positions or prices: daily bars are made of the trades' entry and exit fills (P&L on the day each closed)" }],
    };
  },

  async stage(detection, ctx): Promise<StagedTables> {
    const what = `${LABEL} ${detection.plan.files.map((f) => stampPath(f.file)).join(', ')}`;
    const parts: string[] = [];
    for (const [i, { file, parts: p }] of detection.plan.files.entries()) {
      parts.push(rowsSql(p, await ctx.read(file), file, i, await symbolOf(ctx, file, detection.plan.summaries.get(file.path))));
    }
    const rows = ctx.table('rows');
    try {
      await ctx.con.run(`CREATE TEMP TABLE ${rows} AS
        SELECT *, balance - lag(balance) OVER (PARTITION BY run_id ORDER BY seq) AS balance_change FROM (${parts.join(' UNION ALL ')})`);
    } catch (err) {
      throw new PrepareError(`${what} cannot be read: ${errorMessage(err)}`, { cause: err });
    }
    const closes = CLOSES.map(sqlString).join(', ');
    const [bad] = (await ctx.con.runAndReadAll(
      `SELECT order_id, time, profit, balance_change FROM ${rows} WHERE type IN (${closes}) AND balance_change IS NOT NULL AND abs(balance_change - profit) > 0.005 ORDER BY seq LIMIT 1`,
    )).getRowsJson();
    if (bad) {
      const [order, time, profit, change] = bad.map(String);
      throw new PrepareError(`${what}: the close of order ${order} at ${time} has Profit ${profit} but changed the Balance by ${change}; a row is missing between them, or the Balance is not the tester's`);
    }
    const trades = ctx.table('trades');
    const move = `CASE o.type WHEN 'sell' THEN -1 ELSE 1 END * (c.price / o.price - 1)`;
    await ctx.con.run(`CREATE TEMP TABLE ${trades} AS
      WITH opens AS (SELECT * FROM ${rows} WHERE type IN (${OPENS.map(sqlString).join(', ')}) QUALIFY row_number() OVER (PARTITION BY run_id, order_id ORDER BY seq) = 1),
        closes AS (SELECT * FROM ${rows} WHERE type IN (${closes}) QUALIFY row_number() OVER (PARTITION BY run_id, order_id ORDER BY seq) = 1)
      SELECT o.run_id, TRY_CAST(o.order_id AS BIGINT) AS trade_id, o.symbol, CASE o.type WHEN 'sell' THEN 'short' ELSE 'long' END AS side,
        o.time AS entry_ts, c.time AS exit_ts, abs(coalesce(c.size, o.size)) AS qty, o.price AS entry_price, c.price AS exit_price,
        NULL::DOUBLE AS fees, c.profit AS pnl, CASE WHEN c.price IS NOT NULL THEN ${move} END AS ret,
        CASE WHEN c.type IS NOT NULL AND c.type <> 'close' THEN c.type END AS tag
      FROM opens o LEFT JOIN closes c USING (run_id, order_id)`);
    const runs = ctx.table('runs');
    await ctx.con.run(`CREATE TEMP TABLE ${runs} AS
      SELECT run_id, run_id AS name, NULL::VARCHAR AS params, arg_min(balance - profit, seq) AS capital FROM ${rows} GROUP BY run_id`);
    return { trades, runs, sources: ["trades: MetaTrader 4's tester orders (pnl = the close's Profit, the change of Balance it made; qty in lots)", 'capital: the Balance of the first row'] };
  },
};
