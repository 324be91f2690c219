// Opens a prepared store READ_ONLY for one session. Many session processes open the same file at
// once; DuckDB's READ_ONLY mode lets them share it through the OS page cache. What a query spills
// beyond the session's memory_limit goes to a folder of the instance's own (process-folders.ts):
// DuckDB's default, `<store>.tmp`, is one folder for every process of the store, and its spill
// files are named per instance (duckdb_temp_storage_S64K-0.tmp), so sessions spilling at once
// overwrote and removed each other's blocks ("Corrupt temporary file: decompressed block is 0
// bytes", "Could not remove file ...": eight sessions at 48 MiB, 9 of 1,252 answers failed).
//
// Opening also reads the store's catalog: the runs (with the capital base of their returns, as
// preparation recorded it), the exchange time zone, the
// sectors, symbols and tags (the allow-lists every client value is checked against before it is
// bound into SQL) and the trading days with their first and last bar (how a time range is split
// into whole days, answered from day rollups, and cut days, answered from bar tables).
import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import type { ColumnSource, DatasetSchema, RunInfo } from '../../shared/messages.js';
import { TradingTime, type TradingCalendar } from '../../shared/trading-time.js';
import { BARS_ORIGINS, META_TABLE, MetaKey, STORE_FORMAT_VERSION, StoreTable, type BarsOrigin } from '../store/format.js';
import { MANIFEST_SUFFIX, segmentSchema, segmentViewSelect, type SegmentManifest } from '../store/segments.js';
import { sqlString } from '../sql/text.js';
import { makeProcessFolder } from './process-folders.js';

export interface TradingDay {
  /** ISO date (UTC), e.g. "2024-01-02". */
  iso: string;
  /** First and last bar timestamp of the day over every run, epoch ms. */
  first: number;
  last: number;
}

/** Midnight UTC of an ISO date, epoch ms: where a trading day's rollup row starts (rollups key days by ts::DATE). */
export function midnightOf(isoDay: string): number {
  return Date.parse(`${isoDay}T00:00:00Z`);
}

export interface Catalog {
  runs: ReadonlyMap<string, RunInfo>;
  /** Each run's run_key (format.ts): the integer the rollups' rows carry, what prunes a run's rows. */
  runKeys: ReadonlyMap<string, number>;
  sectors: ReadonlySet<string>;
  /** symbol -> sector */
  symbols: ReadonlyMap<string, string>;
  tags: ReadonlySet<string>;
  /** Trading days, ascending. */
  days: readonly TradingDay[];
  /** The trading days and bar interval, as the hello message carries them. */
  calendar: TradingCalendar;
  /** The time axis of the charts (closed hours taken out): M4 picks its pixel columns over it. */
  tradingTime: TradingTime;
  /** Rows of trade_list: its ranks run 0..tradeCount-1 under every sort column when tradeRanks. */
  tradeCount: number;
  /**
   * Whether trade_list's rk_<c> rank every trade of the dataset (one store). A dataset in
   * segments (server/store/segments.ts) reads the union of each segment's trade_list, ranked
   * apart: planners must then sort by the columns themselves.
   */
  tradeRanks: boolean;
  /** The exchange time zone (IANA; 'UTC' when none is known) the hour breakdown is in. */
  timezone: { zone: string; source: string };
  /** Where the bars came from and whether they are daily (DatasetSchema.bars). */
  bars: DatasetSchema['bars'];
  /** What benchmark_day holds (meta `benchmark`), and the dataset's annual risk-free rate. */
  benchmark: DatasetSchema['benchmark'];
  riskFreeRate: number;
}

export interface OpenStore {
  instance: DuckDBInstance;
  schema: Omit<DatasetSchema, 'id'>;
  catalog: Catalog;
  /** Run ids in the store: the allow-list against which client-supplied run ids are checked. */
  runIds: ReadonlySet<string>;
  close(): void;
}

export interface OpenStoreOptions {
  storePath: string;
  memoryLimit: string;
  threads: number;
}

/**
 * A store path is a store file, or the manifest of a dataset in segments (server/store/segments.ts):
 * then an in-memory database ATTACHes every segment READ_ONLY and views with the canonical table
 * names read their union, so planners and the catalog read one store either way.
 */
