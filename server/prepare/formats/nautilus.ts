// NautilusTrader's reports (nautilus_trader/analysis/reporter.py, ReportProvider), pandas frames
// users save with to_csv or to_parquet:
//   positions (generate_positions_report): position_id, strategy_id, instrument_id, entry
//     (BUY / SELL), peak_qty, ts_opened, ts_closed, avg_px_open, avg_px_close, commissions
//     ("['1.05 USD']"), realized_return, realized_pnl ("-12.34 USD"): one trade per position.
//   fills (generate_fills_report, one row per fill): instrument_id, order_side, last_qty,
//     last_px, commission ("0.35 USD"), ts_event; or the order fills report
//     (generate_order_fills_report, one row per filled order): instrument_id, side, filled_qty,
//     avg_px, ts_last. Fills are matched into round trips (formats/round-trips.ts).
// When both are given, the positions are the trades (Nautilus' own P&L). Money columns are
// Nautilus' Money text ("12.34 USD"): the number is read, the currency dropped (one account
// currency is assumed). Quantities and prices may be text (Quantity, Price). strategy_id, when
// present, is the run. The symbol is the full instrument id ("AAPL.XNAS").
import { errorMessage } from '../../../shared/errors.js';
import { sqlIdent, sqlString } from '../../sql/text.js';
import { familyOf, type ColumnInfo } from '../column-types.js';
import { PrepareError } from '../errors.js';
import { DEFAULT_RUN_ID } from '../expressions.js';
import type { CandidateFile, Detection, FormatAdapter, FormatDescription, StageContext, StagedTables } from './adapter.js';
import { describeReading, matchNamed, named, type Columns, type Reading } from './named-columns.js';
import { SYMBOLS_MULTIPLIER, fillsWithSymbolMultiplier, stageRoundTrips } from './round-trips.js';


interface NautilusPlan {
  positions: { file: CandidateFile; columns: Columns }[];
  fills: { file: CandidateFile; columns: Columns; perOrder: boolean }[];
}

const POSITION_NAMES: Record<string, readonly string[]> = {
  strategy: ['strategy_id'],
  instrument: ['instrument_id'],
  entry: ['entry'],
  qty: ['peak_qty', 'quantity'],
  opened: ['ts_opened'],
  closed: ['ts_closed'],
  px_open: ['avg_px_open'],
  px_close: ['avg_px_close'],
  commissions: ['commissions'],
  ret: ['realized_return'],
  pnl: ['realized_pnl'],
};
const POSITION_REQUIRED = ['instrument', 'entry', 'qty', 'opened', 'px_open', 'pnl'];

const FILL_NAMES: Record<string, readonly string[]> = {
  strategy: ['strategy_id'],
  instrument: ['instrument_id'],
  side: ['order_side'],
  qty: ['last_qty'],
  px: ['last_px'],
  commission: ['commission'],
  ts: ['ts_event'],
  order: ['client_order_id'],
};
const FILL_REQUIRED = ['instrument', 'side', 'qty', 'px', 'ts'];

const ORDER_FILL_NAMES: Record<string, readonly string[]> = {
  strategy: ['strategy_id'],
  instrument: ['instrument_id'],
  side: ['side'],
  qty: ['filled_qty'],
  px: ['avg_px'],
  commission: ['commissions', 'commission'],
  ts: ['ts_last'],
  order: ['client_order_id'],
};
const ORDER_FILL_REQUIRED = ['instrument', 'side', 'qty', 'px', 'ts'];

/** The run, in words (withRunIds). */
const runReading = (c: Columns) =>
  c['strategy'] ? `${c['strategy'].name}; with one backtest per folder, the folder (folder/${c['strategy'].name} when a folder holds several)` : "the run folder, else the dataset's one run";

const POSITION_CANONICAL: Reading = {
  run_id: runReading,
  symbol: named('instrument'),
  side: (c) => `${c.entry!.name} (BUY long, SELL short)`,
  entry_ts: named('opened'),
  exit_ts: named('closed'),
  qty: named('qty'),
  entry_price: named('px_open'),
  exit_price: named('px_close'),
  fees: (c) => (c.commissions ? `${c.commissions.name} (sum of the amounts)` : null),
  pnl: (c) => `${c.pnl!.name} (the amount before the currency)`,
  ret: named('ret'),
};

const FILL_CANONICAL: Reading = {
  run_id: runReading,
  symbol: named('instrument'),
  ts: named('ts'),
  amount: (c) => `${c.qty!.name} signed by ${c.side!.name}`,
  price: named('px'),
  fees: named('commission'),
  seq: (c) => (c.order ? `${c.ts!.name}, ${c.order.name}` : null),
};

