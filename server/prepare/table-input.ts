// One table's input files, inspected before anything is built (footers and schemas only): the
// files of each format, their columns (the same across files, checked), the canonical columns
// matched to them and checked for type, and how DuckDB reads them as one relation. What is wrong
// is collected (schema-problems.ts), every problem of every table, for one error listing them all.
//
// An input format is a module: parquet.ts (read by DuckDB), arrow-ipc/ (staged into a temporary
// table), CSV and JSON (read by DuckDB, columns sniffed: formats/candidates.ts). A new one gives its
// files' columns (ColumnInfo) to inspectTable and its rows to the table's relation (build.ts).
// A table a format adapter staged (formats/) is inspected from its temporary table instead
// (stagedTableInput), and goes through the same column checks.
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { fileReader, sqlIdent, sqlString, type CsvReading } from '../sql/text.js';
import { readArrowSchema, stageArrowFiles } from './arrow-ipc/index.js';
import { compatible, expectedInstead, familyOf, type ColumnInfo } from './column-types.js';
import { SIDE_OF_WORD } from './expressions.js';
import { sourceLabel, TABLE_KINDS, type DataFile, type Source, type TableKind } from './inputs/index.js';
import type { DatasetDescription } from './description.js';
import { COLUMNS, matchColumns, normalise, requiredColumns, type CanonicalColumn } from './mapping.js';
import { countParquetRows, readParquetSchemas } from './parquet.js';
import { readTextSchema } from './formats/candidates.js';
import { mappingFix, SchemaProblems, type SchemaProblem } from './schema-problems.js';
import type { TableInput } from './table-input-shape.js';

/** The name of the temporary table a table's Arrow IPC rows are staged into. */
export function stagedArrowTable(kind: TableKind): string {
  return `_arrow_${kind}`;
}

/** The staged Arrow IPC rows of a table, as a relation. */
export function stagedArrowRelation(kind: TableKind): string {
  return `temp.main.${sqlIdent(stagedArrowTable(kind))}`;
}

/**
 * Makes a table one relation (t.relation) when it is not yet: its CSV, JSON and Parquet files read
 * in place, its Arrow IPC files staged into a temp table first (onRows: their rows so far).
 */
export async function buildRelation(con: DuckDBConnection, t: TableInput, onRows: (rows: number) => void = () => {}): Promise<void> {
  if (t.relation) return;
  const kind = t.source.kind;
  const parts = readFileParts(t);
  if (t.arrow.length) {
    const needed = [...new Set([...t.resolved.values()].filter((c) => c.constant === undefined).map((c) => c.name))].filter((n) => !t.hiveKeys.includes(n));
    t.rows += await stageArrowFiles(con, stagedArrowTable(kind), t.arrow, { columns: needed, hiveKeys: t.hiveKeys, onRows });
    parts.push(`SELECT * FROM ${stagedArrowRelation(kind)}`);
  }
  t.relation = parts.length === 1 ? `(${parts[0]})` : `(${parts.join(' UNION ALL BY NAME ')})`;
}

/** Some of a table's Parquet files (by default all) as one relation, read by DuckDB. */
export function readParquetFiles(t: TableInput, files: readonly DataFile[] = t.parquet, options: { unionByName?: boolean; filename?: boolean } = {}): string {
  return byRunFolder(t, files, (some) => fileReader('parquet', some.map((f) => f.path), { hive: t.hiveKeys.length > 0, ...options }));
}

/**
 * The files as one relation: `read` of them all, or with runFolders one read per folder, each
 * with its folder as the run_id column.
 */
function byRunFolder(t: TableInput, files: readonly DataFile[], read: (files: readonly DataFile[]) => string): string {
  if (!t.runFolders) return read(files);
  const byRun = new Map<string, DataFile[]>();
  for (const f of files) (byRun.get(f.runFolder!) ?? byRun.set(f.runFolder!, []).get(f.runFolder!)!).push(f);
  return `(${[...byRun].map(([run, some]) => `SELECT *, ${sqlString(run)} AS run_id FROM ${read(some)}`).join(' UNION ALL BY NAME ')})`;
}

