// zipline's performance frame as `run_algorithm` returns it and its users save it,
// `perf.to_csv('perf.csv')`: one row per session, indexed by its close, with portfolio_value,
// starting_cash, ending_cash, pnl, returns, ... and three columns of Python lists as text:
//   transactions  [{'amount': 10, 'dt': Timestamp('2016-01-04 21:00:00+0000', tz='UTC'),
//                   'price': 105.35, 'order_id': 'a1b2', 'sid': Equity(24 [AAPL]), 'commission': None}]
//   positions     [{'sid': Equity(24 [AAPL]), 'amount': 10, 'cost_basis': 105.35, 'last_sale_price': 105.35}]
//   orders        [{'id': 'a1b2', 'dt': Timestamp(...), 'amount': 10, 'filled': 10, 'commission': 1.0, 'sid': ..., ...}]
// (pyfolio's extract_rets_pos_txn_from_zipline makes frames of them: pyfolio.ts reads those.) The
// lists are read in SQL (regular expressions over each dict), never evaluated. Fills are the
// transactions; zipline books a commission on the order, not on its transactions, so an order's
// last commission is charged to its first fill. Positions are valued at their last sale price,
// the value zipline's portfolio_value sums. Bars are daily, by fill-bars.ts ('marked' P&L): a
// day's P&L over every symbol is then the change of portfolio_value, zipline's own pnl, less what
// zipline books outside positions and fills (dividends, interest on cash). Trades are the FIFO
// round trips of the fills (round-trips.ts). The capital base is the first session's starting_cash.
import { errorMessage } from '../../../shared/errors.js';
import { sqlIdent, sqlString } from '../../sql/text.js';
import type { ColumnInfo } from '../column-types.js';
import { PrepareError } from '../errors.js';
import { findColumn, runOfFile, type CandidateFile, type Detection, type FormatAdapter, type FormatDescription, type StageContext, type StagedTables } from './adapter.js';
import { dailyBarsFromFillsSql } from './fill-bars.js';
import { dayExpr, timeIndexColumn } from './pandas.js';
import { toolRoundTripsSql } from './round-trips.js';

/** One performance frame: one run (in a folder of its own when there are several: inputs/run-folders.ts markRunFolders). */
interface ZiplineFrame {
  file: CandidateFile;
  run: string;
  /** The session's close: period_close, else the frame's index. */
  day: ColumnInfo;
  transactions: ColumnInfo;
  positions: ColumnInfo;
  orders?: ColumnInfo;
  startingCash: ColumnInfo;
}

interface ZiplinePlan {
  frames: ZiplineFrame[];
}

/** One Python dict of a list column, as text: the dicts hold no braces of their own. */
const DICTS = (column: ColumnInfo) => `unnest(regexp_extract_all(${sqlIdent(column.name)}::VARCHAR, '\\{[^{}]*\\}'))`;
const NUMBER = '(-?[0-9]+(?:\\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)';

/** A number field of a dict (NULL for None); numpy 2 writes a numpy number as `np.float64(105.35)`. */
const numberField = (dict: string, key: string) => `TRY_CAST(regexp_extract(${dict}, '''${key}'':\\s*(?:np\\.\\w+\\()?${NUMBER}', 1) AS DOUBLE)`;
/** A quoted text field of a dict. */
const textField = (dict: string, key: string) => `nullif(regexp_extract(${dict}, '''${key}'':\\s*''([^'']*)''', 1), '')`;
/** A Timestamp('...') field of a dict, as TIMESTAMPTZ. */
const timeField = (dict: string, key: string) => `TRY_CAST(regexp_extract(${dict}, '''${key}'':\\s*Timestamp\\(''([^'']+)''', 1) AS TIMESTAMPTZ)`;
/** The asset of a dict: Equity(24 [AAPL]) is AAPL (any asset type; its sid when it has no symbol). */
const assetField = (dict: string) =>
  `coalesce(nullif(regexp_extract(${dict}, '''sid'':\\s*\\w+\\(\\d+ \\[([^\\]]+)\\]\\)', 1), ''), nullif(regexp_extract(${dict}, '''sid'':\\s*\\w*\\(?(\\d+)', 1), ''))`;

