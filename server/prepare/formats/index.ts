// The format adapters (adapter.ts says what one is), and how a dataset's files are shared out
// among them. A new format is one new file and one line in FORMAT_ADAPTERS.
import type { DuckDBConnection } from '@duckdb/node-api';
import { META_TABLE, MetaKey, type BarsOrigin } from '../../store/format.js';
import { sqlIdent, sqlString } from '../../sql/text.js';
import type { DatasetDescription } from '../description.js';
import { PrepareError } from '../errors.js';
import { commonFolder, looseKind, noBarsError, stampPath, TABLE_KINDS, type ResolvedInputs, type Source, type TableKind } from '../inputs/index.js';
import { matchColumns, requiredColumns } from '../mapping.js';
import { multiplierSql } from '../expressions.js';
import { stageMultipliers } from '../multipliers.js';
import { SchemaProblems } from '../schema-problems.js';
import { inspectTables, requireColumns, stagedTableInput } from '../table-input.js';
import type { TableInput } from '../table-input-shape.js';
import type { CandidateFile, Confidence, FormatAdapter, FormatDescription, Recognised, StagedTables } from './adapter.js';
import { fileRelation, knownColumns, readCandidates } from './candidates.js';
import { amibrokerAdapter } from './amibroker.js';
import { fillsAdapter } from './fills.js';
import { freqtradeAdapter } from './freqtrade.js';
import { leanAdapter } from './lean.js';
import { metatraderDealsAdapter } from './metatrader-deals.js';
import { metatraderAdapter } from './metatrader.js';
import { metatrader4TesterAdapter } from './metatrader4-tester.js';
import { nautilusAdapter } from './nautilus.js';
import { portfolioAdapter } from './portfolio.js';
import { pyfolioAdapter } from './pyfolio.js';
import { tradingviewAdapter } from './tradingview.js';
import { vectorbtAdapter } from './vectorbt.js';
import { ziplineAdapter } from './zipline.js';

/**
 * Every adapter, in the order they are asked (adapter.ts, step 2). Order matters only between two
 * `likely` detections of the same file: put the more specific format first (the portfolio-only
 * series, which claims any lone returns or equity file, comes last).
 */
export const FORMAT_ADAPTERS: readonly FormatAdapter<unknown>[] = [pyfolioAdapter, vectorbtAdapter, leanAdapter, nautilusAdapter, tradingviewAdapter, amibrokerAdapter, metatraderAdapter, metatraderDealsAdapter, metatrader4TesterAdapter, ziplineAdapter, freqtradeAdapter, fillsAdapter, portfolioAdapter];

const CONFIDENCE_ORDER: readonly Confidence[] = ['certain', 'likely'];

export interface Recognition {
  recognised: Recognised[];
  /** The files no adapter claimed: read the canonical way. */
  rest: CandidateFile[];
}

/** Shares the files out: `certain` detections first, then `likely` ones over what is left. */
export function recogniseFormats(files: readonly CandidateFile[], adapters: readonly FormatAdapter<unknown>[] = FORMAT_ADAPTERS): Recognition {
  let rest = [...files];
  const recognised: Recognised[] = [];
  for (const level of CONFIDENCE_ORDER) {
    for (const adapter of adapters) {
      if (recognised.some((r) => r.adapter === adapter) || rest.length === 0) continue;
      const detection = adapter.detect(rest, recognised);
      if (!detection || detection.confidence !== level || detection.files.length === 0) continue;
      recognised.push({ adapter, detection });
      const claimed = new Set(detection.files.map((f) => f.path));
      rest = rest.filter((f) => !claimed.has(f.path));
    }
  }
  return { recognised, rest };
}

/**
 * What a recognised format is, its files named as the user knows them: a document or table
 * unpacked from an archive, report or workbook by `<source>!<member>` (stampPath), not by the
 * temporary folder it was written into.
 */
export function describeRecognised(r: Recognised): FormatDescription {
  const described = r.adapter.describe(r.detection);
  const unpacked = r.detection.files.filter((f) => f.archive);
  if (unpacked.length === 0) return described;
  const named = (text: string) => unpacked.reduce((t, f) => t.replaceAll(f.path, stampPath(f)), text);
  return { ...described, summary: named(described.summary), files: described.files.map((f) => ({ ...f, path: named(f.path) })) };
}