/**
 * A table's files DuckDB reads in place (CSV, JSON, Parquet), one SELECT per format; its Arrow IPC
 * files are not among them (build.ts stages those first).
 */
export function readFileParts(t: TableInput): string[] {
  return [...readTextFiles(t), ...(t.parquet.length ? [`SELECT * FROM ${readParquetFiles(t, t.parquet, { unionByName: true })}`] : [])];
}

/** A table's CSV and JSON files as relations, one per format, read by DuckDB. */
export function readTextFiles(t: TableInput): string[] {
  const out: string[] = [];
  for (const format of ['csv', 'json'] as const) {
    const files = t.text.filter((f) => f.format === format);
    if (files.length) {
      out.push(`SELECT * FROM ${byRunFolder(t, files, (some) => fileReader(format, some.map((f) => f.path), { hive: t.hiveKeys.length > 0, unionByName: true, csv: tableCsvReading(files) }))}`);
    }
  }
  return out;
}

/**
 * The symbol of a backtest of one instrument, whose bars or trades have every required column but
 * the symbol (backtesting.py's trades, one ticker's bars): the description's `symbol`, else the
 * name of the dataset's folder (that of the table's folder or file, above a folder named for the
 * table). Null when the files have a symbol column, the description maps one, or more is missing.
 */
function singleInstrument(src: Source, matched: ReadonlyMap<string, string>, mapping: DatasetDescription & { symbol?: string }): string | null {
  if (src.kind !== 'bars' && src.kind !== 'trades') return null;
  if (mapping[src.kind]?.symbol !== undefined) return null;
  const required = requiredColumns(src.kind);
  if (matched.has('symbol') || !required.every((canon) => canon === 'symbol' || matched.has(canon))) return null;
  if (mapping.symbol) return mapping.symbol;
  const location = src.files.length === 1 && src.location === src.files[0]!.path ? path.dirname(src.location) : src.location;
  return path.basename(path.basename(location) === src.kind ? path.dirname(location) : location);
}

/**
 * One CSV reading for the files of a table (one read_csv): every file's text columns; decimal
 * commas when every file has them (files that differ are read as the sniffer reads them, and a
 * number it leaves as text is then refused by value).
 */
function tableCsvReading(files: readonly DataFile[]): CsvReading {
  const textColumns = [...new Set(files.flatMap((f) => f.csv?.textColumns ?? []))];
  return { textColumns, decimalComma: files.every((f) => f.csv?.decimalComma === true) };
}

function describeColumns(cols: readonly ColumnInfo[]): string {
  return cols.map((c) => `${c.name} ${c.type}`).join(', ');
}

function describeType(c: ColumnInfo): string {
  return `${c.type}${c.zone ? ` (zone ${c.zone})` : ''}`;
}

/** Files that differ from a table's first file in the same way (`detail`), for one problem naming them all. */
class Deviations<Detail> {
  private readonly groups = new Map<string, { detail: Detail; files: string[] }>();

  add(detail: Detail, file: string): void {
    const key = JSON.stringify(detail);
    const group = this.groups.get(key) ?? { detail, files: [] };
    group.files.push(file);
    this.groups.set(key, group);
  }

  list(): { detail: Detail; files: string[] }[] {
    return [...this.groups.values()];
  }
}

/** The files of a deviation as a sentence's subject: the one file, or how many and the first few. */
function filesSubject(files: readonly string[]): string {
  if (files.length === 1) return files[0]!;
  return `${files.length} files (${files.slice(0, 3).join(', ')}${files.length > 3 ? ', ...' : ''})`;
}

/** The column listings of some files, by path, known beforehand (formats/candidates.ts knownColumns). */
export type KnownColumns = ReadonlyMap<string, ColumnInfo[]>;

