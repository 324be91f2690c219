// A list of executions as in-house backtesters, brokers' statements and execution logs write it:
// one row per fill, in a file named for what it holds (fills, executions, transactions, deals),
// with a time, a symbol, a quantity, a price, and a side or a signed quantity:
//   time      ts, timestamp, time, datetime, date_time, date, dt, exec_time, execution_time,
//             fill_time, filled_at, executed_at, trade_time
//   symbol    symbol, ticker, instrument, instrument_id, asset, security, sym, pair, contract
//   side      side, action, buy_sell (Buy/Sell), direction, order_side: BUY, B, BOT, LONG, COVER,
//             BUY TO COVER are buys; SELL, S, SLD, SHORT, SELL SHORT, SS are sells. Without a side
//             the quantity's sign is the direction (buy > 0).
//   quantity  quantity, qty, shares, amount, size, filled_qty, last_qty, lots
//   price     price, fill_price, exec_price, execution_price, trade_price, avg_price, last_px, px
//   fees      commission, commissions, fee, fees, ib_commission (optional; a negative fee, as a
//             statement writes a cost, is a cost)
//   run       run_id, run, strategy, strategy_id, backtest (optional; else the run folder or the
//             dataset's one run)
//   multiplier  multiplier, contract_multiplier, contract_size, point_value, big_point_value
//             (optional; a contract's value per point of price, as a futures statement writes it:
//             50 for ES; the P&L of a round trip is its price move x quantity x multiplier;
//             without it, the symbols file's multiplier, multipliers.ts)
// Times as typed (an integer is an epoch in s, ms, us or ns, UTC), or as text in ISO 8601 or a form text-dates.ts reads (01/02/2024 09:35 AM, with
// the same rule for which of day and month comes first, and the description's `dateOrder`).
// The fills are matched into round trips FIFO (round-trips.ts), which are the trades; the bars are
// made of the trades as for any trades without bars. A zipline/pyfolio transactions frame (signed
// `amount`, pyfolio.ts) and Nautilus' fills report (nautilus.ts) are recognised by their own
// adapters first; this one is `likely`, for what no tool-specific adapter claims.
import { sqlIdent, sqlString } from '../../sql/text.js';
import { familyOf, type ColumnInfo } from '../column-types.js';
import { PrepareError } from '../errors.js';
import { epochSql, numberExpr } from '../expressions.js';
import { textDateReadingsOf, textDateSql, type TextDateReading } from '../text-dates.js';
import { runOfFile, stemIs, type CandidateFile, type Detection, type FormatAdapter, type FormatDescription, type StageContext, type StagedTables } from './adapter.js';
import { describeReading, matchNamed, named, type Columns, type Reading } from './named-columns.js';
import { stageRoundTrips } from './round-trips.js';

/** File names (stems) of an execution list; a `trades` file is a trades table, never this. */
const FILL_STEMS = ['fills', 'fill', 'executions', 'execution', 'transactions', 'transaction', 'txns', 'deals'];

const NAMES: Record<string, readonly string[]> = {
  ts: ['ts', 'timestamp', 'time', 'datetime', 'date_time', 'date', 'dt', 'exec_time', 'execution_time', 'fill_time', 'filled_at', 'executed_at', 'trade_time'],
  symbol: ['symbol', 'ticker', 'instrument', 'instrument_id', 'asset', 'security', 'sym', 'pair', 'contract'],
  side: ['side', 'action', 'buy/sell', 'buy_sell', 'direction', 'order_side'],
  qty: ['quantity', 'qty', 'shares', 'amount', 'size', 'filled_qty', 'last_qty', 'lots'],
  price: ['price', 'fill_price', 'exec_price', 'execution_price', 'trade_price', 'avg_price', 'last_px', 'px'],
  fees: ['commission', 'commissions', 'fee', 'fees', 'ib_commission', 'ibcommission'],
  run: ['run_id', 'run', 'strategy', 'strategy_id', 'backtest'],
  multiplier: ['multiplier', 'contract_multiplier', 'contract_size', 'point_value', 'big_point_value'],
};
const REQUIRED = ['ts', 'symbol', 'qty', 'price'];

