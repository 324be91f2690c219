// zipline/pyfolio frames, as `pyfolio.utils.extract_rets_pos_txn_from_zipline` gives them and
// analysts save them with pandas (pandas.ts):
//   - transactions (required): one row per fill; a time index (`dt`, `date`, `index`, ...),
//     `symbol` or `sid`, signed `amount` (buy > 0), `price`, optional `commission` (without one,
//     or with it empty as zipline leaves it, fees come from the positions' cash: feesFromCash).
//   - positions (optional): wide; a date index, one column per asset holding the position's
//     VALUE that day (NaN or missing = none), and `cash`.
//   - returns (optional): the daily returns series; claimed so that it is not read as bars.
// Bars are daily, by fill-bars.ts ('marked' P&L): trade quantity and fees from the day's fills,
// position quantity their running sum, position value from positions (else quantity x the last
// fill price), price = value / quantity (the close the positions were marked at) or the last fill
// price, and pnl_t = value_t - value_{t-1} - sum(amount x price of that day's fills) - fees.
// Trades are the FIFO round trips of the fills (round-trips.ts). The capital base is the first
// day's portfolio value (the sum of the assets' values and cash) when positions have `cash`.
import { sqlIdent, sqlString } from '../../sql/text.js';
import type { ColumnInfo } from '../column-types.js';
import { PrepareError } from '../errors.js';
import type { CandidateFile, Detection, FormatAdapter, FormatDescription, StageContext, StagedTables } from './adapter.js';
import { findColumn, runOfFile, stemIs } from './adapter.js';
import { dayExpr, numberColumns, timeIndexColumn, timeExpr, ziplineAssetSymbolSql } from './pandas.js';
import { dailyBarsFromFillsSql } from './fill-bars.js';
import { toolRoundTripsSql } from './round-trips.js';

interface TransactionsPlan {
  file: CandidateFile;
  /** Every file of the frame: `file` alone, or the part files of a transactions/ folder. */
  parts: CandidateFile[];
  ts: ColumnInfo;
  /** symbol and/or sid: the one whose values name the positions' columns is used. */
  keys: ColumnInfo[];
  amount: ColumnInfo;
  price: ColumnInfo;
  commission?: ColumnInfo;
}

interface PositionsPlan {
  file: CandidateFile;
  date: ColumnInfo;
  cash?: ColumnInfo;
  assets: ColumnInfo[];
}

/** One run's frames: the dataset's only set, or the set in one of its run folders (inputs/run-folders.ts markRunFolders). */
export interface PyfolioRun {
  /** The run id: the run folder's name, or the dataset's one run. */
  run: string;
  transactions: TransactionsPlan;
  positions?: PositionsPlan;
  returns?: { file: CandidateFile };
}

export interface PyfolioPlan {
  runs: PyfolioRun[];
}

const TRANSACTIONS_STEMS = ['transactions', 'transaction', 'txns', 'txn'];
const POSITIONS_STEMS = ['positions', 'position', 'pos'];
const RETURNS_STEMS = ['returns', 'rets', 'daily_returns'];

function transactionsPlan(file: CandidateFile): TransactionsPlan | null {
  const ts = timeIndexColumn(file);
  const amount = findColumn(file, ['amount']);
  const price = findColumn(file, ['price']);
  const keys = [findColumn(file, ['symbol']), findColumn(file, ['sid'])].filter((c): c is ColumnInfo => c !== undefined);
  if (!ts || !amount || !price || keys.length === 0) return null;
  const commission = findColumn(file, ['commission', 'commissions', 'fees', 'fee']);
  return { file, parts: [file], ts, keys, amount, price, ...(commission ? { commission } : {}) };
}

/** The transactions frame: one file, or a folder of part files that all read the same way. */
function transactionsFrame(files: readonly CandidateFile[]): TransactionsPlan | null {
  if (files.length === 0 || files.some((f) => f.stem !== files[0]!.stem)) return null;
  const plans = files.map(transactionsPlan);
  const first = plans[0];
  if (!first) return null;
  const names = (t: TransactionsPlan) => [t.ts, ...t.keys, t.amount, t.price, t.commission].map((c) => c?.name ?? '').join('|');
  if (plans.some((t) => !t || names(t) !== names(first))) return null;
  return { ...first, parts: [...files] };
}

