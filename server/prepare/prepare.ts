// Builds the prepared store (server/store/format.ts) from a dataset folder of Parquet files.
//
// Input layout: bars/ (any **/*.parquet below it, hive partitions allowed) or bars.parquet;
// optional trades/ or trades.parquet, symbols(.parquet|/), runs(.parquet|/). A single .parquet
// file as input is taken as the bars.
//
// The store is keyed by a fingerprint of its inputs, built in a temporary file next to its final
// path and published with rename, so a reader sees either no store or a complete one.
//
// Rollup definitions not spelled out in format.ts (documented here, tell the lead if changed):
// - portfolio_bar.trade_qty, symbol_day.trade_qty: shares traded = sum(abs(trade_qty)).
// - portfolio_day exposures: portfolio_bar at the day's last bar; bars = number of bar timestamps.
// - symbol_day.position_value: the symbol's position_value at its last bar of the day.
// - sector_day exposures: sum over the sector's symbols of their end-of-day position_value.
// - day is the UTC calendar day of ts.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { META_TABLE, MetaKey, STORE_FORMAT_VERSION, StoreTable } from '../store/format.js';
import { ROLLUPS } from './rollups.js';

export interface PrepareProgress {
  phase: string;
  fraction: number;
}

/** canonical column name -> column name in the input files, per table. */
export interface ColumnMapping {
  bars?: Record<string, string>;
  trades?: Record<string, string>;
  symbols?: Record<string, string>;
  runs?: Record<string, string>;
}

export interface PrepareOptions {
  input: string;
  storeDir: string;
  /** DuckDB memory_limit for the build, default '2GB'. */
  memoryLimit?: string;
  /** Explicit column names; otherwise common aliases are recognised. */
  mapping?: ColumnMapping;
  onProgress?: (p: PrepareProgress) => void;
}

export interface PrepareResult {
  storePath: string;
  fingerprint: string;
  reused: boolean;
}

/** An error whose message is meant for the user as is (names the input, phase and column). */
export class PrepareError extends Error {
  override name = 'PrepareError';
}

type TableKind = 'bars' | 'trades' | 'symbols' | 'runs';

interface Source {
  kind: TableKind;
  /** Where the table came from, for messages (a folder or a file). */
  location: string;
  files: string[];
}

interface ColumnInfo {
  name: string;
  type: string;
}

// Canonical column -> recognised names (lowercase), first match wins.
const ALIASES: Record<TableKind, Record<string, string[]>> = {
  bars: {
    run_id: ['run_id', 'run', 'runid', 'backtest_id', 'strategy_id'],
    ts: ['ts', 'timestamp', 'dt', 'datetime', 'time', 'bar_time', 'bar_end', 'date'],
    symbol: ['symbol', 'sid', 'ticker', 'asset', 'instrument', 'security'],
    price: ['price', 'close', 'px', 'last', 'close_price'],
    position_qty: ['position_qty', 'position', 'amount', 'qty', 'quantity', 'shares', 'pos'],
    position_value: ['position_value', 'market_value', 'value', 'exposure', 'notional'],
    trade_qty: ['trade_qty', 'traded_qty', 'fill_qty', 'trade_amount', 'trade'],
    fees: ['fees', 'fee', 'commission', 'commissions', 'costs', 'cost'],
    pnl: ['pnl', 'pl', 'p&l', 'profit', 'net_pnl', 'pnl_net'],
  },
  trades: {
    run_id: ['run_id', 'run', 'runid', 'backtest_id', 'strategy_id'],
    trade_id: ['trade_id', 'id', 'trade', 'round_trip_id'],
    symbol: ['symbol', 'sid', 'ticker', 'asset', 'instrument', 'security'],
    side: ['side', 'direction', 'long_short'],
    entry_ts: ['entry_ts', 'entry_time', 'entry_dt', 'open_dt', 'open_time', 'open_ts', 'entry_date'],
    exit_ts: ['exit_ts', 'exit_time', 'exit_dt', 'close_dt', 'close_time', 'close_ts', 'exit_date'],
    qty: ['qty', 'quantity', 'amount', 'shares', 'size'],
    entry_price: ['entry_price', 'open_price', 'avg_entry_price', 'entry_px'],
    exit_price: ['exit_price', 'close_price', 'avg_exit_price', 'exit_px'],
    fees: ['fees', 'fee', 'commission', 'commissions', 'costs', 'cost'],
    pnl: ['pnl', 'pl', 'p&l', 'profit', 'net_pnl', 'pnl_net'],
    ret: ['ret', 'return', 'returns', 'pnl_pct', 'rt_returns'],
    bars_held: ['bars_held', 'duration_bars', 'bars', 'holding_bars'],
    mae: ['mae'],
    mfe: ['mfe'],
    tag: ['tag', 'label', 'signal', 'reason'],
  },
  symbols: {
    symbol: ['symbol', 'sid', 'ticker', 'asset', 'instrument', 'security'],
    sector: ['sector', 'gics_sector'],
    industry: ['industry', 'gics_industry', 'sub_industry'],
  },
  runs: {
    run_id: ['run_id', 'run', 'runid', 'backtest_id', 'strategy_id'],
    name: ['name', 'run_name', 'label'],
    params: ['params', 'parameters', 'config'],
  },
};

