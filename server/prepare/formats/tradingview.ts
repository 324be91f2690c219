// TradingView's strategy tester, "List of Trades" exported as CSV: two rows per trade, its entry and
// its exit, sharing a trade number; in either order (exports list the exit first).
//   Trade #, Type, Signal, Date/Time, Price USD, Contracts, Profit USD, Profit %, Cum. Profit USD,
//   Cum. Profit %, Run-up USD, Run-up %, Drawdown USD, Drawdown %
// and the later names of the same columns: Trade number, Date and time, Size (qty) or Position
// size (qty), Net P&L USD. Later TradingView exports the report as an Excel workbook, this list its
// "List of trades" sheet (workbooks.ts writes it out as CSV, dates as ISO text).
// The currency suffix is the chart's (USD, USDT, EUR, ...; none in older exports). Type is
// "Entry long", "Exit short", ...: the side. A trade still open has an exit row whose time reads
// "Open" (and no price): it keeps the P&L TradingView marked it at, without an exit, as vectorbt's
// open trades do. Profit is the trade's, net of commission, repeated on both rows (or on the exit
// row only); Run-up and Drawdown are its best and worst excursion in money, read as MFE and MAE
// over the entry value (price x contracts), the fraction of the entry price the store keeps.
// The file holds no symbol: TradingView names an export <strategy>_<EXCHANGE>_<SYMBOL>_<date>.csv
// (or .xlsx), and the symbol is read from that name, else the file's own name is the symbol. One file is one
// symbol's backtest: several files are a portfolio, or, in sibling folders (inputs/
// markRunFolders), one run per folder. The trade numbers restart in each file, so a run of several
// files has its trades numbered in entry order over all of them, as TradingView numbers one file's.
import path from 'node:path';
import { errorMessage } from '../../../shared/errors.js';
import { sqlIdent, sqlString } from '../../sql/text.js';
import { familyOf } from '../column-types.js';
import { PrepareError } from '../errors.js';
import { exportedNumberSql } from '../expressions.js';
import { stampPath } from '../inputs/index.js';
import { runOfFile, type CandidateFile, type Detection, type FormatAdapter, type FormatDescription, type StageContext, type StagedTables } from './adapter.js';
import { matchPatterns, type Columns } from './named-columns.js';