export async function openStore({ storePath, memoryLimit, threads }: OpenStoreOptions): Promise<OpenStore> {
  const segmented = storePath.endsWith(MANIFEST_SUFFIX);
  const spillFolder = await makeProcessFolder('spill');
  // Sync: it runs where the instance closes (a shutdown, an idle reopen).
  const removeSpillFolder = () => rmSync(spillFolder, { recursive: true, force: true });
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(segmented ? ':memory:' : storePath, {
      ...(segmented ? {} : { access_mode: 'READ_ONLY' }),
      memory_limit: memoryLimit,
      threads: String(threads),
      temp_directory: spillFolder,
    });
  } catch (error) {
    removeSpillFolder();
    throw new Error(`cannot open prepared store ${storePath}: ${errorMessage(error)}`, { cause: error });
  }
  const connection = await instance.connect();
  try {
    if (segmented) await attachSegments(connection, storePath);
    const version = await readFormatVersion(connection, storePath);
    if (version !== STORE_FORMAT_VERSION) {
      throw new Error(
        `prepared store ${storePath} has format version ${version}, this build reads ${STORE_FORMAT_VERSION}; prepare the dataset again`,
      );
    }
    const catalog = await readCatalog(connection, !segmented);
    const schema = await readSchema(connection, catalog);
    return {
      instance,
      schema,
      catalog,
      runIds: new Set(catalog.runs.keys()),
      close: () => {
        instance.closeSync();
        removeSpillFolder();
      },
    };
  } catch (error) {
    instance.closeSync();
    removeSpillFolder();
    throw error;
  } finally {
    connection.closeSync();
  }
}

/** ATTACHes the segments a manifest lists and creates the union's views (segments.ts's rules). */
async function attachSegments(connection: DuckDBConnection, manifestFile: string): Promise<void> {
  let manifest: SegmentManifest;
  try {
    manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as SegmentManifest;
  } catch (error) {
    throw new Error(`cannot read the segment manifest ${manifestFile}: ${errorMessage(error)}`, { cause: error });
  }
  for (const [i, segment] of manifest.segments.entries()) {
    const file = path.join(path.dirname(manifestFile), segment.store);
    try {
      await connection.run(`ATTACH ${sqlString(file)} AS ${segmentSchema(i)} (READ_ONLY)`);
    } catch (error) {
      throw new Error(`cannot open the prepared segment ${file} of ${manifestFile}: ${errorMessage(error)}`, { cause: error });
    }
  }
  const tables = await connection.runAndReadAll(`SELECT table_name FROM duckdb_tables() WHERE database_name = ${sqlString(segmentSchema(0))} AND schema_name = 'main' ORDER BY table_name`);
  for (const [table] of tables.getRows() as [string][]) {
    const select = segmentViewSelect(String(table), manifest.segments.length);
    if (select !== null) await connection.run(`CREATE VIEW main.${String(table)} AS ${select}`);
  }
}

async function readFormatVersion(connection: DuckDBConnection, storePath: string): Promise<number> {
  try {
    const reader = await connection.runAndReadAll(`SELECT value FROM ${META_TABLE} WHERE key = $key`, {
      key: MetaKey.formatVersion,
    });
    const value = reader.getRows()[0]?.[0];
    return Number(value);
  } catch (error) {
    throw new Error(`prepared store ${storePath} has no readable ${META_TABLE} table: ${errorMessage(error)}`, { cause: error });
  }
}

/**
 * A run's params (JSON text in the store) as flat scalars: the leaderboard's columns and the
 * surface's axes. Nested values stay as their JSON text; a value that is not a JSON object (a
 * tool's free-form label) becomes { params: text }, so nothing the runs table said is hidden.
 */
export function runParams(text: string | null): RunInfo['params'] {
  if (text === null || text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { params: text };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { params: text };
  const flat: RunInfo['params'] = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    flat[key] = value === null || typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' ? value : JSON.stringify(value);
  }
  return flat;
}