const REQUIRED: Record<TableKind, string[]> = {
  bars: ['ts', 'symbol', 'price', 'position_qty', 'pnl'],
  trades: ['symbol', 'entry_ts'],
  symbols: ['symbol'],
  runs: ['run_id'],
};

const DEFAULT_RUN_ID = 'default';

export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function ident(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // DuckDB appends the offending SQL ("LINE 1: ..."), which can list thousands of files.
  const cut = msg.search(/\n\s*LINE \d+:/);
  return (cut >= 0 ? msg.slice(0, cut) : msg).trim();
}

async function statOrNull(p: string) {
  try {
    return await stat(p);
  } catch {
    return null;
  }
}

async function listParquet(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  for (const e of entries) {
    if (!e.isFile() || !e.name.toLowerCase().endsWith('.parquet')) continue;
    // Node 20 exposes parentPath (and the older `path`) on recursive Dirents.
    const parent = (e as { parentPath?: string; path?: string }).parentPath ?? (e as { path?: string }).path ?? dir;
    out.push(path.join(parent, e.name));
  }
  return out.sort();
}

/** Finds <dir>/<kind>/**\/*.parquet or <dir>/<kind>.parquet. */
async function findSource(dir: string, kind: TableKind): Promise<Source | null> {
  const folder = path.join(dir, kind);
  const fst = await statOrNull(folder);
  if (fst?.isDirectory()) {
    const files = await listParquet(folder);
    if (files.length > 0) return { kind, location: folder, files };
  }
  const file = path.join(dir, `${kind}.parquet`);
  const st = await statOrNull(file);
  if (st?.isFile()) return { kind, location: file, files: [file] };
  if (fst?.isDirectory()) return { kind, location: folder, files: [] };
  return null;
}

interface Discovered {
  root: string;
  bars: Source;
  trades: Source | null;
  symbols: Source | null;
  runs: Source | null;
}

async function discover(input: string): Promise<Discovered> {
  const abs = path.resolve(input);
  const st = await statOrNull(abs);
  if (!st) throw new PrepareError(`input ${abs} does not exist`);
  if (st.isFile()) {
    if (!abs.toLowerCase().endsWith('.parquet')) {
      throw new PrepareError(`input ${abs} is not a .parquet file or a dataset folder`);
    }
    return { root: path.dirname(abs), bars: { kind: 'bars', location: abs, files: [abs] }, trades: null, symbols: null, runs: null };
  }
  if (!st.isDirectory()) throw new PrepareError(`input ${abs} is neither a file nor a folder`);
  const bars = await findSource(abs, 'bars');
  if (!bars || bars.files.length === 0) {
    const where = bars ? `${bars.location} holds no .parquet files` : `found neither ${path.join(abs, 'bars')}/ nor ${path.join(abs, 'bars.parquet')}`;
    throw new PrepareError(`input ${abs} has no bars parquet: ${where}`);
  }
  const opt = async (k: TableKind) => {
    const s = await findSource(abs, k);
    return s && s.files.length > 0 ? s : null;
  };
  return { root: abs, bars, trades: await opt('trades'), symbols: await opt('symbols'), runs: await opt('runs') };
}