function detect(files: readonly CandidateFile[]): Detection<ZiplinePlan> | null {
  const frames: ZiplineFrame[] = [];
  for (const file of files) {
    const transactions = findColumn(file, ['transactions']);
    const positions = findColumn(file, ['positions']);
    const startingCash = findColumn(file, ['starting_cash']);
    const portfolioValue = findColumn(file, ['portfolio_value']);
    const day = findColumn(file, ['period_close']) ?? timeIndexColumn(file);
    if (!transactions || !positions || !startingCash || !portfolioValue || !day) continue;
    const orders = findColumn(file, ['orders']);
    frames.push({ file, run: runOfFile(file), day, transactions, positions, startingCash, ...(orders ? { orders } : {}) });
  }
  if (frames.length === 0) return null;
  // starting_cash and portfolio_value beside transactions and positions lists: zipline's own frame.
  return { files: frames.map((f) => f.file), confidence: 'certain', plan: { frames } };
}

function describe(d: Detection<ZiplinePlan>): FormatDescription {
  const { frames } = d.plan;
  return {
    summary: `zipline performance frame${frames.length > 1 ? 's' : ''}: ${frames.map((p) => p.file.path).join(', ')}`,
    files: frames.map((p) => ({
      path: p.file.path,
      role: `zipline performance frame (one row per session)${frames.length > 1 ? `, run ${p.run}` : ''}`,
      columns: {
        day: p.day.name,
        fills: `${p.transactions.name} (amount, price, dt, sid of each transaction)`,
        fees: p.orders ? `${p.orders.name} (each order's last commission, on its first fill)` : 'none (no orders column)',
        position_value: `${p.positions.name} (amount x last_sale_price)`,
        capital: `${p.startingCash.name} of the first session`,
      },
    })),
    missing: [],
  };
}

/** A frame's fills (run_id, symbol, ts, day, seq, amount, price, fees) as SQL. */
function fillsSql(p: ZiplineFrame, frame: string, index: number): string {
  const day = dayExpr(p.day);
  const orderFees = p.orders
    ? `SELECT id, arg_max(commission, coalesce(dt, TIMESTAMPTZ '1970-01-01')) AS commission FROM (
         SELECT ${textField('o', 'id')} AS id, ${timeField('o', 'dt')} AS dt, ${numberField('o', 'commission')} AS commission
         FROM (SELECT ${DICTS(p.orders)} AS o FROM ${frame})) WHERE id IS NOT NULL GROUP BY id`
    : 'SELECT NULL::VARCHAR AS id, NULL::DOUBLE AS commission WHERE false';
  // seq orders a run's fills: the frame's index above any row number, so two frames never tie.
  return `WITH txns AS (
      SELECT day, ${index}::BIGINT * 4294967296 + row_number() OVER (ORDER BY day, n) AS seq, ${numberField('t', 'amount')} AS amount, ${numberField('t', 'price')} AS price,
        ${timeField('t', 'dt')} AS dt, ${textField('t', 'order_id')} AS order_id, ${assetField('t')} AS symbol, ${numberField('t', 'commission')} AS commission
      FROM (SELECT ${day} AS day, row_number() OVER () AS n, ${DICTS(p.transactions)} AS t FROM ${frame})
    ),
    fees AS (${orderFees})
    SELECT ${sqlString(p.run)} AS run_id, symbol, coalesce(dt, day::TIMESTAMP) AS ts, day, seq, amount, price,
      coalesce(t.commission, CASE WHEN row_number() OVER (PARTITION BY t.order_id ORDER BY seq) = 1 THEN f.commission END, 0) AS fees
    FROM txns t LEFT JOIN fees f ON f.id = t.order_id`;
}