function positionsPlan(file: CandidateFile): PositionsPlan | null {
  const date = timeIndexColumn(file);
  const cash = findColumn(file, ['cash']);
  if (!date || !cash) return null;
  const assets = numberColumns(file).filter((c) => c !== cash && c !== date && !(c.name in file.hive));
  return { file, date, cash, assets };
}

/** The frames of one run among `files`: transactions required, positions and returns when there is one of each. */
function detectRun(files: readonly CandidateFile[]): PyfolioRun | null {
  const transactions = transactionsFrame(files.filter((f) => stemIs(f, TRANSACTIONS_STEMS) && f.columns.length > 0));
  if (!transactions) return null;
  const posFiles = files.filter((f) => stemIs(f, POSITIONS_STEMS) && f.columns.length > 0);
  const positions = posFiles.length === 1 ? positionsPlan(posFiles[0]!) : null;
  const retFiles = files.filter((f) => stemIs(f, RETURNS_STEMS) && f.columns.length > 0 && timeIndexColumn(f) && numberColumns(f).length === 1);
  const returns = retFiles.length === 1 ? { file: retFiles[0]! } : undefined;
  return { run: runOfFile(transactions.file), transactions, ...(positions ? { positions } : {}), ...(returns ? { returns } : {}) };
}

const filesOf = (r: PyfolioRun) => [...r.transactions.parts, ...(r.positions ? [r.positions.file] : []), ...(r.returns ? [r.returns.file] : [])];

/**
 * The frames of each run: one set for the dataset, or one per run folder (two runs' transactions
 * in two folders were one frame of part files, and their fills one run).
 */
function detect(files: readonly CandidateFile[]): Detection<PyfolioPlan> | null {
  const byFolder = new Map<string, CandidateFile[]>();
  for (const f of files) byFolder.set(f.runFolder ?? '', [...(byFolder.get(f.runFolder ?? '') ?? []), f]);
  const runs = [...byFolder.values()].map(detectRun).filter((r): r is PyfolioRun => r !== null);
  if (runs.length === 0) return null;
  return {
    files: runs.flatMap(filesOf),
    // Wide positions with `cash` beside fills are pyfolio's own shape; fills alone could be anyone's.
    confidence: runs.every((r) => r.positions) ? 'certain' : 'likely',
    plan: { runs },
  };
}

const fileName = (f: CandidateFile) => f.path.split(/[\\/]/).pop()!;
/** The transactions file's name, or its folder's and how many part files it holds. */
const frameName = (t: TransactionsPlan) => (t.parts.length > 1 ? `${t.file.stem}/ (${t.parts.length} files)` : fileName(t.file));

function describe(d: Detection<PyfolioPlan>): FormatDescription {
  const { runs } = d.plan;
  const several = runs.length > 1;
  const parts = runs.flatMap(({ run, transactions: t, positions: p, returns: r }) => [
    ...(r ? [fileName(r.file)] : []),
    ...(p ? [`${fileName(p.file)} (wide, ${p.assets.length} assets${p.cash ? ' + cash' : ''})`] : []),
    `${frameName(t)} (fills${several ? `, run ${run}` : ''})`,
  ]);
  const files = runs.flatMap(({ run, transactions: t, positions: p, returns: r }) => {
    const ofRun = several ? ` (run ${run})` : '';
    const txnColumns: Record<string, string> = { ts: t.ts.name, symbol: t.keys.map((k) => k.name).join(' or '), amount: t.amount.name, price: t.price.name };
    if (t.commission) txnColumns['fees'] = t.commission.name;
    return [
      ...t.parts.map((f) => ({ path: f.path, role: `transactions${ofRun}: fills, matched into round trips (FIFO) and summed into daily bars`, columns: txnColumns })),
      ...(p ? [{ path: p.file.path, role: `positions${ofRun}: daily value per asset (${p.assets.length} assets) and cash`, columns: { ts: p.date.name, ...(p.cash ? { cash: p.cash.name } : {}) } }] : []),
      ...(r ? [{ path: r.file.path, role: `returns${ofRun}: daily returns (not needed: P&L comes from positions and fills)`, columns: {} }] : []),
    ];
  });
  const unpositioned = runs.filter((r) => !r.positions);
  return {
    summary: `zipline/pyfolio frames: ${parts.join(', ')}`,
    files,
    missing: unpositioned.length
      ? [{ table: 'positions', why: `no positions frame${several ? ` for run ${unpositioned.map((r) => r.run).join(', ')}` : ''}: positions are valued at the last fill price, and the capital base is not stated` }]
      : [],
  };
}