const READING: Reading = {
  run_id: (c) => c['run']?.name ?? 'the run folder, else the dataset\'s one run',
  symbol: named('symbol'),
  ts: named('ts'),
  amount: (c) => (c['side'] ? `${c['qty']!.name}, signed by ${c['side'].name}` : `${c['qty']!.name} (signed: buy > 0)`),
  price: named('price'),
  fees: (c) => (c['fees'] ? `|${c['fees'].name}|` : null),
  multiplier: (c) => (c['multiplier'] ? `${c['multiplier'].name} (price move x quantity x it is the P&L)` : null),
};

const BUYS = ['BUY', 'B', 'BOT', 'BOUGHT', 'LONG', 'COVER', 'BUY TO COVER', 'BUY_TO_COVER', 'BTC', 'BUY TO OPEN', 'BTO'];
const SELLS = ['SELL', 'S', 'SLD', 'SOLD', 'SHORT', 'SELL SHORT', 'SELL_SHORT', 'SS', 'SELL TO CLOSE', 'STC', 'SELL TO OPEN', 'STO'];

interface FillsPlan {
  files: { file: CandidateFile; columns: Columns }[];
}

/** How a time column is read: as typed (an integer is an epoch, in UTC), as ISO text (zoned when any value has an offset), or in a text form of text-dates.ts. */
type TimeReading = { kind: 'typed' } | { kind: 'iso'; zoned: boolean } | { kind: 'text'; reading: TextDateReading };

/** A fill's time as written: zoned stays zoned, naive stays naive (the dataset's `timezone` is applied later, as to every input). */
function timeSql(c: ColumnInfo, how: TimeReading): string {
  const col = sqlIdent(c.name);
  if (familyOf(c) === 'timestamptz') return c.zone ? `timezone('UTC', ${col}::TIMESTAMP)` : col;
  if (how.kind === 'typed') return familyOf(c) === 'integer' ? `timezone('UTC', ${epochSql(`${col}::BIGINT`)})` : `${col}::TIMESTAMP`;
  if (how.kind === 'text') return textDateSql(`trim(${col}::VARCHAR)`, how.reading);
  return `trim(${col}::VARCHAR)::${how.zoned ? 'TIMESTAMPTZ' : 'TIMESTAMP'}`;
}

/**
 * How `c` of `relation` is read (TimeReading); a text value that none of the readings takes is
 * refused, naming it: fills are put in time order to be matched.
 */
async function timeReading(ctx: StageContext, file: CandidateFile, relation: string, c: ColumnInfo): Promise<TimeReading> {
  if (familyOf(c) !== 'string') return { kind: 'typed' };
  const text = `trim(${sqlIdent(c.name)}::VARCHAR)`;
  const reading = (await textDateReadingsOf(ctx.con, relation, [c], ctx.description.dateOrder)).get(c.name);
  const read = reading ? textDateSql(text, reading) : `TRY_CAST(${text} AS TIMESTAMPTZ)`;
  const [bad] = (await ctx.con.runAndReadAll(`SELECT ${text} FROM ${relation} WHERE ${text} <> '' AND ${read} IS NULL LIMIT 1`)).getRowsJson();
  if (bad) {
    throw new PrepareError(
      `list of fills ${file.path}: column '${c.name}' holds '${String(bad[0])}', which is not a time${reading ? ` read as ${reading.says}` : ' (ISO 8601, 01/02/2024 09:35, 2024.01.02 09:35 or 20240102 09:35)'}: fills are put in time order to be matched, so every time must be read`,
    );
  }
  if (reading) return { kind: 'text', reading };
  const [zoned] = (await ctx.con.runAndReadAll(`SELECT count(*) FROM ${relation} WHERE regexp_matches(${text}, '(Z|[+-]\\d\\d:?\\d\\d)$')`)).getRowsJson();
  return { kind: 'iso', zoned: Number(zoned?.[0] ?? 0) > 0 };
}