/** A number, or Nautilus' Money / Quantity / Price text ("12.34 USD", "100"), as DOUBLE. */
function amount(c: ColumnInfo): string {
  const col = sqlIdent(c.name);
  const fam = familyOf(c);
  if (fam === 'integer' || fam === 'float') return `${col}::DOUBLE`;
  // The amount before the currency; text that is no number fails the cast, naming the file.
  return `nullif(split_part(trim(${col}::VARCHAR), ' ', 1), '')::DOUBLE`;
}

/** The sum of a list of Money texts ("['1.05 USD', '0.10 USD']"), or of one Money text. */
function moneySum(c: ColumnInfo): string {
  const col = sqlIdent(c.name);
  const fam = familyOf(c);
  if (fam === 'integer' || fam === 'float') return `${col}::DOUBLE`;
  return `coalesce(list_sum(list_transform(regexp_extract_all(${col}::VARCHAR, '(-?[0-9.]+(e[-+]?[0-9]+)?) [A-Z]', 1), x -> x::DOUBLE)), 0)`;
}

/** ts_opened / ts_event: datetimes, or the raw nanoseconds since the epoch of Nautilus' objects. */
function time(c: ColumnInfo): string {
  const col = sqlIdent(c.name);
  const fam = familyOf(c);
  if (fam === 'integer') return `make_timestamp(${col}::BIGINT // 1000)`;
  return col;
}

/** A report row's run as written: its folder's (inputs/run-folders.ts markRunFolders) and its strategy id. */
const runColumns = (file: CandidateFile, c: ColumnInfo | undefined) =>
  `${file.runFolder === undefined ? 'NULL::VARCHAR' : sqlString(file.runFolder)} AS run_folder, ${c ? `${sqlIdent(c.name)}::VARCHAR` : 'NULL::VARCHAR'} AS strategy`;

/**
 * `rows` (with run_folder and strategy) with their run_id, as a temp table: the strategy id; with
 * one backtest per folder, the folder, or folder/strategy when a folder holds several strategies.
 * Nautilus names a strategy after its class and a tag (EMACross-000), the same in every run of a
 * sweep: by the id alone, a sweep's folders were one run.
 */