/**
 * What names the fills' asset (SQL over the fills): the key column (symbol, sid) that names the
 * positions' asset columns best, else the one with the fewest missing values. backtrader's PyFolio
 * analyzer leaves `symbol` empty for a data feed given no name, and heads its positions column
 * `Data<sid>`: that name is a candidate too, after the columns, so a named feed keeps its symbol.
 */
async function fillKey(ctx: StageContext, fills: string, t: TransactionsPlan, p: PositionsPlan | undefined): Promise<string> {
  const candidates = t.keys.map((k) => `${sqlIdent(k.name)}::VARCHAR`);
  const symbol = t.keys.find((k) => k.name.toLowerCase() === 'symbol');
  const sid = t.keys.find((k) => k.name.toLowerCase() === 'sid');
  if (symbol && sid) candidates.push(`coalesce(nullif(${sqlIdent(symbol.name)}::VARCHAR, ''), 'Data' || ${sqlIdent(sid.name)}::VARCHAR)`);
  if (candidates.length === 1) return candidates[0]!;
  const names = p?.assets.map((a) => sqlString(a.name)).join(', ') || 'NULL';
  const scores = candidates.map((c) => `count(DISTINCT ${c}) FILTER (WHERE ${c} IN (${names})), count(nullif(${c}, ''))`).join(', ');
  const row = (await ctx.con.runAndReadAll(`SELECT ${scores} FROM ${fills}`)).getRows()[0] ?? [];
  let best = 0;
  const score = (i: number) => [Number(row[2 * i] ?? 0), Number(row[2 * i + 1] ?? 0)] as const;
  for (let i = 1; i < candidates.length; i++) {
    const [hits, named] = score(i);
    const [bestHits, bestNamed] = score(best);
    if (hits > bestHits || (hits === bestHits && named > bestNamed)) best = i;
  }
  return candidates[best]!;
}