async function fingerprintOf(d: Discovered, mapping: ColumnMapping | undefined): Promise<string> {
  const h = createHash('sha256');
  h.update(`tickscope-store v${STORE_FORMAT_VERSION}\n`);
  if (mapping) h.update(`mapping ${JSON.stringify(mapping)}\n`);
  for (const src of [d.bars, d.trades, d.symbols, d.runs]) {
    if (!src) continue;
    for (const f of src.files) {
      const st = await stat(f);
      h.update(`${src.kind}\t${path.relative(d.root, f)}\t${st.size}\t${st.mtimeMs}\n`);
    }
  }
  return h.digest('hex').slice(0, 16);
}

/** Opens an existing store READ_ONLY and returns its format version, or null if unreadable. */
export async function readStoreFormatVersion(storePath: string): Promise<number | null> {
  let inst: DuckDBInstance | null = null;
  let con: DuckDBConnection | null = null;
  try {
    inst = await DuckDBInstance.create(storePath, { access_mode: 'READ_ONLY' });
    con = await inst.connect();
    const r = await con.runAndReadAll(`SELECT value FROM ${META_TABLE} WHERE key = ${sqlString(MetaKey.formatVersion)}`);
    const v = r.getRowsJson()[0]?.[0];
    const n = Number(v);
    return v == null || !Number.isFinite(n) ? null : n;
  } catch {
    return null;
  } finally {
    con?.closeSync();
    inst?.closeSync();
  }
}

export async function prepareDataset(opts: PrepareOptions): Promise<PrepareResult> {
  const progress = opts.onProgress ?? (() => {});
  const input = path.resolve(opts.input);
  progress({ phase: 'reading', fraction: 0 });
  const d = await discover(input);
  const fingerprint = await fingerprintOf(d, opts.mapping);
  const storeDir = path.resolve(opts.storeDir);
  await mkdir(storeDir, { recursive: true });
  const storePath = path.join(storeDir, `${fingerprint}.duckdb`);

  if (existsSync(storePath)) {
    const v = await readStoreFormatVersion(storePath);
    if (v === STORE_FORMAT_VERSION) {
      progress({ phase: 'done', fraction: 1 });
      return { storePath, fingerprint, reused: true };
    }
  }

  const tmp = `${storePath}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const tempDir = path.join(storeDir, '.duckdb-tmp', path.basename(tmp));
  await mkdir(tempDir, { recursive: true });
  try {
    await build(tmp, d, fingerprint, { ...opts, input }, tempDir, progress);
    progress({ phase: 'publishing', fraction: 0.97 });
    await rm(`${tmp}.wal`, { force: true });
    // A stale WAL next to the final path would be replayed against the new file: drop it first.
    await rm(`${storePath}.wal`, { force: true });
    await rename(tmp, storePath);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    await rm(`${tmp}.wal`, { force: true }).catch(() => {});
    throw err;
  } finally {
    await rm(tempDir, { recursive: true, force: true }).catch(() => {});
    await rmdir(path.dirname(tempDir)).catch(() => {}); // only if no other build uses it
  }
  progress({ phase: 'done', fraction: 1 });
  return { storePath, fingerprint, reused: false };
}

function readParquetSql(src: Source): string {
  const list = `[${src.files.map(sqlString).join(', ')}]`;
  return `read_parquet(${list}, hive_partitioning = true, union_by_name = true)`;
}

async function describe(con: DuckDBConnection, src: Source): Promise<ColumnInfo[]> {
  const r = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${readParquetSql(src)}`);
  return r.getRowObjectsJson().map((row) => ({ name: String(row['column_name']), type: String(row['column_type']) }));
}