/**
 * A table's input files, inspected: their columns (`known` ones are not read again), checked to
 * agree across files, matched to the canonical columns and checked for type. Every problem found
 * goes to `problems`, and the TableInput returned is then not to be built from; a file that cannot
 * be read at all is thrown at once.
 */
export async function inspectTable(con: DuckDBConnection, src: Source, mapping: DatasetDescription, problems: SchemaProblems, known: KnownColumns): Promise<TableInput> {
  const parquet = src.files.filter((f) => f.format === 'parquet');
  const arrow = src.files.filter((f) => f.format === 'arrow-file' || f.format === 'arrow-stream');
  const text = src.files.filter((f) => f.format === 'csv' || f.format === 'json');
  const perFile = new Map<string, ColumnInfo[]>();
  for (const f of src.files) {
    const columns = known.get(f.path);
    if (columns) perFile.set(f.path, columns);
  }
  const unread = (files: readonly DataFile[]) => files.filter((f) => !perFile.has(f.path));
  if (unread(parquet).length) for (const [k, v] of await readParquetSchemas(con, unread(parquet))) perFile.set(k, v);
  for (const f of unread(arrow)) perFile.set(f.path, await readArrowSchema(f));
  for (const f of unread(text)) perFile.set(f.path, await readTextSchema(con, f, Object.keys(f.hive).length > 0));
  const first = src.files[0]!;
  const allFiles = src.files.map((f) => f.path);
  // hive keys: the same set for every file of a table
  const hiveKeys = Object.keys(first.hive);
  const hiveNames = (keys: readonly string[]) => keys.map((k) => `${k}=`).join('/') || 'none';
  const otherHive = new Deviations<string>();
  for (const f of src.files.slice(1)) {
    const keys = Object.keys(f.hive);
    if (keys.join('/') !== hiveKeys.join('/')) otherHive.add(hiveNames(keys), f.path);
  }
  for (const { detail: keys, files } of otherHive.list()) {
    problems.add({
      table: src.kind,
      files: [...files, first.path],
      canonical: [],
      columns: [],
      found: `hive partitions ${keys}`,
      expected: `hive partitions ${hiveNames(hiveKeys)}, as in ${first.path}`,
      fix: null,
      message: `${src.kind}: files have different hive partitions: ${filesSubject(files)} ${files.length === 1 ? 'has' : 'have'} ${keys} but ${first.path} has ${hiveNames(hiveKeys)}`,
    });
  }
  const ref = perFile.get(first.path)!.filter((c) => !hiveKeys.includes(c.name));
  const refNames = new Map(ref.map((c) => [c.name, c] as const));
  const otherColumns = new Deviations<{ missing: string[]; extra: string[] }>();
  const otherTypes = new Deviations<{ name: string; type: string }>();
  for (const f of src.files.slice(1)) {
    const cols = perFile.get(f.path)!.filter((c) => !hiveKeys.includes(c.name));
    const names = new Map(cols.map((c) => [c.name, c] as const));
    const missing = ref.filter((c) => !names.has(c.name)).map((c) => c.name);
    const extra = cols.filter((c) => !refNames.has(c.name)).map((c) => c.name);
    if (missing.length || extra.length) otherColumns.add({ missing, extra }, f.path);
    for (const c of cols) {
      const r = refNames.get(c.name);
      if (r && !compatible(familyOf(c), familyOf(r))) otherTypes.add({ name: c.name, type: describeType(c) }, f.path);
    }
  }
  const mixed = `${src.kind}: files have different schemas (mixed schemas in one table)`;
  for (const { detail: { missing, extra }, files } of otherColumns.list()) {
    const quoted = (names: string[]) => names.map((m) => `'${m}'`).join(', ');
    const one = files.length === 1;
    const differs = [
      ...(missing.length ? [`${one ? 'lacks' : 'lack'} column(s) ${quoted(missing)}`] : []),
      ...(extra.length ? [`${one ? 'has' : 'have'} extra column(s) ${quoted(extra)}`] : []),
    ].join(' and ');
    problems.add({
      table: src.kind,
      files: [...files, first.path],
      canonical: [],
      columns: [...missing, ...extra],
      found: [...(missing.length ? [`no column(s) ${quoted(missing)}`] : []), ...(extra.length ? [`extra column(s) ${quoted(extra)}`] : [])].join(' and '),
      expected: `the columns of ${first.path}`,
      fix: null,
      message: `${mixed}: ${filesSubject(files)} ${differs} compared with ${first.path} (${describeColumns(ref)})`,
    });
  }
  for (const { detail: { name, type }, files } of otherTypes.list()) {
    const r = refNames.get(name)!;
    problems.add({
      table: src.kind,
      files: [...files, first.path],
      canonical: [],
      columns: [name],
      found: `type ${type}`,
      expected: `type ${describeType(r)}, as in ${first.path} (or another number type where that is a number)`,
      fix: null,
      message: `${mixed}: column '${name}' is ${type} in ${filesSubject(files)} but ${describeType(r)} in ${first.path}`,
    });
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
  // The canonical columns the files' names (and aliases) give, before any column is added below.
  const named = matchColumns(src.kind, columns.map((c) => c.name), undefined, () => src.location);
  // One run per folder (inputs/): unless the files name their runs, or the description maps a column as the run.
  const runFolders = arrow.length === 0 && src.files.every((f) => f.runFolder !== undefined) && !mapping[src.kind]?.run_id && !named.has('run_id');
  if (runFolders) columns.push({ name: 'run_id', type: 'VARCHAR' });
  const instrument = singleInstrument(src, named, mapping);
  if (instrument !== null) columns.push({ name: 'symbol', type: 'VARCHAR', constant: instrument });
  const resolved = resolveColumns(src, columns, mapping, { fromText: text.length > 0, staged: false }, problems, allFiles);
  if (src.kind === 'trades') await resolveTradeSide(con, src, columns, mapping, resolved);
  const rows = await countParquetRows(con, parquet);
  return { source: src, resolved, columns: columns.map((c) => c.name), staged: false, runFolders, parquet, arrow, text, hiveKeys, rows, relation: '' };
}

/** The words a `type` column may hold to be the side: SIDE_OF_WORD's, not its numbers (a type of 1 and -1 is not taken for a side). */
const SIDE_WORDS = Object.keys(SIDE_OF_WORD).filter((w) => !/\d/.test(w));

/**
 * A trade list without a side column by name or alias may write it as its `type` (Jesse's
 * long/short): that column is the side when every value it holds is a side's word, a fact of the
 * data, not of the name (a `type` is an order type or an exit reason as often). Parquet and text
 * files are looked at; the first 10,000 values decide.
 */
async function resolveTradeSide(con: DuckDBConnection, src: Source, columns: readonly ColumnInfo[], mapping: DatasetDescription, resolved: Map<string, ColumnInfo>): Promise<void> {
  if (resolved.has('side') || mapping.trades?.side) return;
  const type = columns.find((c) => ['type', 'trade_type', 'position_type'].includes(normalise(c.name)) && familyOf(c) === 'string');
  const files = src.files.filter((f) => f.format === 'parquet' || f.format === 'csv' || f.format === 'json');
  if (!type || files.length !== src.files.length) return;
  const readers = files.map((f) => fileReader(f.format as 'parquet' | 'csv' | 'json', [f.path], { hive: Object.keys(f.hive).length > 0, ...(f.csv ? { csv: f.csv } : {}) }));
  const values = readers.map((r) => `SELECT lower(trim(${sqlIdent(type.name)}::VARCHAR)) AS v FROM ${r}`).join(' UNION ALL ');
  const [row] = (await con.runAndReadAll(`SELECT count(v), count(v) FILTER (WHERE v IN (${SIDE_WORDS.map(sqlString).join(', ')})) FROM (SELECT v FROM (${values}) WHERE v <> '' LIMIT 10000)`)).getRows();
  if (Number(row?.[0] ?? 0) > 0 && Number(row?.[0]) === Number(row?.[1])) resolved.set('side', type);
}

/**
 * Every table of `sources` inspected (inspectTable), their schema problems in `problems`: the one
 * inspection of preparation and of `tickscope inspect`.
 */
export async function inspectTables(
  con: DuckDBConnection,
  sources: Record<TableKind, Source | null>,
  mapping: DatasetDescription,
  problems: SchemaProblems,
  known: KnownColumns,
): Promise<Record<TableKind, TableInput | null>> {
  const out = {} as Record<TableKind, TableInput | null>;
  for (const kind of TABLE_KINDS) {
    const src = sources[kind];
    out[kind] = src ? await inspectTable(con, src, mapping, problems, known) : null;
  }
  return out;
}

/**
 * A table a format adapter staged (formats/adapter.ts) as a table input: its columns are the
 * canonical ones, checked as any input's are (problems to `problems`, or thrown here when none is
 * given); `src` names the files it came from.
 */
export async function stagedTableInput(con: DuckDBConnection, src: Source, relation: string, problems?: SchemaProblems): Promise<TableInput> {
  const described = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`);
  const columns: ColumnInfo[] = described.getRowObjectsJson().map((row) => ({ name: String(row['column_name']), type: String(row['column_type']) }));
  const found = problems ?? new SchemaProblems();
  const resolved = resolveColumns(src, columns, {}, { fromText: false, staged: true }, found, src.files.map((f) => f.path));
  if (!problems) found.throwIfAny();
  const counted = await con.runAndReadAll(`SELECT count(*) FROM ${relation}`);
  const rows = Number(counted.getRows()[0]?.[0] ?? 0);
  return { source: src, resolved, columns: columns.map((c) => c.name), staged: true, runFolders: false, parquet: [], arrow: [], text: [], hiveKeys: [], rows, relation: `(SELECT * FROM ${relation})` };
}

/**
 * The input column of each canonical column, checked: mapped columns present, required ones
 * present, types readable; every problem to `problems`, naming `files`, with the tickscope.json
 * entry that fixes it (none for a `staged` table: its columns are the adapter's, not the user's
 * to map). Text files (`fromText`) may hold numbers as text (DuckDB's sniffer reads a column with
 * one odd value as VARCHAR): those are cast, and a value that is not a number is a bad row, not a
 * type error.
 */
function resolveColumns(
  src: Source,
  columns: readonly ColumnInfo[],
  mapping: DatasetDescription,
  { fromText, staged }: { fromText: boolean; staged: boolean },
  problems: SchemaProblems,
  files: string[],
): Map<string, ColumnInfo> {
  const explicit = mapping[src.kind];
  const names = columns.map((c) => c.name);
  const where = `${src.kind} in ${sourceLabel(src)}`;
  const mappedButMissing = new Set<string>();
  const matched = matchColumns(src.kind, names, explicit, () => where, (canon, message) => {
    mappedButMissing.add(canon);
    problems.add({
      table: src.kind,
      files,
      canonical: [canon],
      columns: explicit?.[canon] ? [explicit[canon]] : [],
      found: `columns ${names.join(', ') || '(none)'}`,
      expected: `a column named '${explicit?.[canon] ?? canon}'`,
      fix: mappingFix(src.kind, [canon]),
      message,
    });
  });
  const resolved = new Map<string, ColumnInfo>();
  for (const [canon, name] of matched) resolved.set(canon, columns.find((c) => c.name === name)!);
  // A trade list's text `id` (found by alias) is the tool's own key, a UUID as often as not, not a
  // trade number: the trades are numbered instead (a column named or mapped trade_id is checked).
  const id = resolved.get('trade_id');
  if (src.kind === 'trades' && id && familyOf(id) === 'string' && !explicit?.['trade_id'] && normalise(id.name) !== 'trade_id') resolved.delete('trade_id');
  // A column mapped to a name the files lack is one problem, said above, not also a missing one.
  const missing = Object.entries(COLUMNS[src.kind]).filter(([canon, def]) => def.required && !resolved.has(canon) && !mappedButMissing.has(canon));
  if (missing.length) problems.add(missingColumns(src, where, missing, names, staged, files));
  for (const [canon, def] of Object.entries(COLUMNS[src.kind])) {
    const c = resolved.get(canon);
    if (!c) continue;
    const expected = expectedInstead(def.kind, c);
    const textNumber = fromText && familyOf(c) === 'string' && (def.kind === 'number' || def.kind === 'integer');
    if (expected !== null && !textNumber) {
      const text = familyOf(c) === 'string' && expected.includes('number') ? ' (text)' : '';
      const fix = mappingFix(src.kind, [canon]);
      problems.add({
        table: src.kind,
        files,
        canonical: [canon],
        columns: [c.name],
        found: `type ${c.unsupported ?? c.type}${text}`,
        expected,
        fix: staged ? null : fix,
        message: `${where}: column '${c.name}' (${canon}) has type ${c.unsupported ?? c.type}${text}; expected ${expected}${staged ? '' : ` (or, if it is not the ${canon} column, map the right one in tickscope.json: ${fix})`}`,
      });
    }
  }
  return resolved;
}

/**
 * Columns the table may lack in general but this dataset needs, `why` said first: the trades'
 * fill prices when there are no bars to read, since the bars are then made from the fills
 * (trade-bars.ts). One missing-columns problem, with the tickscope.json entry that maps them.
 */
export function requireColumns(t: TableInput, canonical: readonly string[], why: string, problems: SchemaProblems): void {
  const missing = canonical.filter((c) => !t.resolved.has(c)).map((c): [string, CanonicalColumn] => [c, COLUMNS[t.source.kind][c]!]);
  if (missing.length === 0) return;
  const where = `${t.source.kind} in ${sourceLabel(t.source)}`;
  const problem = missingColumns(t.source, where, missing, t.columns, t.staged, t.source.files.map((f) => f.path));
  problems.add({ ...problem, message: `${where}: ${why}: ${problem.message.slice(where.length + 2)}` });
}

/**
 * The required columns of a table that nothing matched, as one problem (one entry of tickscope.json
 * fixes them all, and the columns found are listed once).
 */
function missingColumns(
  src: Source,
  where: string,
  missing: readonly [string, CanonicalColumn][],
  names: readonly string[],
  staged: boolean,
  files: string[],
): SchemaProblem {
  const canonical = missing.map(([canon]) => canon);
  const found = names.join(', ') || '(none)';
  const aliasList = (canon: string, def: CanonicalColumn) => [canon, ...def.aliases].join(', ');
  const lookedFor = missing.length === 1 ? aliasList(...missing[0]!) : missing.map(([canon, def]) => `${canon}: ${aliasList(canon, def)}`).join('; ');
  const fix = mappingFix(src.kind, canonical);
  const one = missing.length === 1;
  const which = one ? `required column '${canonical[0]}' is missing` : `required columns ${canonical.map((c) => `'${c}'`).join(', ')} are missing`;
  return {
    table: src.kind,
    files,
    canonical,
    columns: [],
    found: `columns ${found}`,
    expected: missing.map(([canon, def]) => `${canon}: a column named ${aliasList(canon, def)}`).join('; '),
    fix: staged ? null : fix,
    message: staged
      ? `${where}: the table staged from these files has no ${canonical.map((c) => `'${c}'`).join(', ')} column${one ? '' : 's'}; columns staged: ${found}`
      : `${where}: ${which} (looked for ${lookedFor}; map ${one ? 'it' : 'them'} with --mapping or in tickscope.json: ${fix}); columns found: ${found}`,
  };
}
