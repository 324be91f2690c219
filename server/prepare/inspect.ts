// `tickscope inspect`: what preparation would make of a dataset, without preparing it. Reads the
// files' footers and schemas (formats/candidates.ts) and a few rows of each table, never a whole
// file, and builds nothing: per file the table and format it was recognised as, per table the
// column each canonical column would be read from and why (its own name, an alias, the dataset
// description, a hive partition), what is missing, and a suggested `tickscope.json`. Its schema
// problems are preparation's own (table-input.ts inspectTable into schema-problems.ts): the same
// list, listed per table and per file.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import { unpackFolder } from './archives/index.js';
import { fileReader, sqlIdent, sqlString } from '../sql/text.js';
import { expectedInstead, familyOf, type ColumnInfo, type Family } from './column-types.js';
import { locateDescription, type BadRowPolicy, type DatasetDescription } from './description.js';
import type { CandidateFile, FormatDescription } from './formats/adapter.js';
import { knownColumns, readCandidates } from './formats/candidates.js';
import { canonicalSources, canonicalTableOf, describeRecognised, noDataError, recogniseFormats, requireFillPrices } from './formats/index.js';
import { looseKind, resolveInputs, stampPath, TABLE_KINDS, unreadArchivesText, type FileFormat, type LooseKind, type TableKind } from './inputs/index.js';
import { COLUMNS, normalise, type ColumnKind } from './mapping.js';
import { SchemaProblems, type SchemaProblem } from './schema-problems.js';
import { inspectTables, readFileParts } from './table-input.js';
import type { TableInput } from './table-input-shape.js';

const LOOSE_NAMES: Record<LooseKind, string> = { json: 'a JSON document', report: "a report's table", workbook: "a workbook's sheet", frames: "a frame of a pickle or HDF5 store", archive: "an archive's file" };
import { textDateReadings, type TextDateReading } from './text-dates.js';

/**
 * Where a canonical column comes from; `constant`: no column, one value for every row
 * (InspectedColumn.column holds it); `folder`: each file's folder (a run per folder).
 */
export type ColumnOrigin = 'name' | 'alias' | 'description' | 'hive' | 'constant' | 'folder';

export interface InspectedFile {
  path: string;
  format: FileFormat;
  /** The canonical table it would be read as, or the format adapter that claims it. */
  recognisedAs: string;
  columns: { name: string; type: string }[];
  /** The schema problems naming this file (InspectReport.problems). */
  problems: string[];
}

export interface InspectedColumn {
  canonical: string;
  column: string;
  type: string;
  from: ColumnOrigin;
  /** How text timestamps in it will be read, when in a form text-dates.ts reads (e.g. "month/day/year (...)"). */
  reading?: string;
}

export interface MissingColumn {
  canonical: string;
  required: boolean;
  /** Unused input columns of the type such a column usually has (a timestamp for a time...). */
  likely: string[];
  /** Unused input columns of a type that would do, the likely ones first. */
  candidates: string[];
}

export interface InspectedTable {
  table: TableKind;
  files: string[];
  columns: InspectedColumn[];
  missing: MissingColumn[];
  /** Input columns no canonical column reads. */
  unused: string[];
  /** Up to SAMPLE_ROWS rows of the canonical columns found, as text (not for Arrow IPC files). */
  sample: Record<string, string | null>[];
  /** What stops this table from being prepared as it is (InspectReport.problems of this table). */
  problems: string[];
}

export interface InspectReport {
  inputs: string[];
  description: { path: string; found: boolean; content: DatasetDescription };
  files: InspectedFile[];
  /** What each format adapter recognised (formats/). */
  formats: FormatDescription[];
  tables: InspectedTable[];
  /**
   * Every schema problem of the files read the canonical way, as preparation lists them in its
   * error (a format adapter's files are checked when staged, which a dry run does not do).
   */
  problems: SchemaProblem[];
  /** Whether preparation would find every required column (bad rows are not looked for). */
  ready: boolean;
  /** Why there is nothing to prepare (no bars, trades or recognised format), as prepare says it; null otherwise. */
  noData: string | null;
  /** The archives among the inputs that were not read, as prepare says it beside its result (noData says it when there is no data); null when none. */
  notRead: string | null;
  /** The description to write as tickscope.json: the current one plus the columns inspect could tell. */
  suggestion: DatasetDescription;
}

