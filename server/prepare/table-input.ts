// One table's input files, inspected before anything is built (footers and schemas only): the
// files of each format, their columns (the same across files, checked), the canonical columns
// matched to them and checked for type, and how DuckDB reads them as one relation.
//
// An input format is a module: parquet.ts (read by DuckDB), arrow.ts (staged into a temporary
// table), CSV and JSON (read by DuckDB, columns sniffed: formats/candidates.ts). A new one gives its
// files' columns (ColumnInfo) to inspectTable and its rows to the table's relation (build.ts).
// A table a format adapter staged (formats/) is inspected from its temporary table instead
// (stagedTableInput), and goes through the same column checks.
import type { DuckDBConnection } from '@duckdb/node-api';
import { fileReader, sqlIdent } from '../sql/text.js';
import { readArrowSchema } from './arrow.js';
import { compatible, expectedInstead, familyOf, type ColumnInfo } from './column-types.js';
import { PrepareError } from './errors.js';
import { sourceLabel, type DataFile, type Source, type TableKind } from './inputs.js';
import { COLUMNS, matchColumns, type DatasetMapping } from './mapping.js';
import { countParquetRows, readParquetSchemas } from './parquet.js';
import { readTextSchema } from './formats/candidates.js';

export interface TableInput {
  source: Source;
  /** canonical name -> the input column. */
  resolved: Map<string, ColumnInfo>;
  parquet: DataFile[];
  arrow: DataFile[];
  /** CSV and JSON files, read by DuckDB (their rows are not counted beforehand). */
  text: DataFile[];
  hiveKeys: string[];
  /** Row count from Parquet footers plus Arrow rows once staged. */
  rows: number;
  /** SQL relation of the whole table (Parquet read + staged Arrow), set after staging. */
  relation: string;
}

/** The name of the temporary table a table's Arrow IPC rows are staged into. */
export function stagedArrowTable(kind: TableKind): string {
  return `_arrow_${kind}`;
}

/** The staged Arrow IPC rows of a table, as a relation. */
export function stagedArrowRelation(kind: TableKind): string {
  return `temp.main.${sqlIdent(stagedArrowTable(kind))}`;
}

/** Some of a table's Parquet files (by default all) as one relation, read by DuckDB. */
export function readParquetFiles(t: TableInput, files: readonly DataFile[] = t.parquet, options: { unionByName?: boolean; filename?: boolean } = {}): string {
  return fileReader('parquet', files.map((f) => f.path), { hive: t.hiveKeys.length > 0, ...options });
}

/** A table's CSV and JSON files as relations, one per format, read by DuckDB. */
export function readTextFiles(t: TableInput): string[] {
  const out: string[] = [];
  for (const format of ['csv', 'json'] as const) {
    const files = t.text.filter((f) => f.format === format);
    if (files.length) out.push(`SELECT * FROM ${fileReader(format, files.map((f) => f.path), { hive: t.hiveKeys.length > 0, unionByName: true })}`);
  }
  return out;
}

function describeColumns(cols: readonly ColumnInfo[]): string {
  return cols.map((c) => `${c.name} ${c.type}`).join(', ');
}