async function stage(d: Detection<PyfolioPlan>, ctx: StageContext): Promise<StagedTables> {
  const { runs } = d.plan;
  const { con } = ctx;
  const sources: string[] = [];
  const fills = ctx.table('fills');
  const values: string[] = [];
  const capitals: string[] = [];
  const several = runs.length > 1;
  // Planned before the fills are staged: the source lines below say how the round trips are priced.
  const roundTrips = toolRoundTripsSql(fills, ctx.multiplier);
  for (const [i, { run: runId, transactions: t, positions: p }] of runs.entries()) {
    const run = sqlString(runId);
    const reads: string[] = [];
    for (const f of t.parts) reads.push(await ctx.read(f));
    const rawFills = reads.length === 1 ? reads[0]! : `(${reads.map((r) => `SELECT * FROM ${r}`).join(' UNION ALL BY NAME ')})`;
    const key = await fillKey(ctx, rawFills, t, p);
    // seq orders a run's fills; the run's index above it keeps two runs' from tying.
    await con.run(`${i === 0 ? `CREATE TEMP TABLE ${fills} AS` : `INSERT INTO ${fills}`}
      SELECT ${run} AS run_id, ${ziplineAssetSymbolSql(key)} AS symbol, ${timeExpr(t.ts)} AS ts, ${dayExpr(t.ts)} AS day,
        ${i}::BIGINT * 4294967296 + row_number() OVER () AS seq, ${sqlIdent(t.amount.name)}::DOUBLE AS amount, ${sqlIdent(t.price.name)}::DOUBLE AS price,
        ${t.commission ? `coalesce(${sqlIdent(t.commission.name)}::DOUBLE, 0)` : '0::DOUBLE'} AS fees
      FROM ${rawFills}`);
    sources.push(`trades${several ? ` of run ${runId}` : ''}: FIFO round trips of the fills in ${frameName(t)}${roundTrips.pricing ? ` (${roundTrips.pricing})` : ''}`);
    if (!p || !p.assets.length) {
      sources.push(`bars${several ? ` of run ${runId}` : ''}: daily, positions valued at the last fill price of ${frameName(t)}`);
      continue;
    }
    // Daily values per asset from the wide positions frame (NaN and NULL mean no position).
    const pos = await ctx.read(p.file);
    const assetCols = p.assets.map((a) => `${sqlIdent(a.name)}::DOUBLE AS ${sqlIdent(a.name)}`).join(', ');
    values.push(`SELECT ${run} AS run_id, ${ziplineAssetSymbolSql('symbol')} AS symbol, day, CASE WHEN isnan(value) THEN 0 ELSE value END AS value FROM (
        UNPIVOT (SELECT ${dayExpr(p.date)} AS day, ${assetCols} FROM ${pos})
        ON ${p.assets.map((a) => sqlIdent(a.name)).join(', ')} INTO NAME symbol VALUE value)`);
    sources.push(`bars${several ? ` of run ${runId}` : ''}: daily, position values from ${fileName(p.file)}, quantities and fees from ${frameName(t)}`);
    if (!p.cash) continue;
    if (!(await statesFees(ctx, fills, run))) sources.push(await feesFromCash(ctx, fills, run, pos, p, p.cash, several ? ` of run ${runId}` : ''));
    const r = await con.runAndReadAll(`SELECT day, total FROM (
        SELECT ${dayExpr(p.date)} AS day, ${[...p.assets, p.cash].map(heldValue).join(' + ')} AS total
        FROM ${pos}) WHERE day IS NOT NULL ORDER BY day LIMIT 1`);
    const first = r.getRowsJson()[0];
    if (!first || !Number.isFinite(Number(first[1])) || Number(first[1]) <= 0) {
      throw new PrepareError(`zipline/pyfolio positions ${p.file.path}: the first day's portfolio value (assets + cash) is not a positive number, so it cannot be the capital base; state "capital" in tickscope.json`);
    }
    capitals.push(`SELECT ${run} AS run_id, NULL::VARCHAR AS name, NULL::VARCHAR AS params, ${Number(first[1])}::DOUBLE AS capital`);
    sources.push(`capital${several ? ` of run ${runId}` : ''}: ${Number(first[1])}, the portfolio value (assets + cash) of ${String(first[0])} in ${fileName(p.file)}`);
  }
  const trades = ctx.table('trades');
  await con.run(`CREATE TEMP TABLE ${trades} AS ${roundTrips.sql}`);
  const bars = await stageBars(ctx, fills, values.length ? values.join(' UNION ALL ') : undefined);
  if (capitals.length === 0) return { bars, trades, sources };
  const runsTable = ctx.table('runs');
  await con.run(`CREATE TEMP TABLE ${runsTable} AS ${capitals.join(' UNION ALL ')}`);
  return { bars, trades, runs: runsTable, sources };
}

/** A positions column's value as DOUBLE, NaN and NULL (no position, no cash) as 0. */
const heldValue = (c: ColumnInfo) => `coalesce(CASE WHEN isnan(${sqlIdent(c.name)}::DOUBLE) THEN 0 ELSE ${sqlIdent(c.name)}::DOUBLE END, 0)`;

/** Whether a run's fills state any fee (zipline's extracted transactions hold an empty commission column). */
async function statesFees(ctx: StageContext, fills: string, run: string): Promise<boolean> {
  const r = await ctx.con.runAndReadAll(`SELECT count(*) FILTER (WHERE fees <> 0) FROM ${fills} WHERE run_id = ${run}`);
  return Number(r.getRows()[0]?.[0] ?? 0) > 0;
}

/** A commission is a small share of what was traded: a day's fall in cash beyond its fills' cost above this share of it is something else. */
const MAX_FEE_SHARE = 0.05;

/**
 * How a day's fees are shared among its fills: in proportion to their value (a commission in
 * percent, backtrader's setcommission), to their shares (zipline's default PerShare), or equally (a
 * fee per order). `fill` is an SQL row of the fills, `day` one of feesFromCash's days.
 */
const FEE_BASES = {
  value: { says: 'by traded value', share: (fill: string, day: string) => `abs(${fill}.amount * ${fill}.price) / ${day}.traded` },
  shares: { says: 'by shares traded', share: (fill: string, day: string) => `abs(${fill}.amount) / ${day}.shares` },
  fill: { says: 'equally per fill', share: (_fill: string, day: string) => `1.0 / ${day}.fills` },
} as const;

