// `tickscope inspect`: what preparation would make of a dataset, without preparing it. Reads the
// files' footers and schemas (formats/candidates.ts) and a few rows of each table, never a whole
// file, and builds nothing: per file the table and format it was recognised as, per table the
// column each canonical column would be read from and why (its own name, an alias, the dataset
// description, a hive partition), what is missing, and a suggested `tickscope.json`.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import path from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import { fileReader, sqlIdent } from '../sql/text.js';
import { expectedInstead, familyOf, type ColumnInfo, type Family } from './column-types.js';
import { locateDescription, type BadRowPolicy, type DatasetDescription } from './description.js';
import { PrepareError } from './errors.js';
import type { CandidateFile, FormatDescription } from './formats/adapter.js';
import { readCandidates } from './formats/candidates.js';
import { describeRecognised, recogniseFormats } from './formats/index.js';
import { resolveInputs, TABLE_KINDS, type FileFormat, type TableKind } from './inputs.js';
import { COLUMNS, matchColumns, normalise, type ColumnKind } from './mapping.js';

/** Where a canonical column's input column came from. */
export type ColumnOrigin = 'name' | 'alias' | 'description' | 'hive';

export interface InspectedFile {
  path: string;
  format: FileFormat;
  /** The canonical table it would be read as, or the format adapter that claims it. */
  recognisedAs: string;
  columns: { name: string; type: string }[];
}

export interface InspectedColumn {
  canonical: string;
  column: string;
  type: string;
  from: ColumnOrigin;
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
  /** What stops this table from being prepared as it is. */
  problems: string[];
}

export interface InspectReport {
  inputs: string[];
  description: { path: string; found: boolean; content: DatasetDescription };
  files: InspectedFile[];
  /** What each format adapter recognised (formats/). */
  formats: FormatDescription[];
  tables: InspectedTable[];
  /** Whether preparation would find every required column (bad rows are not looked for). */
  ready: boolean;
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
  const inputs = opts.inputs.map((p) => path.resolve(p));
  const described = await locateDescription({
    inputs,
    ...(opts.mappingFile ? { mappingFile: opts.mappingFile } : {}),
    ...(opts.onBadRows ? { onBadRows: opts.onBadRows } : {}),
  });
  const description = described.description;
  const resolved = await resolveInputs(inputs);
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const candidates = await readCandidates(con, resolved);
    const recognition = recogniseFormats(candidates);
    const claimedBy = new Map<string, string>();
    for (const r of recognition.recognised) for (const f of r.detection.files) claimedBy.set(f.path, r.adapter.label);
    const files: InspectedFile[] = candidates.map((f) => ({
      path: f.path,
      format: f.format,
      recognisedAs: claimedBy.get(f.path) ?? f.tableByName,
      columns: f.columns.map((c) => ({ name: c.name, type: c.type })),
    }));
    const tables: InspectedTable[] = [];
    for (const kind of TABLE_KINDS) {
      const own = recognition.rest.filter((f) => f.tableByName === kind);
      if (own.length) tables.push(await inspectTableFiles(con, kind, own, description));
    }
    const suggestion = suggest(description, tables);
    return {
      inputs,
      description: { path: described.path, found: described.found, content: description },
      files,
      formats: recognition.recognised.map(describeRecognised),
      tables,
      ready: tables.every((t) => t.problems.length === 0) && (tables.some((t) => t.table === 'bars') || recognition.recognised.length > 0),
      suggestion,
    };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}

async function inspectTableFiles(con: DuckDBConnection, kind: TableKind, files: CandidateFile[], description: DatasetDescription): Promise<InspectedTable> {
  const hiveKeys = Object.keys(files[0]!.hive);
  const columns: ColumnInfo[] = [...files[0]!.columns.filter((c) => !hiveKeys.includes(c.name)), ...hiveKeys.map((k) => ({ name: k, type: 'VARCHAR' }))];
  const names = columns.map((c) => c.name);
  const explicit = description[kind];
  const problems: string[] = [];
  let matched = new Map<string, string>();
  try {
    matched = matchColumns(kind, names, explicit, () => `${kind} in ${files[0]!.path}`);
  } catch (err) {
    if (!(err instanceof PrepareError)) throw err;
    problems.push(err.message);
    // Without the broken entry of the description, what would names and aliases give?
    matched = matchColumns(kind, names, undefined, () => kind);
  }
  const inspected: InspectedColumn[] = [];
  for (const [canonical, column] of matched) {
    const info = columns.find((c) => c.name === column)!;
    const from: ColumnOrigin = explicit?.[canonical] !== undefined && normalise(explicit[canonical]!) === normalise(column)
      ? 'description'
      : hiveKeys.includes(column)
        ? 'hive'
        : normalise(column) === canonical
          ? 'name'
          : 'alias';
    inspected.push({ canonical, column, type: info.type, from });
    const expected = expectedInstead(COLUMNS[kind][canonical]!.kind, info);
    if (expected !== null) problems.push(`${kind}: column '${column}' (${canonical}) has type ${info.type}; expected ${expected}`);
  }
  const used = new Set(matched.values());
  const unused = columns.filter((c) => !used.has(c.name));
  const missing: MissingColumn[] = [];
  for (const [canonical, def] of Object.entries(COLUMNS[kind])) {
    if (matched.has(canonical)) continue;
    const fits = unused.filter((c) => expectedInstead(def.kind, c) === null);
    const likely = fits.filter((c) => LIKELY_FAMILIES[def.kind].includes(familyOf(c)));
    const candidates = [...likely, ...fits.filter((c) => !likely.includes(c))].map((c) => c.name);
    missing.push({ canonical, required: def.required === true, likely: likely.map((c) => c.name), candidates });
    if (def.required) problems.push(`${kind}: required column '${canonical}' is missing (looked for ${[canonical, ...def.aliases].join(', ')})`);
  }
  return {
    table: kind,
    files: files.map((f) => f.path),
    columns: inspected,
    missing,
    unused: unused.map((c) => c.name),
    sample: await sampleRows(con, files[0]!, inspected),
    problems,
  };
}

/** A few rows of the first file, of the canonical columns found; none for Arrow IPC (it would be staged). */
async function sampleRows(con: DuckDBConnection, file: CandidateFile, columns: readonly InspectedColumn[]): Promise<Record<string, string | null>[]> {
  if (columns.length === 0 || (file.format !== 'parquet' && file.format !== 'csv' && file.format !== 'json')) return [];
  const list = columns.map((c) => `${sqlIdent(c.column)}::VARCHAR AS ${sqlIdent(c.canonical)}`).join(', ');
  try {
    const r = await con.runAndReadAll(`SELECT ${list} FROM ${fileReader(file.format, [file.path], { hive: Object.keys(file.hive).length > 0 })} LIMIT ${SAMPLE_ROWS}`);
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