/** canonical name -> actual column, for the columns present. */
function resolveColumns(src: Source, cols: ColumnInfo[], mapping: Record<string, string> | undefined): Map<string, ColumnInfo> {
  const byLower = new Map(cols.map((c) => [c.name.toLowerCase(), c] as const));
  const out = new Map<string, ColumnInfo>();
  const taken = new Set<string>();
  for (const canon of Object.keys(ALIASES[src.kind])) {
    const explicit = mapping?.[canon];
    if (explicit !== undefined) {
      const c = byLower.get(explicit.toLowerCase());
      if (!c) {
        throw new PrepareError(
          `${src.kind} in ${src.location}: mapped column '${explicit}' (for '${canon}') is missing; columns found: ${cols.map((x) => x.name).join(', ')}`,
        );
      }
      out.set(canon, c);
      taken.add(c.name);
      continue;
    }
    // The canonical name itself always wins over an alias.
    const exact = byLower.get(canon);
    if (exact && !taken.has(exact.name)) {
      out.set(canon, exact);
      taken.add(exact.name);
    }
  }
  for (const [canon, aliases] of Object.entries(ALIASES[src.kind])) {
    if (out.has(canon)) continue;
    for (const a of aliases) {
      const c = byLower.get(a);
      if (c && !taken.has(c.name) && !Object.keys(ALIASES[src.kind]).includes(c.name.toLowerCase())) {
        out.set(canon, c);
        taken.add(c.name);
        break;
      }
    }
  }
  for (const req of REQUIRED[src.kind]) {
    if (!out.has(req)) {
      throw new PrepareError(
        `${src.kind} in ${src.location}: required column '${req}' is missing (looked for ${ALIASES[src.kind][req]!.join(', ')}); columns found: ${cols.map((x) => x.name).join(', ')}`,
      );
    }
  }
  return out;
}

/** SQL turning a column into a UTC TIMESTAMP; records how in notes. */
function tsExpr(c: ColumnInfo, notes: Set<string>): string {
  const col = ident(c.name);
  const t = c.type.toUpperCase();
  if (t === 'TIMESTAMP WITH TIME ZONE' || t === 'TIMESTAMPTZ') {
    notes.add(`${c.name}: time-zone-aware timestamps converted to UTC`);
    return `timezone('UTC', ${col})`;
  }
  if (t.startsWith('TIMESTAMP') || t === 'DATE' || t === 'DATETIME') {
    notes.add(`${c.name}: naive timestamps taken as UTC`);
    return `${col}::TIMESTAMP`;
  }
  if (/^(U?(BIG|SMALL|TINY|HUGE)?INT(EGER)?|DOUBLE|FLOAT|REAL)/.test(t)) {
    notes.add(`${c.name}: integer epoch (unit guessed from magnitude: s/ms/us/ns) taken as UTC`);
    const x = `${col}::BIGINT`;
    return `CASE WHEN abs(${x}) >= 100000000000000000 THEN make_timestamp(${x} // 1000)
      WHEN abs(${x}) >= 100000000000000 THEN make_timestamp(${x})
      WHEN abs(${x}) >= 100000000000 THEN make_timestamp(${x} * 1000)
      ELSE make_timestamp(${x} * 1000000) END`;
  }
  notes.add(`${c.name}: text timestamps parsed, offsets converted to UTC, naive taken as UTC`);
  return `timezone('UTC', ${col}::VARCHAR::TIMESTAMPTZ)`;
}