async function withRunIds(ctx: StageContext, rows: string[], name: string, what: string): Promise<string> {
  const raw = ctx.table(`${name}_raw`);
  const target = ctx.table(name);
  try {
    await ctx.con.run(`CREATE TEMP TABLE ${raw} AS ${rows.join(' UNION ALL BY NAME ')}`);
    await ctx.con.run(`CREATE TEMP TABLE ${target} AS
      WITH per_folder AS (SELECT max(n) AS most FROM (SELECT count(DISTINCT strategy) AS n FROM ${raw} WHERE run_folder IS NOT NULL GROUP BY run_folder))
      SELECT * EXCLUDE (run_folder, strategy), CASE
          WHEN run_folder IS NULL THEN coalesce(strategy, ${sqlString(DEFAULT_RUN_ID)})
          WHEN (SELECT most FROM per_folder) <= 1 THEN run_folder
          ELSE run_folder || '/' || coalesce(strategy, ${sqlString(DEFAULT_RUN_ID)}) END AS run_id
      FROM ${raw}`);
  } catch (err) {
    throw new PrepareError(`${what} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  return target;
}

async function stagePositions(ctx: StageContext, plan: NautilusPlan): Promise<string> {
  const parts: string[] = [];
  for (const { file, columns: c } of plan.positions) {
    const relation = await ctx.read(file);
    const entry = `upper(trim(${sqlIdent(c.entry!.name)}::VARCHAR))`;
    parts.push(`SELECT ${runColumns(file, c.strategy)}, ${sqlIdent(c.instrument!.name)}::VARCHAR AS symbol,
        CASE ${entry} WHEN 'BUY' THEN 'long' WHEN 'SELL' THEN 'short' ELSE lower(${entry}) END AS side,
        ${time(c.opened!)} AS entry_ts,
        ${c.closed ? time(c.closed) : 'NULL'} AS exit_ts,
        abs(${amount(c.qty!)}) AS qty,
        ${amount(c.px_open!)} AS entry_price,
        ${c.px_close ? amount(c.px_close) : 'NULL::DOUBLE'} AS exit_price,
        ${c.commissions ? `abs(${moneySum(c.commissions)})` : 'NULL::DOUBLE'} AS fees,
        ${amount(c.pnl!)} AS pnl,
        ${c.ret ? amount(c.ret) : 'NULL::DOUBLE'} AS ret
      FROM ${relation}`);
  }
  return withRunIds(ctx, parts, 'trades', `NautilusTrader positions report ${plan.positions.map((p) => p.file.path).join(', ')}`);
}

async function stageFills(ctx: StageContext, plan: NautilusPlan): Promise<string> {
  const fills = ctx.table('fills');
  const target = ctx.table('trades');
  const parts: string[] = [];
  for (const [i, { file, columns: c }] of plan.fills.entries()) {
    const relation = await ctx.read(file);
    const side = `upper(trim(${sqlIdent(c.side!.name)}::VARCHAR))`;
    parts.push(`SELECT ${runColumns(file, c.strategy)}, ${sqlIdent(c.instrument!.name)}::VARCHAR AS symbol, ${time(c.ts!)} AS ts,
        ${i}::BIGINT * 4294967296 + row_number() OVER (ORDER BY ${time(c.ts!)}${c.order ? `, ${sqlIdent(c.order.name)}` : ''}) AS seq,
        CASE ${side} WHEN 'BUY' THEN 1 WHEN 'SELL' THEN -1 END * abs(${amount(c.qty!)}) AS amount,
        ${amount(c.px!)} AS price,
        ${c.commission ? `abs(${moneySum(c.commission)})` : '0.0'} AS fees
      FROM ${relation}`);
  }
  const what = `NautilusTrader fills ${plan.fills.map((f) => f.file.path).join(', ')}`;
  const staged = await withRunIds(ctx, parts, 'fills_by_run', what);
  // A future's round trip is its price move x quantity x multiplier (the symbols file's, multipliers.ts).
  const priced = fillsWithSymbolMultiplier(staged, ctx.multiplier);
  await stageRoundTrips(
    ctx.con,
    [`SELECT * FROM ${priced ?? staged}`],
    { fills, target },
    what,
    (n) => `${n} fill(s) have a side other than BUY or SELL, or no quantity`,
    priced ? { multiplier: { column: SYMBOLS_MULTIPLIER } } : {},
  );
  return target;
}

export const nautilusAdapter: FormatAdapter<NautilusPlan> = {
  id: 'nautilus',
  label: 'NautilusTrader reports',

  detect(files) {
    const plan: NautilusPlan = { positions: [], fills: [] };
    for (const file of files) {
      const position = matchNamed(file, POSITION_NAMES, POSITION_REQUIRED);
      if (position) {
        plan.positions.push({ file, columns: position });
        continue;
      }
      const fill = matchNamed(file, FILL_NAMES, FILL_REQUIRED);
      if (fill) {
        plan.fills.push({ file, columns: fill, perOrder: false });
        continue;
      }
      const orderFill = matchNamed(file, ORDER_FILL_NAMES, ORDER_FILL_REQUIRED);
      if (orderFill) plan.fills.push({ file, columns: orderFill, perOrder: true });
    }
    const claimed = [...plan.positions, ...plan.fills].map((p) => p.file);
    if (claimed.length === 0) return null;
    // instrument_id with ts_opened / avg_px_open or last_qty / last_px: Nautilus' own names.
    return { files: claimed, confidence: 'certain', plan };
  },

  describe(detection: Detection<NautilusPlan>): FormatDescription {
    const { positions, fills } = detection.plan;
    const files = [
      ...positions.map((p) => ({ path: p.file.path, role: 'positions report (one trade per position)', columns: describeReading(p.columns, POSITION_CANONICAL) })),
      ...fills.map((f) => ({
        path: f.file.path,
        role: positions.length
          ? `${f.perOrder ? 'order fills' : 'fills'} report (not used: the positions are the trades)`
          : `${f.perOrder ? 'order fills' : 'fills'} report (matched into round trips FIFO)`,
        columns: describeReading(f.columns, FILL_CANONICAL),
      })),
    ];
    return {
      summary: `NautilusTrader reports: ${files.map((f) => `${f.path} (${f.role})`).join(', ')}`,
      files,
      missing: [{ table: 'bars', why: 'Nautilus position and fill reports hold no per-bar positions or prices: daily bars are made of the trades (P&L on the day each trade closed; no MAE or MFE from them)' }],
    };
  },

  async stage(detection, ctx): Promise<StagedTables> {
    const { plan } = detection;
    if (plan.positions.length) {
      return { trades: await stagePositions(ctx, plan), sources: ['trades: one per position of the positions report (realized_pnl, after commissions)'] };
    }
    return { trades: await stageFills(ctx, plan), sources: ['trades: round trips matched FIFO from the fills report'] };
  },
};