export async function inspectTable(con: DuckDBConnection, src: Source, mapping: DatasetMapping): Promise<TableInput> {
  const parquet = src.files.filter((f) => f.format === 'parquet');
  const arrow = src.files.filter((f) => f.format === 'arrow-file' || f.format === 'arrow-stream');
  const text = src.files.filter((f) => f.format === 'csv' || f.format === 'json');
  const perFile = new Map<string, ColumnInfo[]>();
  if (parquet.length) for (const [k, v] of await readParquetSchemas(con, parquet)) perFile.set(k, v);
  for (const f of arrow) perFile.set(f.path, await readArrowSchema(f));
  for (const f of text) perFile.set(f.path, await readTextSchema(con, f, Object.keys(f.hive).length > 0));
  // hive keys: the same set for every file of a table
  const hiveKeys = Object.keys(src.files[0]!.hive);
  for (const f of src.files) {
    const keys = Object.keys(f.hive);
    if (keys.join('/') !== hiveKeys.join('/')) {
      throw new PrepareError(
        `${src.kind}: files have different hive partitions: ${f.path} has ${keys.map((k) => `${k}=`).join('/') || 'none'} but ${src.files[0]!.path} has ${hiveKeys.map((k) => `${k}=`).join('/') || 'none'}`,
      );
    }
  }
  const first = src.files[0]!;
  const ref = perFile.get(first.path)!.filter((c) => !hiveKeys.includes(c.name));
  for (const f of src.files.slice(1)) {
    const cols = perFile.get(f.path)!.filter((c) => !hiveKeys.includes(c.name));
    const refNames = new Map(ref.map((c) => [c.name, c] as const));
    const names = new Map(cols.map((c) => [c.name, c] as const));
    const missing = ref.filter((c) => !names.has(c.name)).map((c) => c.name);
    const extra = cols.filter((c) => !refNames.has(c.name)).map((c) => c.name);
    if (missing.length || extra.length) {
      throw new PrepareError(
        `${src.kind}: files have different schemas (mixed schemas in one table): ${f.path} ${missing.length ? `lacks column(s) ${missing.map((m) => `'${m}'`).join(', ')}` : ''}${missing.length && extra.length ? ' and ' : ''}${extra.length ? `has extra column(s) ${extra.map((m) => `'${m}'`).join(', ')}` : ''} compared with ${first.path} (${describeColumns(ref)})`,
      );
    }
    for (const c of cols) {
      const r = refNames.get(c.name)!;
      if (!compatible(familyOf(c), familyOf(r))) {
        throw new PrepareError(
          `${src.kind}: files have different schemas (mixed schemas in one table): column '${c.name}' is ${c.type}${c.zone ? ` (zone ${c.zone})` : ''} in ${f.path} but ${r.type}${r.zone ? ` (zone ${r.zone})` : ''} in ${first.path}`,
        );
      }
    }
  }
  // The table's columns: the first file's, with numbers widened where files differ, plus hive keys.
  const columns: ColumnInfo[] = ref.map((c) => ({ ...c }));
  for (const f of src.files.slice(1)) {
    for (const c of perFile.get(f.path)!) {
      const col = columns.find((x) => x.name === c.name);
      if (col && familyOf(col) !== familyOf(c) && familyOf(c) === 'float') col.type = 'DOUBLE';
    }
  }
  // Hive keys are read as text (cast where a canonical column needs otherwise).
  for (const k of hiveKeys) columns.push({ name: k, type: 'VARCHAR' });
  const resolved = resolveColumns(src, columns, mapping, text.length > 0);
  const rows = await countParquetRows(con, parquet);
  return { source: src, resolved, parquet, arrow, text, hiveKeys, rows, relation: '' };
}

/**
 * A table a format adapter staged (formats/adapter.ts) as a table input: its columns are the
 * canonical ones, checked as any input's are; `src` names the files it came from.
 */
export async function stagedTableInput(con: DuckDBConnection, src: Source, relation: string): Promise<TableInput> {
  const described = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`);
  const columns: ColumnInfo[] = described.getRowObjectsJson().map((row) => ({ name: String(row['column_name']), type: String(row['column_type']) }));
  const resolved = resolveColumns(src, columns, {}, false);
  const counted = await con.runAndReadAll(`SELECT count(*) FROM ${relation}`);
  const rows = Number(counted.getRows()[0]?.[0] ?? 0);
  return { source: src, resolved, parquet: [], arrow: [], text: [], hiveKeys: [], rows, relation: `(SELECT * FROM ${relation})` };
}

/**
 * The input column of each canonical column, checked: required ones present, types readable.
 * Text files (`fromText`) may hold numbers as text (DuckDB's sniffer reads a column with one odd
 * value as VARCHAR): those are cast, and a value that is not a number is a bad row, not a type error.
 */
function resolveColumns(src: Source, columns: readonly ColumnInfo[], mapping: DatasetMapping, fromText: boolean): Map<string, ColumnInfo> {
  const explicit = mapping[src.kind];
  const names = columns.map((c) => c.name);
  const matched = matchColumns(src.kind, names, explicit, () => `${src.kind} in ${sourceLabel(src)}`);
  const resolved = new Map<string, ColumnInfo>();
  for (const [canon, name] of matched) resolved.set(canon, columns.find((c) => c.name === name)!);
  for (const [canon, def] of Object.entries(COLUMNS[src.kind])) {
    const c = resolved.get(canon);
    if (!c) {
      if (def.required) {
        throw new PrepareError(
          `${src.kind} in ${sourceLabel(src)}: required column '${canon}' is missing (looked for ${[canon, ...def.aliases].join(', ')}; map it with --mapping or in tickscope.json: "${src.kind}": { "${canon}": "<your column>" }); columns found: ${names.join(', ') || '(none)'}`,
        );
      }
      continue;
    }
    const expected = expectedInstead(def.kind, c);
    const textNumber = fromText && familyOf(c) === 'string' && (def.kind === 'number' || def.kind === 'integer');
    if (expected !== null && !textNumber) {
      const text = familyOf(c) === 'string' && expected.includes('number') ? ' (text)' : '';
      throw new PrepareError(`${src.kind} in ${sourceLabel(src)}: column '${c.name}' (${canon}) has type ${c.unsupported ?? c.type}${text}; expected ${expected}`);
    }
  }
  return resolved;
}
