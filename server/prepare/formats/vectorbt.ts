// vectorbt's records as users save them: `pf.trades.records_readable` (or entry_trades,
// exit_trades, positions) and `pf.orders.records_readable`, pandas frames written to CSV or Parquet.
//
// Trades: <Exit Trade Id | Entry Trade Id | Trade Id | Position Id>, Column, Size, Entry Timestamp,
// Avg Entry Price, Entry Fees, Exit Timestamp, Avg Exit Price, Exit Fees, PnL, Return, Direction,
// Status (older releases: Entry Date, Entry Price, Exit Date, Exit Price). `Column` is the price
// column, usually the symbol; a parameter sweep's tuple column "(10, 'BTC-USD')" is read as run
// "(10)" and symbol BTC-USD. PnL and Return are vectorbt's (after fees); an Open trade's exit
// fields are a mark at the last bar, not an exit, so it keeps its PnL but no exit time or price.
// Orders: Order Id, Column, Timestamp, Size, Price, Fees, Side (Buy / Sell): fills, matched into
// round trips (formats/round-trips.ts). When both are given, the trade records are the trades.
import { errorMessage } from '../../../shared/errors.js';
import { sqlIdent, sqlString } from '../../sql/text.js';
import type { ColumnInfo } from '../column-types.js';
import { PrepareError } from '../errors.js';
import { runOfFile, type CandidateFile, type Detection, type FormatAdapter, type FormatDescription, type StageContext, type StagedTables } from './adapter.js';
import { describeReading, matchNamed, named, type Columns, type Reading } from './named-columns.js';
import { stageRoundTrips } from './round-trips.js';

interface VectorbtPlan {
  trades: { file: CandidateFile; columns: Columns }[];
  orders: { file: CandidateFile; columns: Columns }[];
}

// Names as mapping.ts normalise() compares them (lowercase, spaces to underscores).
const TRADE_NAMES: Record<string, readonly string[]> = {
  trade_id: ['exit_trade_id', 'entry_trade_id', 'trade_id', 'position_id'],
  column: ['column'],
  size: ['size'],
  entry_ts: ['entry_timestamp', 'entry_date'],
  entry_price: ['avg_entry_price', 'entry_price'],
  entry_fees: ['entry_fees'],
  exit_ts: ['exit_timestamp', 'exit_date'],
  exit_price: ['avg_exit_price', 'exit_price'],
  exit_fees: ['exit_fees'],
  pnl: ['pnl'],
  ret: ['return'],
  direction: ['direction'],
  status: ['status'],
};
const TRADE_REQUIRED = ['column', 'size', 'entry_ts', 'entry_price', 'exit_ts', 'pnl', 'direction', 'status'];

const ORDER_NAMES: Record<string, readonly string[]> = {
  order_id: ['order_id'],
  column: ['column'],
  ts: ['timestamp', 'date'],
  size: ['size'],
  price: ['price'],
  fees: ['fees'],
  side: ['side'],
};
const ORDER_REQUIRED = ['order_id', 'column', 'ts', 'size', 'price', 'side'];

const TRADE_CANONICAL: Reading = {
  run_id: (c) => `${c.column!.name} (a sweep's tuple without its last element)`,
  trade_id: named('trade_id'),
  symbol: named('column'),
  side: named('direction'),
  entry_ts: named('entry_ts'),
  exit_ts: (c) => `${c.exit_ts!.name} (none when ${c.status!.name} is Open)`,
  qty: named('size'),
  entry_price: named('entry_price'),
  exit_price: named('exit_price'),
  fees: (c) => [c.entry_fees?.name, c.exit_fees?.name].filter(Boolean).join(' + ') || null,
  pnl: named('pnl'),
  ret: named('ret'),
  tag: (c) => `${c.status!.name} ('open' when Open)`,
};

const ORDER_CANONICAL: Reading = {
  symbol: named('column'),
  ts: named('ts'),
  amount: (c) => `${c.size!.name} signed by ${c.side!.name}`,
  price: named('price'),
  fees: named('fees'),
  seq: named('order_id'),
};

const col = (c: ColumnInfo | undefined) => (c ? sqlIdent(c.name) : 'NULL');
const num = (c: ColumnInfo | undefined) => (c ? `${sqlIdent(c.name)}::DOUBLE` : 'NULL::DOUBLE');

/** vectorbt's `Column`: a symbol, or a sweep's tuple "(p1, p2, 'SYM')" whose last element is the symbol. */
function symbolOf(c: ColumnInfo): string {
  const v = `${sqlIdent(c.name)}::VARCHAR`;
  return `CASE WHEN regexp_matches(${v}, '^\\(.*,.*\\)$') THEN trim(regexp_extract(${v}, ',\\s*([^,]*)\\)$', 1), ' ''"') ELSE ${v} END`;
}

/** A sweep's tuple without its symbol, else the file's run folder (inputs/run-folders.ts markRunFolders), else the one run. */
function runOf(c: ColumnInfo, file: CandidateFile): string {
  const v = `${sqlIdent(c.name)}::VARCHAR`;
  return `CASE WHEN regexp_matches(${v}, '^\\(.*,.*\\)$') THEN '(' || regexp_extract(${v}, '^\\((.*),[^,]*\\)$', 1) || ')' ELSE ${sqlString(runOfFile(file))} END`;
}

/** A Direction of Long/Short (records_readable) or 0/1 (raw records) as long/short. */
function sideOf(c: ColumnInfo): string {
  const v = `lower(trim(${sqlIdent(c.name)}::VARCHAR))`;
  return `CASE ${v} WHEN 'long' THEN 'long' WHEN '0' THEN 'long' WHEN 'short' THEN 'short' WHEN '1' THEN 'short' ELSE ${v} END`;
}

