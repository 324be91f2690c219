// The build of one store file: inspect every input, read it into DuckDB (Parquet directly, Arrow
// IPC staged), then the base tables in order (bars, checked; symbols and runs; trades, checked;
// or, when the input has trades and no bars, trades first and bars derived from them:
// trade-bars.ts), the rollups (rollups.ts) and the meta table. Every failure is a PrepareError naming the phase
// and the input being read.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { META_TABLE, MetaKey, STORE_FORMAT_VERSION, StoreTable } from '../store/format.js';
import { sqlString } from '../sql/text.js';
import { checkBars, checkTimestampText, checkTrades, presortedOrder, probeFiles, rowLocator } from './checks.js';
import { PrepareError } from './errors.js';
import { selectList, tableExprs, timezoneNote, type ExprContext } from './expressions.js';
import { TABLE_KINDS, sourceLabel, type ResolvedInputs } from './inputs/index.js';
import { applyToPositionValues } from './multipliers.js';
import { DataQuality, writeDataQuality } from './data-quality.js';
import { canonicalDescription, type LocatedDescription } from './description.js';
import { defaultMemoryLimit, duckdbMemoryLimit } from './memory.js';
import { runTracked, type Progress } from './progress.js';
import { ROLLUPS, buildRollup } from './rollups.js';
import { recordCapital } from './capital.js';
import { columnSources, writeColumnSources } from './column-sources.js';
import { DERIVABLE_TRADE_FIELDS, deriveTradeFields, type DerivedField } from './derive-trades.js';
import { defineExchangeTime, exchangeZone, writeExchangeZone } from './exchange-zone.js';
import { reconcileTrades } from './reconcile.js';
import { barPeriod } from './bar-period.js';
import { barsFromTrades, dropTradeBarsStaging } from './trade-bars.js';
import { buildBenchmark } from './benchmark.js';
import { inspectInputs, writeFormatRecord } from './formats/index.js';
import { buildRelation, readParquetFiles, stagedArrowRelation } from './table-input.js';
import type { TableInput } from './table-input-shape.js';
import { readTextDates } from './text-dates.js';

/** The relative cost of each phase, scaled by the share of the data it reads (bars, trades, Arrow). */
const WEIGHTS = { inspect: 0.01, stage: 0.3, orderCheck: 0.1, sortBars: 1.0, copyBars: 0.3, checkBars: 0.1, dims: 0.02, trades: 1.2, rollups: 1.3, checkpoint: 0.15 } as const;

/** Above this many bars files the presorted check is not tried (one probe query per file). */
const PRESORTED_MAX_FILES = 256;

export interface BuildOptions {
  /** The store file to write (a temporary path, published by the caller). */
  file: string;
  resolved: ResolvedInputs;
  /** The dataset description (tickscope.json or --mapping) and where it is. */
  described: LocatedDescription;
  fingerprint: string;
  memoryLimit?: string;
  threads?: number;
  /** Where DuckDB spills. */
  tempDir: string;
}