/** The canonical tables a stage may give. */
export type StagedKind = Exclude<keyof StagedTables, 'sources'>;
const STAGED_KINDS: readonly StagedKind[] = ['bars', 'trades', 'runs', 'symbols', 'benchmark'];

export interface StagedFormats {
  /** Canonical table -> the temporary relation holding it, and the format it came from. */
  tables: Partial<Record<StagedKind, { relation: string; from: string; adapter: string; files: CandidateFile[] }>>;
  /** Where derived quantities came from, "<format>: <source>" (adapter.ts StagedTables.sources). */
  sources: string[];
}

/** Stages every recognised format; two formats giving the same table is an error naming both. */
export async function stageFormats(con: DuckDBConnection, recognition: Recognition, description: DatasetDescription, multipliers?: string): Promise<StagedFormats> {
  const out: StagedFormats = { tables: {}, sources: [] };
  for (const { adapter, detection } of recognition.recognised) {
    const staged = await adapter.stage(detection, {
      con,
      description,
      table: (name) => `temp.main.${sqlIdent(`_fmt_${adapter.id}_${name}`)}`,
      read: (file) => fileRelation(con, file, `_fmt_${adapter.id}_file_${detection.files.indexOf(file)}`),
      multiplier: (symbol) => (multipliers ? multiplierSql({ multipliers }, symbol) : null),
    });
    const from = adapter.describe(detection).summary;
    for (const kind of STAGED_KINDS) {
      const relation = staged[kind];
      if (!relation) continue;
      const before = out.tables[kind];
      if (before) throw new PrepareError(`two inputs give the ${kind} table: ${before.from} and ${from}; prepare them as separate datasets`);
      out.tables[kind] = { relation, from, adapter: adapter.id, files: detection.files };
    }
    out.sources.push(...staged.sources.map((s) => `${adapter.label}: ${s}`));
  }
  return out;
}

/**
 * The files left to the canonical way, grouped by table: the one their names assign them to, but
 * a file whose name assigns none (DataFile.unnamed) is trades when its columns are a trade list's
 * (tableOfUnnamed), unless the description maps bars columns (then the user said what bars are).
 */
export function canonicalSources(rest: readonly CandidateFile[], description: DatasetDescription = {}): Record<TableKind, Source | null> {
  const out = {} as Record<TableKind, Source | null>;
  // A loose JSON file no adapter claimed is not data (inputs/types.ts DataFile.loose).
  const tabled = rest.filter((f) => !f.loose).map((f) => ({ f, kind: canonicalTableOf(f, description) }));
  for (const kind of TABLE_KINDS) {
    const files = tabled.filter((t) => t.kind === kind).map(({ f: { stem: _s, tableByName: _t, columns: _c, jsonKeys: _j, ...file } }) => file);
    out[kind] = files.length === 0 ? null : { kind, location: files.length === 1 ? files[0]!.path : commonFolder(files.map((f) => f.path)), files };
  }
  return out;
}

/** The table a file no adapter claimed is read as (canonicalSources). */
export function canonicalTableOf(f: CandidateFile, description: DatasetDescription): TableKind {
  return f.tableByName === 'bars' && f.unnamed && !description.bars ? tableOfUnnamed(f) : f.tableByName;
}

/**
 * The table of a file whose name says none: trades when every required trades column is found
 * among its columns by name or alias and not every required bars column is, else bars (whose
 * missing columns are then reported as bars').
 */
export function tableOfUnnamed(f: Pick<CandidateFile, 'path' | 'columns'>): TableKind {
  if (f.columns.length === 0) return 'bars';
  const names = f.columns.map((c) => c.name);
  const has = (kind: TableKind) => {
    const matched = matchColumns(kind, names, undefined, () => f.path);
    return requiredColumns(kind).every((c) => matched.has(c));
  };
  return has('trades') && !has('bars') ? 'trades' : 'bars';
}

/**
 * noBarsError for a dataset whose files gave neither bars nor trades, naming what was there and
 * not read: `rest`'s JSON documents no format recognised (by the path that names them stably).
 */