/** Which column plays each part, by its normalised name (mapping.ts normalise: "Price USD" is price_usd). */
const PARTS: Record<string, RegExp> = {
  trade: /^trade_(#|number|no)$/,
  type: /^type$/,
  signal: /^signal$/,
  time: /^(date\/time|date_and_time)$/,
  price: /^price(_[^_%]+)?$/,
  qty: /^(contracts|(position_)?size_\(qty\)|quantity|qty)$/,
  pnl: /^(profit|net_p&l|net_pnl)(_[^_%]+)?$/,
  runup: /^run_up(_[^_%]+)?$/,
  drawdown: /^drawdown(_[^_%]+)?$/,
};
const REQUIRED = ['trade', 'type', 'signal', 'time', 'price', 'qty', 'pnl'];

interface TradingViewFile {
  file: CandidateFile;
  parts: Columns;
  /** The symbol: from TradingView's file name, else the file's name. */
  symbol: string;
  /** Whether the symbol came from TradingView's naming of the file. */
  named: boolean;
  /** The Properties sheet of the same workbook export (name/value rows): its Initial capital. */
  properties?: CandidateFile;
}

interface TradingViewPlan {
  files: TradingViewFile[];
}

/** The sheet of a workbook export that lists the backtest's properties, beside its list of trades. */
function propertiesOf(file: CandidateFile, files: readonly CandidateFile[]): CandidateFile | undefined {
  if (!file.archive) return undefined;
  return files.find((f) => f.archive?.archive === file.archive!.archive && f.archive.member.toLowerCase() === 'properties.csv' && ['name', 'value'].every((c) => f.columns.some((x) => x.name.toLowerCase() === c)));
}

/**
 * A Properties sheet's Initial capital: the whole value a number, with thousands commas and a
 * currency code after it or not ("1000000", "250,000 USD", "1000000 USDT"); null otherwise, so
 * that "1.000.000 EUR" leaves the capital unstated rather than read as 1.
 */
const CAPITAL_TEXT = /^(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?:\s*[A-Za-z]{3,5})?$/;

/** The Initial capital row of a Properties sheet (CAPITAL_TEXT), or null. */
async function initialCapital(ctx: StageContext, properties: CandidateFile | undefined): Promise<number | null> {
  if (!properties) return null;
  const [row] = (await ctx.con.runAndReadAll(`SELECT trim("value"::VARCHAR) FROM ${await ctx.read(properties)} WHERE lower(trim("name"::VARCHAR)) = 'initial capital' LIMIT 1`)).getRows();
  const number = CAPITAL_TEXT.exec(String(row?.[0] ?? ''))?.[1];
  const capital = number === undefined ? NaN : Number(number.replace(/,/g, ''));
  return Number.isFinite(capital) && capital > 0 ? capital : null;
}


/** <strategy>_<EXCHANGE>_<SYMBOL>_<yyyy-mm-dd>[_<id>].csv: exchange and symbol in capitals (BINANCE_BTCUSDT, NASDAQ_AAPL). */
const EXPORT_NAME = /_([A-Z][A-Z0-9]*)_([A-Z0-9][A-Z0-9.!:-]*)_\d{4}-\d{2}-\d{2}(?:_[^_]*)?$/;

function symbolOf(file: CandidateFile): { symbol: string; named: boolean } {
  // A sheet of TradingView's workbook export is named by the workbook (workbooks.ts).
  const base = path.basename(file.archive?.archive ?? file.path).replace(/\.[^.]+$/, '');
  const m = EXPORT_NAME.exec(base);
  return m ? { symbol: m[2]!, named: true } : { symbol: base, named: false };
}

/** Each row of a file with what a trade is read from: the kind of row, its time, its numbers. */
function rowsSql(p: Columns, relation: string): string {
  const type = `lower(trim(${sqlIdent(p.type!.name)}::VARCHAR))`;
  const timeText = `trim(${sqlIdent(p.time!.name)}::VARCHAR)`;
  // The time as written: a TIMESTAMP when DuckDB read every row as one, text when an "Open" row kept it text.
  const time = familyOf(p.time!) === 'string' ? `CASE WHEN lower(${timeText}) <> 'open' THEN ${timeText} END` : sqlIdent(p.time!.name);
  const kinds = `SELECT *, starts_with(${type}, 'entry') AS is_entry, starts_with(${type}, 'exit') AS is_exit,
      starts_with(${type}, 'exit') AND lower(${timeText}) = 'open' AS is_open
    FROM ${relation}`;
  // Prices are read from entry rows and from the exit rows of closed trades (an open one has none).
  return `SELECT ${sqlIdent(p.trade!.name)}::BIGINT AS trade_id, is_entry, is_exit, is_open, ${type} AS type, ${time} AS t,
      ${exportedNumberSql(p.price, '(is_entry OR (is_exit AND NOT is_open))')} AS price, ${exportedNumberSql(p.qty, 'is_entry')} AS qty,
      ${exportedNumberSql(p.pnl, 'is_exit')} AS pnl, ${exportedNumberSql(p.runup, 'is_exit')} AS runup, ${exportedNumberSql(p.drawdown, 'is_exit')} AS drawdown
    FROM (${kinds})`;
}

async function stageFile(ctx: StageContext, f: TradingViewFile, index: number, keepNumbers: boolean): Promise<string> {
  const p = f.parts;
  // A future's value is its price x contracts x its multiplier (the symbols file's, multipliers.ts).
  const entryValue = `(any_value(price) FILTER (WHERE is_entry) * any_value(qty) FILTER (WHERE is_entry) * ${ctx.multiplier(sqlString(f.symbol)) ?? '1'})`;
  const sql = `SELECT ${sqlString(runOfFile(f.file))} AS run_id, ${sqlString(f.symbol)} AS symbol,
      ${keepNumbers ? 'trade_id' : 'NULL::BIGINT AS trade_id'}, trade_id AS number,
      CASE WHEN bool_or(type LIKE '%short%') THEN 'short' ELSE 'long' END AS side,
      any_value(t) FILTER (WHERE is_entry) AS entry_ts,
      any_value(t) FILTER (WHERE is_exit AND NOT is_open) AS exit_ts,
      abs(any_value(qty) FILTER (WHERE is_entry)) AS qty,
      any_value(price) FILTER (WHERE is_entry) AS entry_price,
      any_value(price) FILTER (WHERE is_exit AND NOT is_open) AS exit_price,
      any_value(pnl) FILTER (WHERE is_exit) AS pnl,
      -abs(any_value(drawdown) FILTER (WHERE is_exit)) / nullif(abs(${entryValue}), 0) AS mae,
      abs(any_value(runup) FILTER (WHERE is_exit)) / nullif(abs(${entryValue}), 0) AS mfe,
      CASE WHEN bool_or(is_open) THEN 'open' END AS tag,
      count(*) FILTER (WHERE is_entry) AS entries, count(*) FILTER (WHERE is_exit) AS exits
    FROM (${rowsSql(p, await ctx.read(f.file))})
    GROUP BY trade_id`;
  const target = ctx.table(`trades_${index}`);
  try {
    await ctx.con.run(`CREATE TEMP TABLE ${target} AS ${sql}`);
  } catch (err) {
    throw new PrepareError(`TradingView list of trades ${f.file.path} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  const [bad] = (await ctx.con.runAndReadAll(`SELECT count(*)::DOUBLE, min(number) FROM ${target} WHERE entries <> 1 OR exits > 1`)).getRowsJson();
  if (Number(bad?.[0] ?? 0) > 0) {
    throw new PrepareError(
      `TradingView list of trades ${f.file.path}: ${Number(bad![0])} trade number(s) do not have exactly one entry row and at most one exit row (the first: ${String(bad![1])}); column '${p.type!.name}' must say Entry or Exit`,
    );
  }
  return target;
}

/**
 * A runs table of each run's capital, when every export of the run is a workbook whose Properties
 * sheet states its Initial capital: the sum (a run of several exports is several backtests, each
 * funded with its own). Null when no run has one.
 */
async function stageCapital(ctx: StageContext, files: readonly TradingViewFile[]): Promise<string | null> {
  const byRun = new Map<string, (number | null)[]>();
  for (const f of files) {
    const run = runOfFile(f.file);
    byRun.set(run, [...(byRun.get(run) ?? []), await initialCapital(ctx, f.properties)]);
  }
  const capitals = [...byRun].map(([run, caps]) => [run, caps.every((c) => c !== null) ? caps.reduce((n: number, c) => n + c!, 0) : null] as const);
  if (capitals.every(([, c]) => c === null)) return null;
  const runs = ctx.table('runs');
  await ctx.con.run(`CREATE TEMP TABLE ${runs} AS SELECT * FROM (VALUES ${capitals.map(([run, c]) => `(${sqlString(run)}, ${sqlString(run)}, NULL::VARCHAR, ${c ?? 'NULL'}::DOUBLE)`).join(', ')}) AS t(run_id, name, params, capital)`);
  return runs;
}

export const tradingviewAdapter: FormatAdapter<TradingViewPlan> = {
  id: 'tradingview',
  label: 'TradingView list of trades',

  detect(files) {
    const found: TradingViewFile[] = [];
    for (const file of files) {
      const parts = matchPatterns(file, PARTS, REQUIRED);
      if (!parts) continue;
      const properties = propertiesOf(file, files);
      found.push({ file, parts, ...symbolOf(file), ...(properties ? { properties } : {}) });
    }
    if (found.length === 0) return null;
    // Trade # with Type, Signal and Date/Time beside each other: the strategy tester's own header.
    const claimed = found.flatMap((f) => (f.properties ? [f.file, f.properties] : [f.file]));
    return { files: claimed, confidence: 'certain', plan: { files: found } };
  },

  describe(detection: Detection<TradingViewPlan>): FormatDescription {
    const files = detection.plan.files.map((f) => ({
      path: f.file.path,
      role: `list of trades of ${f.symbol} (${f.named ? "from TradingView's name for the export" : 'the file name: no symbol in the file'})`,
      columns: Object.fromEntries(
        Object.entries({
          trade_id: f.parts.trade ? (detection.plan.files.length === 1 ? f.parts.trade.name : `entry order over the ${detection.plan.files.length} files (${f.parts.trade.name} restarts in each)`) : undefined,
          side: f.parts.type ? `${f.parts.type.name} (Entry/Exit long/short)` : undefined,
          entry_ts: f.parts.time ? `${f.parts.time.name} of the entry row` : undefined,
          exit_ts: f.parts.time ? `${f.parts.time.name} of the exit row (none when it reads Open)` : undefined,
          entry_price: f.parts.price ? `${f.parts.price.name} of the entry row` : undefined,
          exit_price: f.parts.price ? `${f.parts.price.name} of the exit row` : undefined,
          qty: f.parts.qty?.name,
          pnl: f.parts.pnl ? `${f.parts.pnl.name} of the exit row` : undefined,
          mae: f.parts.drawdown ? `${f.parts.drawdown.name} / (entry price x qty)` : undefined,
          mfe: f.parts.runup ? `${f.parts.runup.name} / (entry price x qty)` : undefined,
          capital: f.properties ? `Initial capital of ${stampPath(f.properties)} (summed over a run's exports)` : undefined,
        }).filter((e): e is [string, string] => e[1] !== undefined),
      ),
    }));
    return {
      summary: `TradingView list of trades: ${files.map((f) => `${f.path} (${detection.plan.files.find((x) => x.file.path === f.path)!.symbol})`).join(', ')}`,
      files,
      missing: [{ table: 'bars', why: 'a list of trades holds no per-bar positions or prices: daily bars are made of the trades (P&L on the day each trade closed)' }],
    };
  },

  async stage(detection, ctx): Promise<StagedTables> {
    const parts: string[] = [];
    // A run's trade numbers are TradingView's when it has one file (runs by folder: inputs/run-folders.ts markRunFolders).
    const filesPerRun = new Map<string, number>();
    for (const f of detection.plan.files) filesPerRun.set(runOfFile(f.file), (filesPerRun.get(runOfFile(f.file)) ?? 0) + 1);
    const keepNumbers = [...filesPerRun.values()].every((n) => n === 1);
    for (const [i, f] of detection.plan.files.entries()) parts.push(`SELECT * EXCLUDE (number, entries, exits) FROM ${await stageFile(ctx, f, i, keepNumbers)}`);
    const target = ctx.table('trades');
    await ctx.con.run(`CREATE TEMP TABLE ${target} AS ${parts.join(' UNION ALL BY NAME ')}`);
    const sources = ["trades: TradingView's list of trades (Profit as TradingView computed it, net of commission; MAE and MFE from Drawdown and Run-up over the entry value)"];
    const runs = await stageCapital(ctx, detection.plan.files);
    if (!runs) return { trades: target, sources };
    return { trades: target, runs, sources: [...sources, "capital: the Initial capital of each export's Properties sheet, summed over a run's exports"] };
  },
};