/** A frame's positions' values per symbol and session (run_id, symbol, day, value) as SQL. */
function valuesSql(p: ZiplineFrame, frame: string): string {
  return `SELECT ${sqlString(p.run)} AS run_id, symbol, day, sum(amount * price) AS value FROM (
      SELECT ${dayExpr(p.day)} AS day, ${assetField('v')} AS symbol, ${numberField('v', 'amount')} AS amount, ${numberField('v', 'last_sale_price')} AS price
      FROM (SELECT *, ${DICTS(p.positions)} AS v FROM ${frame})) GROUP BY ALL`;
}

async function stage(d: Detection<ZiplinePlan>, ctx: StageContext): Promise<StagedTables> {
  const { frames } = d.plan;
  const { con } = ctx;
  const runs = new Map<string, ZiplineFrame>();
  for (const p of frames) {
    const other = runs.get(p.run);
    if (other) throw new PrepareError(`zipline performance frames ${other.file.path} and ${p.file.path} are both run '${p.run}': put each run's frame in a folder of its own`);
    runs.set(p.run, p);
  }
  const fills = ctx.table('fills');
  const values: string[] = [];
  const capitals: string[] = [];
  const sources: string[] = [];
  for (const [i, p] of frames.entries()) {
    const frame = await ctx.read(p.file);
    try {
      await con.run(`${i === 0 ? `CREATE TEMP TABLE ${fills} AS` : `INSERT INTO ${fills}`} ${fillsSql(p, frame, i)}`);
    } catch (err) {
      throw new PrepareError(`zipline performance frame ${p.file.path}: its '${p.transactions.name}' cannot be read: ${errorMessage(err)}`, { cause: err });
    }
    const [bad] = (await con.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${fills} WHERE run_id = ${sqlString(p.run)} AND (symbol IS NULL OR amount IS NULL OR price IS NULL)`)).getRowsJson();
    if (Number(bad?.[0] ?? 0) > 0) {
      throw new PrepareError(`zipline performance frame ${p.file.path}: ${Number(bad![0])} transaction(s) in '${p.transactions.name}' have no sid, amount or price that can be read`);
    }
    values.push(valuesSql(p, frame));
    const [first] = (await con.runAndReadAll(`SELECT ${sqlIdent(p.startingCash.name)}::DOUBLE FROM ${frame} ORDER BY ${dayExpr(p.day)} LIMIT 1`)).getRowsJson();
    const capital = Number(first?.[0]);
    if (Number.isFinite(capital) && capital > 0) {
      capitals.push(`SELECT ${sqlString(p.run)} AS run_id, NULL::VARCHAR AS name, NULL::VARCHAR AS params, ${capital}::DOUBLE AS capital`);
      sources.push(`capital${frames.length > 1 ? ` of run ${p.run}` : ''}: ${capital}, the first session's ${p.startingCash.name}`);
    }
  }
  const bars = ctx.table('bars');
  await con.run(`CREATE TEMP TABLE ${bars} AS ${dailyBarsFromFillsSql({ fills, values: values.join(' UNION ALL '), pnl: 'marked' })}`);
  const trades = ctx.table('trades');
  const roundTrips = toolRoundTripsSql(fills, ctx.multiplier);
  await con.run(`CREATE TEMP TABLE ${trades} AS ${roundTrips.sql}`);
  sources.unshift(
    'bars: daily, positions valued at their last sale price (positions), quantities and fees from the fills (transactions)',
    `trades: FIFO round trips of the transactions in ${frames.map((p) => p.file.path).join(', ')}${roundTrips.pricing ? ` (${roundTrips.pricing})` : ''}`,
  );
  if (capitals.length === 0) return { bars, trades, sources };
  const runsTable = ctx.table('runs');
  await con.run(`CREATE TEMP TABLE ${runsTable} AS ${capitals.join(' UNION ALL ')}`);
  return { bars, trades, runs: runsTable, sources };
}

export const ziplineAdapter: FormatAdapter<ZiplinePlan> = { id: 'zipline', label: 'zipline performance frame', detect, describe, stage };