const SAMPLE_ROWS = 3;

/** The families a column most likely holds for each kind of canonical column, for suggestions. */
const LIKELY_FAMILIES: Record<ColumnKind, readonly Family[]> = {
  'key-string': ['string'],
  string: ['string'],
  timestamp: ['timestamp', 'timestamptz', 'date'],
  number: ['float', 'integer'],
  integer: ['integer'],
  any: ['string', 'other'],
};

export interface InspectOptions {
  inputs: readonly string[];
  mappingFile?: string;
  onBadRows?: BadRowPolicy;
}

export async function inspectDataset(opts: InspectOptions): Promise<InspectReport> {
  // Where zip archives' JSON documents are unpacked (archives/), made only when there are any.
  const unpackTo = unpackFolder();
  try {
    return await inspectUnpackingTo(opts, unpackTo);
  } finally {
    await rm(unpackTo, { recursive: true, force: true });
  }
}

async function inspectUnpackingTo(opts: InspectOptions, unpackTo: string): Promise<InspectReport> {
  const inputs = opts.inputs.map((p) => path.resolve(p));
  const described = await locateDescription({
    inputs,
    ...(opts.mappingFile ? { mappingFile: opts.mappingFile } : {}),
    ...(opts.onBadRows ? { onBadRows: opts.onBadRows } : {}),
  });
  const description = described.description;
  const resolved = await resolveInputs(inputs, { unpackTo });
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const candidates = await readCandidates(con, resolved);
    const recognition = recogniseFormats(candidates);
    const problems = new SchemaProblems();
    const sources = canonicalSources(recognition.rest, description);
    const inspected = await inspectTables(con, sources, description, problems, knownColumns(candidates));
    // A dataset of trades alone (no format adapter makes its bars either): prepare makes the bars from their fills.
    if (!inspected.bars && inspected.trades && recognition.recognised.length === 0) requireFillPrices(inspected.trades, problems);
    const claimedBy = new Map<string, string>();
    for (const r of recognition.recognised) for (const f of r.detection.files) claimedBy.set(f.path, r.adapter.label);
    const files: InspectedFile[] = candidates.map((f) => ({
      path: stampPath(f),
      format: f.format,
      recognisedAs: claimedBy.get(f.path) ?? (f.loose ? `nothing: ${LOOSE_NAMES[looseKind(f)]} no format recognises` : canonicalTableOf(f, description)),
      columns: f.columns.map((c) => ({ name: c.name, type: c.type })),
      problems: problems.of(f.path).map((p) => p.message),
    }));
    const tables: InspectedTable[] = [];
    for (const kind of TABLE_KINDS) {
      const t = inspected[kind];
      if (!t) continue;
      const paths = new Set(t.source.files.map((f) => f.path));
      const own = recognition.rest.filter((f) => paths.has(f.path));
      tables.push(await describeTable(con, t, own, description, problems.list.filter((p) => p.table === kind)));
    }
    const suggestion = suggest(description, tables);
    const hasData = inspected.bars !== null || inspected.trades !== null || recognition.recognised.length > 0;
    return {
      inputs,
      description: { path: described.path, found: described.found, content: description },
      files,
      formats: recognition.recognised.map(describeRecognised),
      tables,
      problems: problems.list,
      ready: problems.list.length === 0 && hasData,
      noData: hasData ? null : noDataError(resolved, sources, [], recognition.rest).message,
      notRead: hasData && resolved.archives?.length ? unreadArchivesText(resolved.archives) : null,
      suggestion,
    };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

/**
 * How the table's text timestamps will be read (text-dates.ts), over the same relation the build
 * reads; none for a table with Arrow IPC files (the build stages those first) or when the files
 * cannot be read (prepare says why, by file).
 */
async function textDatesOf(con: DuckDBConnection, t: TableInput, description: DatasetDescription): Promise<Map<string, TextDateReading>> {
  if (t.arrow.length) return new Map();
  try {
    return await textDateReadings(con, { ...t, relation: `(${readFileParts(t).join(' UNION ALL BY NAME ')})` }, description.dateOrder);
  } catch {
    return new Map();
  }
}

/** A table as inspected (table-input.ts): where each column comes from, what is missing, a sample. */
async function describeTable(
  con: DuckDBConnection,
  t: TableInput,
  files: CandidateFile[],
  description: DatasetDescription,
  problems: readonly SchemaProblem[],
): Promise<InspectedTable> {
  const kind = t.source.kind;
  const hiveKeys = t.hiveKeys;
  const columns: ColumnInfo[] = [...files[0]!.columns.filter((c) => !hiveKeys.includes(c.name)), ...hiveKeys.map((k) => ({ name: k, type: 'VARCHAR' }))];
  const explicit = description[kind];
  const readings = await textDatesOf(con, t, description);
  const inspected: InspectedColumn[] = [];
  for (const [canonical, info] of t.resolved) {
    if (info.constant !== undefined) {
      inspected.push({ canonical, column: info.constant, type: info.type, from: 'constant' });
      continue;
    }
    if (t.runFolders && canonical === 'run_id') {
      const runs = [...new Set(t.source.files.map((f) => f.runFolder!))];
      inspected.push({ canonical, column: runs.join(', '), type: info.type, from: 'folder' });
      continue;
    }
    const column = info.name;
    const from: ColumnOrigin = explicit?.[canonical] !== undefined && normalise(explicit[canonical]!) === normalise(column)
      ? 'description'
      : hiveKeys.includes(column)
        ? 'hive'
        : normalise(column) === canonical
          ? 'name'
          : 'alias';
    const reading = readings.get(column)?.says;
    inspected.push({ canonical, column, type: info.type, from, ...(reading ? { reading } : {}) });
  }
  const used = new Set(inspected.map((c) => c.column));
  const unused = columns.filter((c) => !used.has(c.name));
  const missing: MissingColumn[] = [];
  for (const [canonical, def] of Object.entries(COLUMNS[kind])) {
    if (t.resolved.has(canonical)) continue;
    const fits = unused.filter((c) => expectedInstead(def.kind, c) === null);
    const likely = fits.filter((c) => LIKELY_FAMILIES[def.kind].includes(familyOf(c)));
    const candidates = [...likely, ...fits.filter((c) => !likely.includes(c))].map((c) => c.name);
    missing.push({ canonical, required: def.required === true, likely: likely.map((c) => c.name), candidates });
  }
  return {
    table: kind,
    files: files.map((f) => f.path),
    columns: inspected,
    missing,
    unused: unused.map((c) => c.name),
    sample: await sampleRows(con, files[0]!, inspected),
    problems: problems.map((p) => p.message),
  };
}

/** A few rows of the first file, of the canonical columns found; none for Arrow IPC (it would be staged). */
async function sampleRows(con: DuckDBConnection, file: CandidateFile, columns: readonly InspectedColumn[]): Promise<Record<string, string | null>[]> {
  if (columns.length === 0 || (file.format !== 'parquet' && file.format !== 'csv' && file.format !== 'json')) return [];
  const value = (c: InspectedColumn) =>
    c.from === 'constant' ? sqlString(c.column) : c.from === 'folder' ? sqlString(file.runFolder ?? '') : `${sqlIdent(c.column)}::VARCHAR`;
  const list = columns.map((c) => `${value(c)} AS ${sqlIdent(c.canonical)}`).join(', ');
  try {
    const r = await con.runAndReadAll(`SELECT ${list} FROM ${fileReader(file.format, [file.path], { hive: Object.keys(file.hive).length > 0, ...(file.csv ? { csv: file.csv } : {}) })} LIMIT ${SAMPLE_ROWS}`);
    return r.getRowObjectsJson().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? null : String(v)])));
  } catch (err) {
    // The sample is an illustration: a file that cannot be read fails preparation, by name.
    return [{ error: `the first rows of ${file.path} cannot be read: ${errorMessage(err)}` }];
  }
}

/**
 * The description to write: the current one, plus each missing required column that exactly one
 * unused column of a likely type can be (a guess among several is left to the user: inspect lists
 * the candidates).
 */
function suggest(current: DatasetDescription, tables: readonly InspectedTable[]): DatasetDescription {
  const out: DatasetDescription = structuredClone(current);
  for (const t of tables) {
    const taken = new Set<string>();
    for (const m of t.missing) {
      if (!m.required) continue;
      const likely = m.likely.filter((name) => !taken.has(name));
      if (likely.length !== 1) continue;
      taken.add(likely[0]!);
      out[t.table] = { ...out[t.table], [m.canonical]: likely[0]! };
    }
  }
  return out;
}