async function readCatalog(connection: DuckDBConnection, tradeRanks: boolean): Promise<Catalog> {
  // The capital base is a fact recorded at preparation (server/prepare/capital.ts), with its source.
  const runRows = await connection.runAndReadAll(`
    SELECT run_id, coalesce(name, run_id), capital::DOUBLE, capital_source, params, run_key FROM ${StoreTable.runs} ORDER BY input_order NULLS LAST, run_id`);
  const runs = new Map<string, RunInfo>();
  const runKeys = new Map<string, number>();
  for (const [runId, name, capital, capitalSource, params, runKey] of runRows.getRows() as [string, string, number | null, string | null, string | null, number][]) {
    runKeys.set(String(runId), Number(runKey));
    runs.set(String(runId), {
      runId: String(runId),
      name: String(name),
      capital: capital ?? null,
      capitalSource: String(capitalSource ?? 'none'),
      params: runParams(params),
    });
  }
  const zoneRows = await connection.runAndReadAll(
    `SELECT key, value FROM ${META_TABLE} WHERE key IN ('${MetaKey.exchangeTimezone}', '${MetaKey.exchangeTimezoneSource}', '${MetaKey.benchmark}', '${MetaKey.riskFreeRate}', '${MetaKey.barsOrigin}', '${MetaKey.barPeriod}')`,
  );
  const meta = new Map((zoneRows.getRows() as [string, string][]).map(([k, v]) => [String(k), String(v)]));
  const timezone = { zone: meta.get(MetaKey.exchangeTimezone) ?? 'UTC', source: meta.get(MetaKey.exchangeTimezoneSource) ?? 'none' };
  const origin = meta.get(MetaKey.barsOrigin);
  const bars = {
    origin: (BARS_ORIGINS as readonly string[]).includes(origin ?? '') ? (origin as BarsOrigin) : 'input',
    period: meta.get(MetaKey.barPeriod) === 'day' ? ('day' as const) : ('intraday' as const),
  };
  const symbolRows = await connection.runAndReadAll(`SELECT symbol, sector FROM ${StoreTable.symbols} ORDER BY symbol`);
  const symbols = new Map<string, string>();
  for (const [symbol, sector] of symbolRows.getRows() as [string, string][]) symbols.set(String(symbol), String(sector));
  const tagRows = await connection.runAndReadAll(`SELECT tag FROM ${StoreTable.tradeTags} ORDER BY tag`);
  const tradeCount = await connection.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${StoreTable.tradeList}`);
  // Each day's first and last bar over every run, and the tightest mean spacing of one run's bars
  // that day (the bar interval; a day with a missing bar spaces wider).
  const dayRows = await connection.runAndReadAll(`
    SELECT strftime(day, '%Y-%m-%d'), epoch_ms(min(first_ts))::DOUBLE, epoch_ms(max(last_ts))::DOUBLE,
      min((epoch_ms(last_ts) - epoch_ms(first_ts)) / (bars - 1)) FILTER (WHERE bars > 1)::DOUBLE
    FROM ${StoreTable.portfolioDay} GROUP BY day ORDER BY day`);
  const rows = dayRows.getRows() as [string, number, number, number | null][];
  const days = rows.map(([iso, first, last]) => ({ iso, first, last }));
  const spacings = rows.map((row) => row[3]).filter((s): s is number => s !== null);
  const calendar = tradingCalendar(days, spacings.length > 0 ? Math.min(...spacings) : null);
  return {
    runs,
    runKeys,
    symbols,
    sectors: new Set([...symbols.values()].sort()),
    tags: new Set((tagRows.getRows() as [string][]).map(([tag]) => String(tag))),
    days,
    calendar,
    tradingTime: new TradingTime(calendar),
    tradeCount: Number(tradeCount.getRows()[0]?.[0] ?? 0),
    tradeRanks,
    timezone,
    bars,
    benchmark: JSON.parse(required(meta, MetaKey.benchmark)) as Catalog['benchmark'],
    riskFreeRate: Number(required(meta, MetaKey.riskFreeRate)),
  };
}

/** A meta value every store of this format has. */
function required(meta: ReadonlyMap<string, string>, key: string): string {
  const value = meta.get(key);
  if (value === undefined) throw new Error(`the store's ${META_TABLE} table has no ${key}; prepare the dataset again`);
  return value;
}

/**
 * The trading calendar of `days`. Its bar interval is `spacing` (bars within a day); with one bar a
 * day (daily data), the shortest gap between two days; with a single bar, one minute.
 */
export function tradingCalendar(days: readonly TradingDay[], spacing: number | null): TradingCalendar {
  let barMs = spacing !== null && spacing > 0 ? spacing : Infinity;
  if (!Number.isFinite(barMs)) for (let i = 1; i < days.length; i++) barMs = Math.min(barMs, days[i]!.first - days[i - 1]!.last);
  if (!Number.isFinite(barMs) || barMs <= 0) barMs = 60_000;
  return { barMs, days: days.flatMap((d) => [d.first, d.last]) };
}

async function readSchema(connection: DuckDBConnection, catalog: Catalog): Promise<Omit<DatasetSchema, 'id'>> {
  const counts = await connection.runAndReadAll(`
    SELECT (SELECT count(*) FROM ${StoreTable.bars})::DOUBLE, (SELECT count(*) FROM ${StoreTable.trades})::DOUBLE`);
  const [barCount, tradeCount] = counts.getRows()[0] as (number | null)[];
  const first = catalog.days[0];
  const last = catalog.days.at(-1);
  return {
    runs: [...catalog.runs.values()],
    sectors: [...catalog.sectors],
    tags: [...catalog.tags],
    symbolCount: catalog.symbols.size,
    barCount: barCount ?? 0,
    tradeCount: tradeCount ?? 0,
    dayCount: catalog.days.length,
    range: first && last ? { from: first.first, to: last.last } : null,
    calendar: catalog.calendar,
    timezone: catalog.timezone,
    bars: catalog.bars,
    benchmark: catalog.benchmark,
    riskFreeRate: catalog.riskFreeRate,
    columnSources: await readColumnSources(connection),
  };
}

async function readColumnSources(connection: DuckDBConnection): Promise<ColumnSource[]> {
  const reader = await connection.runAndReadAll(
    `SELECT table_name, column_name, source, input_column, note FROM ${StoreTable.columnSources} ORDER BY table_name, column_name`,
  );
  return (reader.getRows() as [string, string, string, string | null, string | null][]).map(([table, column, source, inputColumn, note]) => ({
    table: table as ColumnSource['table'],
    column: String(column),
    source: source as ColumnSource['source'],
    inputColumn: inputColumn ?? null,
    note: note ?? null,
  }));
}