function fillsSql(file: CandidateFile, c: Columns, relation: string, index: number, time: TimeReading, multiplierOf: (symbol: string) => string | null): string {
  const qty = numberExpr(c['qty']);
  const side = c['side'] ? `upper(trim(${sqlIdent(c['side'].name)}::VARCHAR))` : null;
  const list = (values: readonly string[]) => values.map(sqlString).join(', ');
  const amount = side
    ? `CASE WHEN ${side} IN (${list(BUYS)}) THEN abs(${qty}) WHEN ${side} IN (${list(SELLS)}) THEN -abs(${qty}) END`
    : qty;
  const run = c['run'] ? `${sqlIdent(c['run'].name)}::VARCHAR` : sqlString(runOfFile(file));
  const ts = timeSql(c['ts']!, time);
  return `SELECT ${run} AS run_id, ${sqlIdent(c['symbol']!.name)}::VARCHAR AS symbol, ${ts} AS ts,
      ${index}::BIGINT * 4294967296 + row_number() OVER () AS seq, ${amount} AS amount, ${numberExpr(c['price'])} AS price,
      ${c['fees'] ? `coalesce(abs(${numberExpr(c['fees'])}), 0)` : '0.0'} AS fees,
      coalesce(${numberExpr(c['multiplier'])}, ${multiplierOf(`${sqlIdent(c['symbol']!.name)}::VARCHAR`) ?? 'NULL::DOUBLE'}) AS multiplier
    FROM ${relation}`;
}

export const fillsAdapter: FormatAdapter<FillsPlan> = {
  id: 'fills',
  label: 'list of fills',

  detect(files) {
    const plan: FillsPlan = { files: [] };
    for (const file of files) {
      if (!stemIs(file, FILL_STEMS)) continue;
      // A text time is read at staging (timeReading), where its values are looked at.
      const columns = matchNamed(file, NAMES, REQUIRED);
      if (columns) plan.files.push({ file, columns });
    }
    return plan.files.length ? { files: plan.files.map((f) => f.file), confidence: 'likely', plan } : null;
  },

  describe(detection: Detection<FillsPlan>): FormatDescription {
    const files = detection.plan.files.map((f) => ({ path: f.file.path, role: 'fills, matched into round trips FIFO', columns: describeReading(f.columns, READING) }));
    return {
      summary: `list of fills: ${files.map((f) => f.path).join(', ')}`,
      files,
      missing: [{ table: 'bars', why: "a list of fills holds no per-bar positions or prices: bars are made of the round trips' entry and exit fills" }],
    };
  },

  async stage(detection, ctx: StageContext): Promise<StagedTables> {
    const { files } = detection.plan;
    const parts: string[] = [];
    const textTimes: string[] = [];
    for (const [i, { file, columns }] of files.entries()) {
      const relation = await ctx.read(file);
      const time = await timeReading(ctx, file, relation, columns['ts']!);
      if (time.kind === 'text') textTimes.push(`${columns['ts']!.name} of ${file.path} read as ${time.reading.says}`);
      parts.push(fillsSql(file, columns, relation, i, time, ctx.multiplier));
    }
    const trades = ctx.table('trades');
    // stageRoundTrips names the files in any failure of its own.
    // The fills' own multiplier column first, else the symbols file's (StageContext.multiplier).
    const column = files.map((f) => f.columns['multiplier']?.name).find((name) => name !== undefined);
    const fromSymbols = ctx.multiplier('symbol') !== null; // the symbols give any
    const multiplier = column ? `multiplier ('${column}')` : fromSymbols ? "symbols' multiplier" : null;
    await stageRoundTrips(
      ctx.con,
      parts,
      { fills: ctx.table('fills'), target: trades },
      `list of fills ${files.map((f) => f.file.path).join(', ')}`,
      (n) => `${n} fill(s) have no quantity, or a side that is not a buy (${BUYS.join(', ')}) or a sell (${SELLS.join(', ')})`,
      multiplier ? { multiplier: { column: multiplier } } : {},
    );
    const sources = [`trades: FIFO round trips of the fills in ${files.map((f) => f.file.path).join(', ')} (pnl after each fill's fees)`];
    if (textTimes.length) sources.push(`times: ${textTimes.join('; ')}`);
    return { trades, sources };
  },
};