export async function buildStore(o: BuildOptions, progress: Progress): Promise<{ note: string; rows: number; quality: DataQuality }> {
  const description = o.described.description;
  const quality = new DataQuality(description.onBadRows ?? 'fail', o.described.path);
  const label = o.resolved.inputs.join(', ');
  let phase = 'opening the store';
  let source = o.file;
  let inst: DuckDBInstance;
  let con: DuckDBConnection;
  try {
    inst = await DuckDBInstance.create(o.file, {
      access_mode: 'READ_WRITE',
      memory_limit: duckdbMemoryLimit(o.memoryLimit ?? defaultMemoryLimit()),
      temp_directory: o.tempDir,
      ...(o.threads ? { threads: String(Math.max(1, Math.floor(o.threads))) } : {}),
    });
    con = await inst.connect();
  } catch (err) {
    throw new PrepareError(`preparing ${label}: ${phase} failed (${source}): ${errorMessage(err)}`, { cause: err });
  }
  const step = (name: string, src: string, weight: number, totalRows: number | null) => {
    phase = name;
    source = src;
    progress.begin(name, weight, totalRows, src);
  };
  try {
    await con.run(`SET TimeZone = 'UTC'`);
    await con.run(`SET preserve_insertion_order = true`);
    await con.run(`SET enable_progress_bar = true`);
    await con.run(`SET enable_progress_bar_print = false`);
    const ctx: ExprContext = { notes: new Map(), timezone: description.timezone ?? null };
    if (ctx.timezone) {
      try {
        await con.run(`SELECT timezone(${sqlString(ctx.timezone)}, TIMESTAMP '2000-01-01')`);
      } catch (err) {
        throw new PrepareError(`mapping: unknown time zone '${ctx.timezone}' (use an IANA name such as America/New_York)`, { cause: err });
      }
    }

    // ---- inspect every input (footers and schemas only)
    step('checking inputs', label, WEIGHTS.inspect, null);
    // Files a format adapter recognises (formats/) are staged into canonical tables here; the
    // rest are inspected the canonical way.
    const { tables, barsOrigin, formats, sources: formatSources, multipliers } = await inspectInputs(con, o.resolved, description);
    // Contract multipliers (staged before the adapters): MAE and MFE written as money use them too.
    if (multipliers) ctx.multipliers = multipliers;
    // The exchange zone (exchange-zone.ts) from the inputs' column types: bars derived from trades
    // are days in it.
    const zone = await exchangeZone(con, description.timezone, TABLE_KINDS.map((k) => tables[k]));
    await defineExchangeTime(con, zone.zone);
    const trades = tables.trades;
    // Without bars in the input (barsOrigin 'trades'), the trades are built first and the bars
    // derived from them (trade-bars.ts); their size is about the trades'.
    const barsRows = tables.bars?.rows ?? trades?.rows ?? 0;
    const arrowBytes = TABLE_KINDS.reduce((n, k) => n + (tables[k]?.arrow.reduce((m, f) => m + f.size, 0) ?? 0), 0);
    const parquetBytes = TABLE_KINDS.reduce((n, k) => n + (tables[k]?.parquet.reduce((m, f) => m + f.size, 0) ?? 0), 0);
    const arrowShare = arrowBytes / Math.max(1, arrowBytes + parquetBytes);
    const arrowFiles = TABLE_KINDS.reduce((n, k) => n + (tables[k]?.arrow.length ?? 0), 0);
    const tradeShare = trades ? Math.max(0.02, trades.rows / Math.max(1, barsRows + trades.rows)) : 0;
    const given = tables.bars;
    const mayBePresorted = given !== null && given.arrow.length === 0 && given.text.length === 0 && given.parquet.length > 0 && given.resolved.has('trade_qty') && given.parquet.length <= PRESORTED_MAX_FILES;
    progress.setTotal(
      WEIGHTS.inspect +
        WEIGHTS.stage * arrowShare +
        ((mayBePresorted ? WEIGHTS.orderCheck + WEIGHTS.copyBars : WEIGHTS.sortBars) + WEIGHTS.checkBars + WEIGHTS.rollups + WEIGHTS.checkpoint) * (1 - tradeShare) +
        WEIGHTS.dims +
        WEIGHTS.trades * tradeShare,
    );

    // ---- every table as one relation; Arrow IPC inputs staged into DuckDB temp tables first
    for (const kind of TABLE_KINDS) {
      const t = tables[kind];
      if (!t || t.relation) continue; // staged by a format adapter, or for the adapters (the symbols' multipliers)
      if (t.arrow.length) step(`reading Arrow ${kind}`, t.arrow.length === 1 ? t.arrow[0]!.path : t.source.location, (WEIGHTS.stage * arrowShare * t.arrow.length) / Math.max(1, arrowFiles), null);
      await buildRelation(con, t, (n) => progress.update(0.5, n));
    }

    // Text timestamps as spreadsheets and brokers write them (01/02/2024 9:35 AM, 2024.01.02,
    // 20240102): their form is read from the data before any expression over them is made.
    for (const kind of TABLE_KINDS) {
      const t = tables[kind];
      if (t?.relation) await readTextDates(con, t, description.dateOrder);
    }

    const locate = rowLocator(con, ctx);

    // ---- trades: sorted by (run_id, symbol, entry_ts); checked
    const tradesStep = async () => {
      step('sorting trades', trades?.source.location ?? '(no trades input)', WEIGHTS.trades * tradeShare, trades?.rows ?? 0);
      if (trades) {
        await checkTimestampText(con, trades, ctx, locate, quality);
        await buildTrades(con, trades, ctx, progress);
        await checkTrades(con, trades, locate, quality);
        progress.update(1);
      } else {
        await con.run(`CREATE TABLE ${StoreTable.trades} AS ${NO_TRADES}`);
      }
    };
    let bars: TableInput;
    if (tables.bars) bars = tables.bars;
    else {
      await tradesStep();
      // Bad trades are refused (or dropped) before bars are made of them.
      quality.failIfRefused();
      step('bars from trades', trades!.source.location, 0, trades!.rows);
      bars = await barsFromTrades(con, trades!, zone.zone);
    }

    // ---- bars: sorted by (run_id, symbol, ts). When the input already is (files sorted inside,
    // not overlapping, which is how most backtesters write), prove it with one streaming pass and
    // copy the rows in that order instead of sorting them again.
    let presorted = false;
    if (mayBePresorted) {
      step('checking bars order', bars.source.location, WEIGHTS.orderCheck * (1 - tradeShare), bars.rows);
      const ordered = await presortedOrder(con, bars, ctx, progress);
      if (ordered) {
        presorted = true;
        bars.parquet = ordered;
        bars.relation = `(SELECT * FROM ${readParquetFiles(bars, ordered, { unionByName: true })})`;
      }
    }
    step(presorted ? 'copying bars (input already sorted)' : 'sorting bars', bars.source.location, (presorted ? WEIGHTS.copyBars : WEIGHTS.sortBars) * (1 - tradeShare), bars.rows);
    await checkTimestampText(con, bars, ctx, locate, quality);
    await buildBars(con, bars, ctx, progress, presorted);

    step('checking bars', bars.source.location, WEIGHTS.checkBars * (1 - tradeShare), bars.rows);
    // Strictly increasing keys (proven above when presorted) have no duplicates to look for.
    await checkBars(con, bars, locate, progress, !presorted, quality);

    // ---- dimensions
    step('dimensions', tables.symbols?.source.location ?? bars.source.location, WEIGHTS.dims / 2, null);
    await buildDimension(con, SYMBOLS, tables.symbols, ctx);
    step('dimensions', tables.runs?.source.location ?? bars.source.location, WEIGHTS.dims / 2, null);
    await buildDimension(con, RUNS, tables.runs, ctx);

    if (barsOrigin === 'trades') await dropTradeBarsStaging(con);
    else await tradesStep();
    // A position's value is quantity x price x multiplier where Tickscope made it (multipliers.ts).
    const derivedPositionValues = barsOrigin === 'trades' || !bars.resolved.has('position_value');
    if (derivedPositionValues) await applyToPositionValues(con, ctx);
    // Under onBadRows "fail", every bad row of bars and trades refused in one error.
    quality.failIfRefused();

    // ---- trade fields the input lacks and the bars give (derive-trades.ts): only the return when
    // the bars were made of the trades; the capital base of each run (capital.ts)
    const period = await barPeriod(con);
    let derived: DerivedField[] = [];
    if (trades) {
      step('deriving trade fields', trades.source.location, 0, trades.rows);
      derived = await deriveTradeFields(con, trades, bars, period, progress, barsOrigin === 'trades' ? ['ret'] : DERIVABLE_TRADE_FIELDS);
    }
    await recordCapital(con, description.capital);

    // ---- rollups (server/prepare/rollups.ts), after trades so that a rollup may use them
    const rollupWeight = (WEIGHTS.rollups * (1 - tradeShare)) / Math.max(1, ROLLUPS.length);
    for (const rollup of ROLLUPS) {
      step('rollups', `${rollup.table} from ${bars.source.location}`, rollupWeight, null);
      await buildRollup(con, rollup, progress);
    }
    if (barsOrigin !== 'trades') {
      step('reconciling trades with bars', trades?.source.location ?? bars.source.location, 0, null);
      for (const finding of await reconcileTrades(con, period)) quality.finding(finding);
    }

    // ---- meta, then make the file self-contained
    step('writing the store', o.file, WEIGHTS.checkpoint * (1 - tradeShare), null);
    const note = timezoneNote(ctx);
    // A format adapter stages several tables from one folder: list each input location once.
    const inputs = [...new Set(TABLE_KINDS.flatMap((k) => tables[k]?.source.location ?? []))];
    await writeMeta(con, o.fingerprint, inputs, note, o.described);
    await writeFormatRecord(con, formats, formatSources);
    // The benchmark is what the rollups' market_day or symbol_day give, or a file (benchmark.ts).
    await buildBenchmark(con, o.described, o.resolved.benchmark ?? []);
    await writeExchangeZone(con, zone);
    await writeColumnSources(con, columnSources(bars, trades, derived, barsOrigin, ctx.multipliers !== undefined));
    await con.run(`INSERT INTO ${META_TABLE} VALUES (${sqlString(MetaKey.barsOrigin)}, ${sqlString(barsOrigin)}), (${sqlString(MetaKey.barPeriod)}, ${sqlString(period)})`);
    await writeDataQuality(con, quality.entries);
    for (const kind of TABLE_KINDS) if (tables[kind]?.arrow.length) await con.run(`DROP TABLE IF EXISTS ${stagedArrowRelation(kind)}`);
    await con.run('CHECKPOINT');
    return { note, rows: (tables.bars?.rows ?? 0) + (trades?.rows ?? 0), quality };
  } catch (err) {
    if (err instanceof PrepareError) throw err;
    throw new PrepareError(`preparing ${label}: ${phase} failed (${source}): ${errorMessage(err)}`, { cause: err });
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

/** The bars table, sorted by (run_id, symbol, ts) unless the input is already. */
async function buildBars(con: DuckDBConnection, bars: TableInput, ctx: ExprContext, progress: Progress, presorted: boolean): Promise<void> {
  // Without a trade column, what was traded is the change of position since the bar before.
  const tradeQty = bars.resolved.has('trade_qty')
    ? 'trade_qty'
    : 'position_qty - coalesce(lag(position_qty) OVER (PARTITION BY run_id, symbol ORDER BY ts), 0)';
  const sql = `CREATE TABLE ${StoreTable.bars} AS
    SELECT run_id, ts, symbol, price, position_qty, position_value, ${tradeQty} AS trade_qty, fees, pnl
    FROM (SELECT ${selectList(tableExprs(bars, ctx))} FROM ${bars.relation})
    ${presorted ? '' : 'ORDER BY run_id, symbol, ts'}`;
  try {
    await runTracked(con, sql, progress, presorted ? 0.95 : 0.6);
  } catch (err) {
    throw (await probeFiles(con, bars, ctx, err)) ?? err;
  }
}

/** A dimension table: one row per key, from its own input if any, and every key the bars have. */
interface Dimension {
  table: string;
  key: string;
  /** Its other columns as read from its input (named as in tableExprs). */
  attributes: string[];
  /** The table's columns besides the key, over the CTEs from_input and from_bars. */
  columns: string;
  /**
   * Keep the order its input lists the keys in (an `input_order` column: the row of its first
   * appearance; NULL for keys only the bars have, which come after, by key). Otherwise by key.
   */
  inputOrder?: boolean;
}

const SYMBOLS: Dimension = {
  table: StoreTable.symbols,
  key: 'symbol',
  attributes: ['sector', 'industry', 'multiplier'],
  columns: `coalesce(from_input.sector, 'Unknown') AS sector, coalesce(from_input.industry, 'Unknown') AS industry,
    coalesce(from_input.multiplier::DOUBLE, 1.0) AS multiplier`,
};

const RUNS: Dimension = {
  table: StoreTable.runs,
  key: 'run_id',
  attributes: ['name', 'params', 'capital'],
  // run_key: the run's number by run_id (format.ts says what it is for).
  columns: `coalesce(from_input.name, from_input.run_id, from_bars.run_id) AS name, from_input.params AS params, from_input.capital AS capital,
    (row_number() OVER (ORDER BY coalesce(from_input.run_id, from_bars.run_id)))::INTEGER AS run_key`,
  // Runs are shown in the order the runs table lists them (a sweep's grid order, say).
  inputOrder: true,
};

async function buildDimension(con: DuckDBConnection, dim: Dimension, t: TableInput | null, ctx: ExprContext): Promise<void> {
  const { key } = dim;
  // The position of each row in its input (a runs table has a row per run: read in one scan).
  const position = dim.inputOrder ? ', row_number() OVER () AS input_order' : '';
  const rows = t
    ? `SELECT ${selectList(tableExprs(t, ctx))}${position} FROM ${t.relation}`
    : `SELECT ${[key, ...dim.attributes].map((c) => `NULL::VARCHAR AS ${c}`).join(', ')}${dim.inputOrder ? ', NULL::BIGINT AS input_order' : ''} WHERE false`;
  try {
    await con.run(`CREATE TABLE ${dim.table} AS
      WITH from_input AS (
        SELECT ${key}, ${dim.attributes.map((a) => `any_value(${a}) AS ${a}`).join(', ')}${dim.inputOrder ? ', min(input_order) AS input_order' : ''}
        FROM (${rows}) WHERE ${key} IS NOT NULL GROUP BY ${key}
      ),
      from_bars AS (SELECT DISTINCT ${key} FROM ${StoreTable.bars})
      SELECT coalesce(from_input.${key}, from_bars.${key}) AS ${key}, ${dim.columns}${dim.inputOrder ? ', from_input.input_order AS input_order' : ''}
      FROM from_input FULL OUTER JOIN from_bars ON from_input.${key} = from_bars.${key}
      ORDER BY ${dim.inputOrder ? 'from_input.input_order NULLS LAST, ' : ''}${key}`);
  } catch (err) {
    if (t) throw new PrepareError(`${t.source.kind} in ${sourceLabel(t.source)}: cannot be read: ${errorMessage(err)}`, { cause: err });
    throw err;
  }
}

/** The trades table of a dataset without trades: its columns, no rows. */
const NO_TRADES = `SELECT NULL::VARCHAR AS run_id, NULL::BIGINT AS trade_id, NULL::VARCHAR AS symbol, NULL::VARCHAR AS side,
    NULL::TIMESTAMP AS entry_ts, NULL::TIMESTAMP AS exit_ts, NULL::DOUBLE AS qty, NULL::DOUBLE AS entry_price,
    NULL::DOUBLE AS exit_price, NULL::DOUBLE AS fees, NULL::DOUBLE AS pnl, NULL::DOUBLE AS ret,
    NULL::BIGINT AS bars_held, NULL::DOUBLE AS mae, NULL::DOUBLE AS mfe, NULL::VARCHAR AS tag WHERE false`;

/** The trades table, sorted by (run_id, symbol, entry_ts); trades without an id are numbered per run. */
async function buildTrades(con: DuckDBConnection, t: TableInput, ctx: ExprContext, progress: Progress): Promise<void> {
  const sql = `CREATE TABLE ${StoreTable.trades} AS
    SELECT run_id,
      coalesce(trade_id, row_number() OVER (PARTITION BY run_id ORDER BY entry_ts, symbol, exit_ts NULLS LAST, side, qty, entry_price, pnl)) AS trade_id,
      symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price, fees, pnl, ret, bars_held, mae, mfe, tag
    FROM (SELECT ${selectList(tableExprs(t, ctx))} FROM ${t.relation})
    ORDER BY run_id, symbol, entry_ts, trade_id`;
  try {
    await runTracked(con, sql, progress, 0.7);
  } catch (err) {
    throw (await probeFiles(con, t, ctx, err)) ?? err;
  }
}

async function writeMeta(con: DuckDBConnection, fingerprint: string, inputs: string[], note: string, described: LocatedDescription): Promise<void> {
  await con.run(`CREATE TABLE ${META_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)`);
  const rows: [string, string][] = [
    [MetaKey.formatVersion, String(STORE_FORMAT_VERSION)],
    [MetaKey.fingerprint, fingerprint],
    [MetaKey.createdAt, new Date().toISOString()],
    [MetaKey.inputs, JSON.stringify(inputs)],
    [MetaKey.timezoneNote, note],
    [MetaKey.description, canonicalDescription(described.description)],
    [MetaKey.descriptionPath, described.path],
  ];
  await con.run(`INSERT INTO ${META_TABLE} VALUES ${rows.map(([k, v]) => `(${sqlString(k)}, ${sqlString(v)})`).join(', ')}`);
}