/** Status Open/Closed (records_readable) or 0/1 (raw records). */
function isOpen(c: ColumnInfo): string {
  const v = `lower(trim(${sqlIdent(c.name)}::VARCHAR))`;
  return `(${v} IN ('open', '0'))`;
}

async function stageTradeRecords(ctx: StageContext, plan: VectorbtPlan): Promise<string> {
  const target = ctx.table('trades');
  const parts: string[] = [];
  for (const { file, columns: c } of plan.trades) {
    const relation = await ctx.read(file);
    const open = isOpen(c.status!);
    parts.push(`SELECT ${runOf(c.column!, file)} AS run_id,
        ${c.trade_id ? `${col(c.trade_id)}::BIGINT` : 'NULL::BIGINT'} AS trade_id,
        ${symbolOf(c.column!)} AS symbol,
        ${sideOf(c.direction!)} AS side,
        ${col(c.entry_ts)} AS entry_ts,
        CASE WHEN ${open} THEN NULL ELSE ${col(c.exit_ts)} END AS exit_ts,
        abs(${num(c.size)}) AS qty,
        ${num(c.entry_price)} AS entry_price,
        CASE WHEN ${open} THEN NULL ELSE ${num(c.exit_price)} END AS exit_price,
        coalesce(${num(c.entry_fees)}, 0) + coalesce(${num(c.exit_fees)}, 0) AS fees,
        ${num(c.pnl)} AS pnl,
        ${num(c.ret)} AS ret,
        CASE WHEN ${open} THEN 'open' END AS tag
      FROM ${relation}`);
  }
  try {
    await ctx.con.run(`CREATE TEMP TABLE ${target} AS ${parts.join(' UNION ALL BY NAME ')}`);
  } catch (err) {
    throw new PrepareError(`vectorbt trade records ${plan.trades.map((t) => t.file.path).join(', ')} cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  return target;
}

/** Side Buy/Sell (records_readable) or 0/1 (raw records) as the sign of the size. */
function signOf(c: ColumnInfo): string {
  const v = `lower(trim(${sqlIdent(c.name)}::VARCHAR))`;
  return `CASE WHEN ${v} IN ('buy', '0') THEN 1 WHEN ${v} IN ('sell', '1') THEN -1 END`;
}

async function stageOrders(ctx: StageContext, plan: VectorbtPlan): Promise<string> {
  const fills = ctx.table('fills');
  const target = ctx.table('trades');
  const parts: string[] = [];
  for (const [i, { file, columns: c }] of plan.orders.entries()) {
    const relation = await ctx.read(file);
    parts.push(`SELECT ${runOf(c.column!, file)} AS run_id, ${symbolOf(c.column!)} AS symbol, ${col(c.ts)} AS ts,
        ${i}::BIGINT * 4294967296 + ${col(c.order_id)}::BIGINT AS seq,
        ${signOf(c.side!)} * abs(${num(c.size)}) AS amount, ${num(c.price)} AS price, ${num(c.fees)} AS fees
      FROM ${relation}`);
  }
  await stageRoundTrips(ctx.con, parts, { fills, target }, `vectorbt order records ${plan.orders.map((o) => o.file.path).join(', ')}`, (n) => `${n} order(s) have a Side other than Buy or Sell, or no Size`);
  return target;
}

export const vectorbtAdapter: FormatAdapter<VectorbtPlan> = {
  id: 'vectorbt',
  label: 'vectorbt records',

  detect(files) {
    const plan: VectorbtPlan = { trades: [], orders: [] };
    for (const file of files) {
      const trade = matchNamed(file, TRADE_NAMES, TRADE_REQUIRED);
      if (trade) {
        plan.trades.push({ file, columns: trade });
        continue;
      }
      const order = matchNamed(file, ORDER_NAMES, ORDER_REQUIRED);
      if (order) plan.orders.push({ file, columns: order });
    }
    const claimed = [...plan.trades, ...plan.orders].map((p) => p.file);
    if (claimed.length === 0) return null;
    // `Column` beside `Avg Entry Price` / `Side`: vectorbt's own names, no other tool writes them.
    return { files: claimed, confidence: 'certain', plan };
  },

  describe(detection: Detection<VectorbtPlan>): FormatDescription {
    const { trades, orders } = detection.plan;
    const files = [
      ...trades.map((t) => ({ path: t.file.path, role: 'trade records', columns: describeReading(t.columns, TRADE_CANONICAL) })),
      ...orders.map((o) => ({
        path: o.file.path,
        role: trades.length ? 'order records (not used: the trade records are the trades)' : 'order records (fills, matched into round trips FIFO)',
        columns: describeReading(o.columns, ORDER_CANONICAL),
      })),
    ];
    return {
      summary: `vectorbt records: ${files.map((f) => `${f.path} (${f.role})`).join(', ')}`,
      files,
      missing: [{ table: 'bars', why: 'vectorbt records hold no per-bar positions or prices: daily bars are made of the trades (P&L on the day each trade closed; no MAE or MFE from them)' }],
    };
  },

  async stage(detection, ctx): Promise<StagedTables> {
    const { plan } = detection;
    if (plan.trades.length) {
      return { trades: await stageTradeRecords(ctx, plan), sources: ['trades: vectorbt trade records (PnL and Return as vectorbt computed them, after fees)'] };
    }
    return { trades: await stageOrders(ctx, plan), sources: ['trades: round trips matched FIFO from vectorbt order records'] };
  },
};