/**
 * The fees of a run whose fills state none, from the positions' cash: zipline books commissions
 * on orders, so the transactions pyfolio extracts from it leave `commission` empty, and
 * backtrader's PyFolio analyzer has no such column; the cash paid them all the same. A day's fees
 * are what its cash fell by beyond its fills' cost, -(cash_t - cash_{t-1} + sum of amount x price):
 * exact for the day. They are taken only where they look like fees, above zero and at most
 * MAX_FEE_SHARE of the day's traded value (a futures fill moves cash by its multiplier, or not at
 * all; a dividend moves it the other way), and not on the first day, whose cash before is unknown
 * (the capital base is that day's value, after them). A day of several fills shares its fees by
 * the basis (FEE_BASES) under which the days of one fill pay the most constant rate: exact per
 * fill when the commission is one of those. What was taken and left, for the sources.
 */
async function feesFromCash(ctx: StageContext, fills: string, run: string, pos: string, p: PositionsPlan, cash: ColumnInfo, ofRun: string): Promise<string> {
  const paid = ctx.table('paid');
  await ctx.con.run(`CREATE TEMP TABLE ${paid} AS
    WITH cash AS (
      SELECT day, cash - lag(cash) OVER (ORDER BY day) AS change FROM (
        SELECT day, sum(cash) AS cash FROM (SELECT ${dayExpr(p.date)} AS day, ${heldValue(cash)} AS cash FROM ${pos}) WHERE day IS NOT NULL GROUP BY day)),
    flows AS (
      SELECT day, sum(amount * price) AS cost, sum(abs(amount * price)) AS traded, sum(abs(amount)) AS shares, count(*) AS fills
      FROM ${fills} WHERE run_id = ${run} GROUP BY day)
    SELECT day, -(change + cost) AS fees, traded, shares, fills, -(change + cost) > 1e-9 * traded AND -(change + cost) <= ${MAX_FEE_SHARE} * traded AS taken
    FROM flows JOIN cash USING (day) WHERE change IS NOT NULL AND traded > 0 AND shares > 0`);
  // The relative spread of each basis' rate over the days of one fill (NULL with fewer than two).
  const spread = (rate: string) => `CASE WHEN count(*) > 1 THEN stddev_pop(${rate}) / avg(${rate}) END`;
  const [byValue, byShares, byFill] = (
    await ctx.con.runAndReadAll(`SELECT ${spread('fees / traded')}, ${spread('fees / shares')}, ${spread('fees')} FROM ${paid} WHERE taken AND fills = 1`)
  ).getRows()[0]!.map((v) => (v === null ? Number.POSITIVE_INFINITY : Number(v)));
  const basis = FEE_BASES[byShares! < byValue! && byShares! <= byFill! ? 'shares' : byFill! < byValue! ? 'fill' : 'value'];
  await ctx.con.run(`UPDATE ${fills} SET fees = ${paid}.fees * ${basis.share(fills, paid)}
    FROM ${paid} WHERE ${paid}.taken AND ${fills}.run_id = ${run} AND ${fills}.day = ${paid}.day`);
  const [taken, total, other] = (
    await ctx.con.runAndReadAll(`SELECT count(*) FILTER (WHERE taken), coalesce(sum(fees) FILTER (WHERE taken), 0), count(*) FILTER (WHERE NOT taken AND abs(fees) > 1e-9 * traded) FROM ${paid}`)
  ).getRows()[0]!.map(Number) as [number, number, number];
  const left = other ? `; on ${other} day(s) with fills the cash moved otherwise (more than ${MAX_FEE_SHARE * 100}% of what was traded, or up: futures, dividends), which the P&L leaves out` : '';
  return `fees${ofRun}: the transactions state none; ${taken} day(s)' fees (${+total.toFixed(6)} in all) read from ${fileName(p.file)}'s cash, each day's fall in cash beyond its fills' cost, shared among its fills ${basis.says}${left}`;
}

/** Daily bars per symbol from the fills and the positions' daily values, if any (fill-bars.ts). */
async function stageBars(ctx: StageContext, fills: string, values: string | undefined): Promise<string> {
  const bars = ctx.table('bars');
  await ctx.con.run(`CREATE TEMP TABLE ${bars} AS ${dailyBarsFromFillsSql({ fills, pnl: 'marked', ...(values ? { values } : {}) })}`);
  return bars;
}

export const pyfolioAdapter: FormatAdapter<PyfolioPlan> = { id: 'pyfolio', label: 'zipline/pyfolio frames', detect, describe, stage };