async function build(
  file: string,
  d: Discovered,
  fingerprint: string,
  opts: PrepareOptions,
  tempDir: string,
  progress: (p: PrepareProgress) => void,
): Promise<void> {
  let phase = 'opening the store';
  let source = file;
  let inst: DuckDBInstance;
  let con: DuckDBConnection;
  try {
    inst = await DuckDBInstance.create(file, {
      access_mode: 'READ_WRITE',
      memory_limit: opts.memoryLimit ?? '2GB',
      temp_directory: tempDir,
    });
    con = await inst.connect();
  } catch (err) {
    throw new PrepareError(`preparing ${opts.input}: ${phase} failed (${source}): ${errorMessage(err)}`, { cause: err });
  }
  const step = async <T>(name: string, src: string, fraction: number, fn: () => Promise<T>): Promise<T> => {
    phase = name;
    source = src;
    progress({ phase: name, fraction });
    return fn();
  };
  try {
    await con.run(`SET TimeZone = 'UTC'`);
    await con.run(`SET preserve_insertion_order = true`);
    const notes = new Set<string>();
    const m = opts.mapping ?? {};

    // ---- reading: resolve columns of every source
    const barsCols = await step('reading', d.bars.location, 0.02, async () =>
      resolveColumns(d.bars, await describe(con, d.bars), m.bars),
    );
    const tradesCols = d.trades
      ? await step('reading', d.trades.location, 0.04, async () => resolveColumns(d.trades!, await describe(con, d.trades!), m.trades))
      : null;
    const symCols = d.symbols
      ? await step('reading', d.symbols.location, 0.05, async () => resolveColumns(d.symbols!, await describe(con, d.symbols!), m.symbols))
      : null;
    const runCols = d.runs
      ? await step('reading', d.runs.location, 0.06, async () => resolveColumns(d.runs!, await describe(con, d.runs!), m.runs))
      : null;

    // ---- sorting bars
    await step('sorting bars', d.bars.location, 0.1, async () => {
      const c = (k: string) => ident(barsCols.get(k)!.name);
      const has = (k: string) => barsCols.has(k);
      const runId = has('run_id') ? `${c('run_id')}::VARCHAR` : sqlString(DEFAULT_RUN_ID);
      const qty = `${c('position_qty')}::DOUBLE`;
      const price = `${c('price')}::DOUBLE`;
      const inner = `SELECT ${runId} AS run_id, ${tsExpr(barsCols.get('ts')!, notes)} AS ts, ${c('symbol')}::VARCHAR AS symbol,
          ${price} AS price, ${qty} AS position_qty,
          ${has('position_value') ? `${c('position_value')}::DOUBLE` : `${qty} * ${price}`} AS position_value,
          ${has('trade_qty') ? `${c('trade_qty')}::DOUBLE` : 'NULL::DOUBLE'} AS trade_qty,
          ${has('fees') ? `coalesce(${c('fees')}::DOUBLE, 0)` : '0.0::DOUBLE'} AS fees,
          ${c('pnl')}::DOUBLE AS pnl
        FROM ${readParquetSql(d.bars)}`;
      const tradeQty = has('trade_qty')
        ? 'trade_qty'
        : 'position_qty - coalesce(lag(position_qty) OVER (PARTITION BY run_id, symbol ORDER BY ts), 0)';
      await con.run(`CREATE TABLE ${StoreTable.bars} AS
        SELECT run_id, ts, symbol, price, position_qty, position_value, ${tradeQty} AS trade_qty, fees, pnl
        FROM (${inner}) ORDER BY run_id, symbol, ts`);
    });

    await step('validating bars', d.bars.location, 0.4, async () => {
      const keyNames = { run_id: barsCols.get('run_id')?.name ?? '(default)', symbol: barsCols.get('symbol')!.name, ts: barsCols.get('ts')!.name };
      const r = await con.runAndReadAll(`SELECT count(*) FILTER (WHERE run_id IS NULL) AS run_id,
          count(*) FILTER (WHERE symbol IS NULL) AS symbol, count(*) FILTER (WHERE ts IS NULL) AS ts, count(*) AS n
        FROM ${StoreTable.bars}`);
      const row = r.getRowObjectsJson()[0]!;
      if (Number(row['n']) === 0) throw new PrepareError(`bars in ${d.bars.location}: no rows`);
      for (const k of ['run_id', 'symbol', 'ts'] as const) {
        const n = Number(row[k]);
        if (n > 0) {
          throw new PrepareError(`bars in ${d.bars.location}: key column '${keyNames[k]}' (${k}) has ${n} null value(s)`);
        }
      }
      const dup = await con.runAndReadAll(`SELECT run_id, symbol, ts::VARCHAR AS ts, count(*) AS n FROM ${StoreTable.bars}
        GROUP BY run_id, symbol, ts HAVING count(*) > 1 LIMIT 1`);
      const dupRow = dup.getRowObjectsJson()[0];
      if (dupRow) {
        throw new PrepareError(
          `bars in ${d.bars.location}: duplicate key (run_id, symbol, ts) = (${String(dupRow['run_id'])}, ${String(dupRow['symbol'])}, ${String(dupRow['ts'])}) appears ${String(dupRow['n'])} times; columns ${keyNames.run_id}, ${keyNames.symbol}, ${keyNames.ts} must be unique together`,
        );
      }
    });

    // ---- dimensions
    await step('dimensions', d.symbols?.location ?? d.bars.location, 0.45, async () => {
      const fromFile = d.symbols && symCols
        ? `SELECT ${ident(symCols.get('symbol')!.name)}::VARCHAR AS symbol,
             ${symCols.has('sector') ? `${ident(symCols.get('sector')!.name)}::VARCHAR` : 'NULL::VARCHAR'} AS sector,
             ${symCols.has('industry') ? `${ident(symCols.get('industry')!.name)}::VARCHAR` : 'NULL::VARCHAR'} AS industry
           FROM ${readParquetSql(d.symbols)}`
        : `SELECT NULL::VARCHAR AS symbol, NULL::VARCHAR AS sector, NULL::VARCHAR AS industry WHERE false`;
      await con.run(`CREATE TABLE ${StoreTable.symbols} AS
        WITH f AS (SELECT symbol, any_value(sector) AS sector, any_value(industry) AS industry FROM (${fromFile}) WHERE symbol IS NOT NULL GROUP BY symbol),
        b AS (SELECT DISTINCT symbol FROM ${StoreTable.bars})
        SELECT coalesce(f.symbol, b.symbol) AS symbol, coalesce(f.sector, 'Unknown') AS sector, coalesce(f.industry, 'Unknown') AS industry
        FROM f FULL OUTER JOIN b ON f.symbol = b.symbol
        ORDER BY symbol`);
    });
    await step('dimensions', d.runs?.location ?? d.bars.location, 0.47, async () => {
      let fromFile = `SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS name, NULL::VARCHAR AS params WHERE false`;
      if (d.runs && runCols) {
        const p = runCols.get('params');
        const paramsSql = !p ? 'NULL::VARCHAR' : p.type.toUpperCase() === 'VARCHAR' ? ident(p.name) : `to_json(${ident(p.name)})::VARCHAR`;
        fromFile = `SELECT ${ident(runCols.get('run_id')!.name)}::VARCHAR AS run_id,
            ${runCols.has('name') ? `${ident(runCols.get('name')!.name)}::VARCHAR` : 'NULL::VARCHAR'} AS name, ${paramsSql} AS params
          FROM ${readParquetSql(d.runs)}`;
      }
      await con.run(`CREATE TABLE ${StoreTable.runs} AS
        WITH f AS (SELECT run_id, any_value(name) AS name, any_value(params) AS params FROM (${fromFile}) WHERE run_id IS NOT NULL GROUP BY run_id),
        b AS (SELECT DISTINCT run_id FROM ${StoreTable.bars})
        SELECT coalesce(f.run_id, b.run_id) AS run_id, coalesce(f.name, f.run_id, b.run_id) AS name, f.params AS params
        FROM f FULL OUTER JOIN b ON f.run_id = b.run_id
        ORDER BY run_id`);
    });

    // ---- trades
    await step('trades', d.trades?.location ?? '(no trades input)', 0.5, async () => {
      const empty = `SELECT NULL::VARCHAR AS run_id, NULL::BIGINT AS trade_id, NULL::VARCHAR AS symbol, NULL::VARCHAR AS side,
          NULL::TIMESTAMP AS entry_ts, NULL::TIMESTAMP AS exit_ts, NULL::DOUBLE AS qty, NULL::DOUBLE AS entry_price,
          NULL::DOUBLE AS exit_price, NULL::DOUBLE AS fees, NULL::DOUBLE AS pnl, NULL::DOUBLE AS ret,
          NULL::BIGINT AS bars_held, NULL::DOUBLE AS mae, NULL::DOUBLE AS mfe, NULL::VARCHAR AS tag WHERE false`;
      if (!d.trades || !tradesCols) {
        await con.run(`CREATE TABLE ${StoreTable.trades} AS ${empty}`);
        return;
      }
      const c = (k: string) => ident(tradesCols.get(k)!.name);
      const has = (k: string) => tradesCols.has(k);
      const num = (k: string) => (has(k) ? `${c(k)}::DOUBLE` : 'NULL::DOUBLE');
      const qty = num('qty');
      const side = has('side')
        ? `CASE lower(${c('side')}::VARCHAR) WHEN 'buy' THEN 'long' WHEN 'sell' THEN 'short' WHEN '1' THEN 'long' WHEN '-1' THEN 'short'
             ELSE lower(${c('side')}::VARCHAR) END`
        : `CASE WHEN ${qty} < 0 THEN 'short' ELSE 'long' END`;
      await con.run(`CREATE TABLE ${StoreTable.trades} AS
        SELECT run_id,
          coalesce(trade_id, row_number() OVER (PARTITION BY run_id ORDER BY entry_ts, symbol)) AS trade_id,
          symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price, fees, pnl, ret, bars_held, mae, mfe, tag
        FROM (
          SELECT ${has('run_id') ? `${c('run_id')}::VARCHAR` : sqlString(DEFAULT_RUN_ID)} AS run_id,
            ${has('trade_id') ? `${c('trade_id')}::BIGINT` : 'NULL::BIGINT'} AS trade_id,
            ${c('symbol')}::VARCHAR AS symbol, ${side} AS side,
            ${tsExpr(tradesCols.get('entry_ts')!, notes)} AS entry_ts,
            ${has('exit_ts') ? tsExpr(tradesCols.get('exit_ts')!, notes) : 'NULL::TIMESTAMP'} AS exit_ts,
            abs(${qty}) AS qty, ${num('entry_price')} AS entry_price, ${num('exit_price')} AS exit_price,
            ${num('fees')} AS fees, ${num('pnl')} AS pnl, ${num('ret')} AS ret,
            ${has('bars_held') ? `${c('bars_held')}::BIGINT` : 'NULL::BIGINT'} AS bars_held,
            ${num('mae')} AS mae, ${num('mfe')} AS mfe,
            ${has('tag') ? `${c('tag')}::VARCHAR` : 'NULL::VARCHAR'} AS tag
          FROM ${readParquetSql(d.trades)}
        )
        ORDER BY run_id, symbol, entry_ts, trade_id`);
    });

    // ---- rollups (server/prepare/rollups.ts), after trades so that a rollup may use them
    for (const [i, rollup] of ROLLUPS.entries()) {
      await step('rollups', `${rollup.table} from ${d.bars.location}`, 0.82 + (0.1 * i) / ROLLUPS.length, async () => {
        await con.run(`CREATE TABLE ${rollup.table} AS ${rollup.select}`);
      });
    }

    // ---- meta
    await step('publishing', file, 0.93, async () => {
      const inputs = [d.bars, d.trades, d.symbols, d.runs].filter((s): s is Source => s !== null).map((s) => s.location);
      const note = notes.size > 0 ? [...notes].join('; ') : 'naive timestamps taken as UTC';
      await con.run(`CREATE TABLE ${META_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)`);
      const rows: [string, string][] = [
        [MetaKey.formatVersion, String(STORE_FORMAT_VERSION)],
        [MetaKey.fingerprint, fingerprint],
        [MetaKey.createdAt, new Date().toISOString()],
        [MetaKey.inputs, JSON.stringify(inputs)],
        [MetaKey.timezoneNote, note],
      ];
      await con.run(`INSERT INTO ${META_TABLE} VALUES ${rows.map(([k, v]) => `(${sqlString(k)}, ${sqlString(v)})`).join(', ')}`);
      await con.run('CHECKPOINT');
    });
  } catch (err) {
    if (err instanceof PrepareError) throw err;
    throw new PrepareError(`preparing ${opts.input}: ${phase} failed (${source}): ${errorMessage(err)}`, { cause: err });
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}