export function noDataError(resolved: ResolvedInputs, canonical: Record<TableKind, Source | null>, formats: readonly FormatDescription[], rest: readonly CandidateFile[]): PrepareError {
  const unrecognised = rest
    .filter((f) => f.loose)
    .map((f) => ({ path: stampPath(f), keys: f.format === 'json' ? f.jsonKeys : f.columns.map((c) => c.name), kind: looseKind(f) }));
  return noBarsError(resolved, canonical, formats.map((f) => f.summary), unrecognised);
}

/** Every canonical table of a dataset as an input of the build, from the formats and the canonical files. */
export interface DatasetInputs {
  /** bars is null only when trades are given: build.ts then derives the bars from the trades. */
  tables: Record<TableKind, TableInput | null>;
  /** Where the bars come from: an input, a portfolio-only series (portfolio.ts), or the trades. */
  barsOrigin: BarsOrigin;
  /** What each recognised format is, for messages and the store's records. */
  formats: FormatDescription[];
  /** Where derived quantities came from (StagedFormats.sources). */
  sources: string[];
  /** The symbols' contract multipliers other than 1 (multipliers.ts), when there are any. */
  multipliers?: string;
}

/**
 * The build's first step: share the files out among the adapters, stage what they recognised,
 * inspect the rest the canonical way. Throws PrepareError when no input gives bars.
 */
export async function inspectInputs(con: DuckDBConnection, resolved: ResolvedInputs, description: DatasetDescription): Promise<DatasetInputs> {
  const candidates = await readCandidates(con, resolved);
  const recognition = recogniseFormats(candidates);
  const canonical = canonicalSources(recognition.rest, description);
  // Every schema problem of the files read the canonical way, in one error before any row is
  // read (staging reads rows); then those of the staged tables.
  const problems = new SchemaProblems();
  const inspected = await inspectTables(con, canonical, description, problems, knownColumns(candidates));
  problems.throwIfAny();
  const multipliers = await stageMultipliers(con, inspected.symbols);
  const staged = await stageFormats(con, recognition, description, multipliers);
  const tables = {} as Record<TableKind, TableInput | null>;
  for (const kind of TABLE_KINDS) {
    const fromFormat = staged.tables[kind];
    const src = canonical[kind];
    if (fromFormat && src) throw new PrepareError(`two inputs give the ${kind} table: ${fromFormat.from} and ${src.location}; prepare them as separate datasets`);
    if (fromFormat) {
      const paths = fromFormat.files.map(stampPath);
      const location = paths.length === 1 ? paths[0]! : commonFolder(paths);
      tables[kind] = await stagedTableInput(con, { kind, location, files: fromFormat.files }, fromFormat.relation, problems);
    }
    else tables[kind] = inspected[kind];
  }
  if (!tables.bars && tables.trades) requireFillPrices(tables.trades, problems);
  problems.throwIfAny();
  const formats = recognition.recognised.map(describeRecognised);
  if (!tables.bars && !tables.trades) throw noDataError(resolved, canonical, formats, recognition.rest);
  const barsOrigin: BarsOrigin = !tables.bars ? 'trades' : staged.tables.bars?.adapter === portfolioAdapter.id ? 'portfolio' : 'input';
  return { tables, barsOrigin, formats, sources: staged.sources, ...(multipliers ? { multipliers } : {}) };
}

/**
 * Without bars in the input, the bars are made from the trades' entry and exit fills
 * (trade-bars.ts): their prices are then required (the exit's where trades have an exit time).
 */
export function requireFillPrices(trades: TableInput, problems: SchemaProblems): void {
  const needed = trades.resolved.has('exit_ts') ? ['entry_price', 'exit_price'] : ['entry_price'];
  requireColumns(trades, needed, "no bars in the input, so the bars are made from the trades' entry and exit fills, at their prices", problems);
}

/** Records in the store's meta table (MetaKey.formats) what the formats were and what they derived. */
export async function writeFormatRecord(con: DuckDBConnection, formats: readonly FormatDescription[], sources: readonly string[]): Promise<void> {
  const record = JSON.stringify({ formats: formats.map((f) => f.summary), sources });
  await con.run(`INSERT INTO ${META_TABLE} VALUES (${sqlString(MetaKey.formats)}, ${sqlString(record)})`);
}
