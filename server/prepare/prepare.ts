// Builds the prepared store (server/store/format.ts) from what a backtester wrote.
//
// Inputs (server/prepare/inputs.ts): dataset folders, files, globs and hive-partitioned folders
// of Parquet and Arrow IPC (file and stream format). Parquet is read by DuckDB; Arrow IPC is read
// with apache-arrow in record batches and appended into DuckDB (server/prepare/arrow.ts).
// Columns are matched by name (server/prepare/mapping.ts: canonical names, common aliases, or an
// explicit mapping file). Symbols and run ids may be strings or integers; timestamps may be naive
// (taken as UTC, or as the mapping's `timezone`) or zoned (converted to UTC); the store's meta
// table says which, per column.
//
// Every input is checked before anything is built, and every failure is a PrepareError that names
// the file (and the column where it helps): unreadable or truncated files, non-Parquet files,
// files of one table with different schemas, a required column missing, a column of the wrong
// type, null or duplicate (run_id, symbol, ts) keys, NaN or infinite values.
//
// The store is keyed by a fingerprint of its inputs and mapping, built in a temporary file next to
// its final path and published with rename, so a reader sees either no store or a complete one.
// A lock file makes two preparations of the same dataset at once do the work once: the second
// waits (showing the first one's progress) and then finds the store. An existing store of the
// current format version is reused; one of another version is rebuilt.
//
// Memory: DuckDB's memory_limit (default a quarter of the machine, server/prepare/memory.ts)
// with spilling to a temp folder beside the stores.
//
// Rollup definitions not spelled out in format.ts (documented here, tell the lead if changed):
// - portfolio_bar.trade_qty, symbol_day.trade_qty: shares traded = sum(abs(trade_qty)).
// - portfolio_day exposures: portfolio_bar at the day's last bar; bars = number of bar timestamps.
// - symbol_day.position_value: the symbol's position_value at its last bar of the day.
// - sector_day exposures: sum over the sector's symbols of their end-of-day position_value.
// - day is the UTC calendar day of ts.

import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { META_TABLE, MetaKey, STORE_FORMAT_VERSION, StoreTable } from '../store/format.js';
import { readArrowSchema, stageArrowFiles, type ColumnInfo } from './arrow.js';
import { errorMessage } from '../../shared/errors.js';
import { diskFullError } from './disk-full.js';
import { PrepareError } from './errors.js';
import { resolveInputs, TABLE_KINDS, type DataFile, type ResolvedInputs, type Source, type TableKind } from './inputs.js';
import { readProgress, tryLock, type HeldLock, type LockHolder, readHolder } from './lock.js';
import { checkMapping, COLUMNS, matchColumns, readMappingFile, type DatasetMapping } from './mapping.js';
import { defaultMemoryLimit, duckdbMemoryLimit } from './memory.js';
import { ROLLUPS } from './rollups.js';
import { sweepStaleBuilds } from './stale-builds.js';
import { readCurrentStoreMeta } from './store-dir.js';

export { PrepareError } from './errors.js';
export type { ColumnMapping, DatasetMapping } from './mapping.js';
export { defaultMemoryLimit } from './memory.js';

export interface PrepareProgress {
  /** What is being done, e.g. 'sorting bars'; 'waiting for pid N: <their phase>' when another
   * preparation of the same dataset is running. */
  phase: string;
  /** 0..1 over the whole preparation. */
  fraction: number;
  /** Rows of the current phase done so far, and its total (null when not counted). */
  rows: number | null;
  totalRows: number | null;
  /** Estimated seconds left for the whole preparation (null until there is a basis). */
  etaSeconds: number | null;
  /** The file or folder being read, when there is one. */
  source?: string;
}

export interface PrepareOptions {
  /** Dataset folder(s), files or globs. */
  input: string | readonly string[];
  storeDir: string;
  /** Memory budget of the whole preparation process (default: defaultMemoryLimit(), a quarter of
   * the machine). DuckDB gets most of it (duckdbMemoryLimit) and spills beyond. */
  memoryLimit?: string;
  /** DuckDB threads (default: DuckDB's, the number of cores). */
  threads?: number;
  /** Explicit column names and the zone of naive timestamps; otherwise common aliases, UTC. */
  mapping?: DatasetMapping;
  /** A mapping file (JSON, see mapping.ts); read here, named in errors. Wins over `mapping`. */
  mappingFile?: string;
  /** Where DuckDB spills; default <storeDir>/.tmp/<build>. */
  tempDir?: string;
  onProgress?: (p: PrepareProgress) => void;
  /** Give up waiting for another preparation of the same dataset after this long (default: never). */
  lockTimeoutMs?: number;
}

export interface PrepareResult {
  storePath: string;
  fingerprint: string;
  reused: boolean;
  /** True when another process prepared it while this one waited. */
  waited?: boolean;
  /** How timestamps were normalised to UTC (also in the store's meta table). */
  timezoneNote?: string;
  /** Input rows read (bars + trades) when built here. */
  rows?: number;
}

const DEFAULT_RUN_ID = 'default';

export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function ident(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}

function fileList(files: readonly DataFile[]): string {
  return `[${files.map((f) => sqlString(f.path)).join(', ')}]`;
}

// ------------------------------------------------------------------------------------------------
// Type families

type Family = 'integer' | 'float' | 'string' | 'blob' | 'bool' | 'timestamp' | 'timestamptz' | 'date' | 'null' | 'other';

function familyOf(c: ColumnInfo): Family {
  const t = c.type.toUpperCase();
  if (t === 'NULL') return 'null';
  if (/^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|INT[1248]|U?HUGEINT)$/.test(t)) return 'integer';
  if (t === 'FLOAT' || t === 'DOUBLE' || t === 'REAL' || t.startsWith('DECIMAL')) return 'float';
  if (t === 'VARCHAR' || t.startsWith('ENUM')) return 'string';
  if (t === 'BLOB') return 'blob';
  if (t === 'BOOLEAN') return 'bool';
  if (t === 'TIMESTAMP WITH TIME ZONE' || t === 'TIMESTAMPTZ') return 'timestamptz';
  if (t.startsWith('TIMESTAMP')) return c.zone ? 'timestamptz' : 'timestamp';
  if (t === 'DATE') return 'date';
  return 'other';
}

/** Families that may be mixed across files of one table (numbers of different widths). */
function compatible(a: Family, b: Family): boolean {
  if (a === b || a === 'null' || b === 'null') return true;
  const num = (f: Family) => f === 'integer' || f === 'float';
  return num(a) && num(b);
}

// ------------------------------------------------------------------------------------------------
// Inspecting the inputs

interface TableInput {
  source: Source;
  /** Columns of the table (identical across its files, checked), hive keys included. */
  columns: ColumnInfo[];
  /** canonical name -> the input column. */
  resolved: Map<string, ColumnInfo>;
  parquet: DataFile[];
  arrow: DataFile[];
  hiveKeys: string[];
  /** Row count from Parquet footers plus Arrow rows once staged. */
  rows: number;
  /** SQL relation of the whole table (Parquet read + staged Arrow), set after staging. */
  relation: string;
}

function where(src: Source): string {
  return src.files.length === 1 ? src.files[0]!.path : `${src.location} (${src.files.length} files)`;
}

/** Runs `fn` per file to find which one fails; returns that file's error as a PrepareError. */
async function culprit(files: readonly DataFile[], what: string, fn: (f: DataFile) => Promise<unknown>): Promise<PrepareError | null> {
  for (const f of files) {
    try {
      await fn(f);
    } catch (err) {
      return new PrepareError(`${what} ${f.path} cannot be read: ${errorMessage(err)}`, { cause: err });
    }
  }
  return null;
}

async function parquetSchemas(con: DuckDBConnection, files: DataFile[]): Promise<Map<string, ColumnInfo[]>> {
  // One footer pass over every file for a signature of its top-level columns; then DESCRIBE once
  // per distinct signature (usually one) for DuckDB's own types.
  type Row = { file_name: string; name: string; type: string | null; num_children: string | null; converted_type: string | null; logical_type: string | null; repetition_type: string | null };
  let rows: Row[];
  try {
    rows = (await con.runAndReadAll(`SELECT file_name, name, type, num_children::VARCHAR AS num_children, converted_type, logical_type::VARCHAR AS logical_type, repetition_type FROM parquet_schema(${fileList(files)})`)).getRowObjectsJson() as unknown as Row[];
  } catch (err) {
    const bad = await culprit(files, 'Parquet input', (f) => con.run(`SELECT * FROM parquet_schema(${sqlString(f.path)})`));
    throw bad ?? new PrepareError(`Parquet inputs cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  const byFile = new Map<string, Row[]>();
  for (const r of rows) {
    const list = byFile.get(r.file_name) ?? [];
    list.push(r);
    byFile.set(r.file_name, list);
  }
  const signature = (list: Row[]): string => {
    // Walk the flattened tree: the root, then its children (groups consume their own children).
    const top: string[] = [];
    let i = 1;
    const skip = (): void => {
      const r = list[i++]!;
      const n = Number(r.num_children ?? 0);
      for (let k = 0; k < n && i < list.length; k++) skip();
    };
    const rootChildren = Number(list[0]?.num_children ?? 0);
    for (let k = 0; k < rootChildren && i < list.length; k++) {
      const r = list[i]!;
      top.push(`${r.name}:${r.type ?? 'group'}:${r.converted_type ?? ''}:${r.logical_type ?? ''}:${r.num_children ?? ''}`);
      skip();
    }
    return top.join('|');
  };
  const sigToColumns = new Map<string, ColumnInfo[]>();
  const out = new Map<string, ColumnInfo[]>();
  for (const f of files) {
    const list = byFile.get(f.path);
    if (!list) throw new PrepareError(`Parquet input ${f.path} cannot be read: no schema found`);
    const sig = signature(list);
    let cols = sigToColumns.get(sig);
    if (!cols) {
      try {
        const r = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(f.path)}, hive_partitioning = false)`);
        cols = r.getRowObjectsJson().map((row) => ({ name: String(row['column_name']), type: String(row['column_type']) }));
      } catch (err) {
        throw new PrepareError(`Parquet input ${f.path} cannot be read: ${errorMessage(err)}`, { cause: err });
      }
      sigToColumns.set(sig, cols);
    }
    out.set(f.path, cols);
  }
  return out;
}

async function parquetRowCounts(con: DuckDBConnection, files: DataFile[]): Promise<number> {
  if (files.length === 0) return 0;
  try {
    const r = await con.runAndReadAll(`SELECT coalesce(sum(num_rows), 0)::DOUBLE FROM parquet_file_metadata(${fileList(files)})`);
    return Number(r.getRowsJson()[0]?.[0] ?? 0);
  } catch (err) {
    const bad = await culprit(files, 'Parquet input', (f) => con.run(`SELECT * FROM parquet_file_metadata(${sqlString(f.path)})`));
    throw bad ?? new PrepareError(`Parquet inputs cannot be read: ${errorMessage(err)}`, { cause: err });
  }
}

function describeColumns(cols: readonly ColumnInfo[]): string {
  return cols.map((c) => `${c.name} ${c.type}`).join(', ');
}

async function inspect(con: DuckDBConnection, src: Source, mapping: DatasetMapping): Promise<TableInput> {
  const parquet = src.files.filter((f) => f.format === 'parquet');
  const arrow = src.files.filter((f) => f.format !== 'parquet');
  const perFile = new Map<string, ColumnInfo[]>();
  if (parquet.length) for (const [k, v] of await parquetSchemas(con, parquet)) perFile.set(k, v);
  for (const f of arrow) perFile.set(f.path, await readArrowSchema(f));
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
  const explicit = mapping[src.kind];
  const names = columns.map((c) => c.name);
  const matched = matchColumns(src.kind, names, explicit, () => `${src.kind} in ${where(src)}`);
  const resolved = new Map<string, ColumnInfo>();
  for (const [canon, name] of matched) resolved.set(canon, columns.find((c) => c.name === name)!);
  for (const [canon, def] of Object.entries(COLUMNS[src.kind])) {
    const c = resolved.get(canon);
    if (!c) {
      if (def.required) {
        throw new PrepareError(
          `${src.kind} in ${where(src)}: required column '${canon}' is missing (looked for ${[canon, ...def.aliases].join(', ')}; map it with --mapping); columns found: ${names.join(', ') || '(none)'}`,
        );
      }
      continue;
    }
    checkType(src, canon, def.kind, c);
  }
  const rows = await parquetRowCounts(con, parquet);
  return { source: src, columns, resolved, parquet, arrow, hiveKeys, rows, relation: '' };
}

function checkType(src: Source, canon: string, kind: string, c: ColumnInfo): void {
  const fam = familyOf(c);
  const fail = (expected: string) => {
    throw new PrepareError(
      `${src.kind} in ${where(src)}: column '${c.name}' (${canon}) has type ${c.unsupported ?? c.type}${fam === 'string' && expected.includes('number') ? ' (text)' : ''}; expected ${expected}`,
    );
  };
  if (c.unsupported) fail('a type preparation reads');
  switch (kind) {
    case 'key-string':
      if (!['string', 'integer', 'blob', 'null'].includes(fam)) fail('strings or integers');
      return;
    case 'string':
      if (!['string', 'integer', 'blob', 'null', 'bool', 'float'].includes(fam)) fail('text');
      return;
    case 'timestamp':
      if (!['timestamp', 'timestamptz', 'date', 'integer', 'string', 'null'].includes(fam)) fail('a timestamp (or a date, an epoch integer, or ISO text)');
      return;
    case 'number':
      if (!['integer', 'float', 'null'].includes(fam)) fail('a number');
      return;
    case 'integer':
      if (!['integer', 'null'].includes(fam)) fail('an integer');
      return;
    default:
      return;
  }
}

// ------------------------------------------------------------------------------------------------
// Column expressions

interface ExprContext {
  notes: Map<string, string>;
  timezone: string | null;
}

function naiveToUtc(x: string, ctx: ExprContext): string {
  return ctx.timezone ? `timezone('UTC', timezone(${sqlString(ctx.timezone)}, ${x}))` : x;
}

/** SQL turning a column into a UTC TIMESTAMP; records how, per column, in ctx.notes. */
function tsExpr(c: ColumnInfo, ctx: ExprContext): string {
  const col = ident(c.name);
  const fam = familyOf(c);
  const naiveZone = ctx.timezone ?? 'UTC';
  const naiveNote = ctx.timezone ? `naive timestamps taken as ${ctx.timezone} and converted to UTC` : 'naive timestamps taken as UTC';
  switch (fam) {
    case 'null':
      ctx.notes.set(c.name, 'all null');
      return 'NULL::TIMESTAMP';
    case 'timestamptz':
      if (c.zone) {
        ctx.notes.set(c.name, `zoned timestamps (Arrow time zone ${c.zone}) read as UTC instants`);
        return `${col}::TIMESTAMP`;
      }
      ctx.notes.set(c.name, 'zoned timestamps converted to UTC');
      return `timezone('UTC', ${col})`;
    case 'timestamp':
    case 'date':
      ctx.notes.set(c.name, naiveNote);
      return naiveToUtc(`${col}::TIMESTAMP`, ctx);
    case 'integer': {
      ctx.notes.set(c.name, 'integer epoch (unit from magnitude: s, ms, us or ns) taken as UTC');
      const x = `${col}::BIGINT`;
      return `CASE WHEN abs(${x}) >= 100000000000000000 THEN make_timestamp(${x} // 1000)
        WHEN abs(${x}) >= 100000000000000 THEN make_timestamp(${x})
        WHEN abs(${x}) >= 100000000000 THEN make_timestamp(${x} * 1000)
        ELSE make_timestamp(${x} * 1000000) END`;
    }
    default: {
      ctx.notes.set(c.name, `text timestamps: with an offset converted to UTC, without one taken as ${naiveZone}`);
      const s = `${col}::VARCHAR`;
      return `CASE WHEN regexp_matches(${s}, '(Z|[+-]\\d\\d(:?\\d\\d)?)$') THEN timezone('UTC', ${s}::TIMESTAMPTZ)
        ELSE ${naiveToUtc(`${s}::TIMESTAMP`, ctx)} END`;
    }
  }
}

function stringExpr(c: ColumnInfo): string {
  return familyOf(c) === 'null' ? 'NULL::VARCHAR' : `${ident(c.name)}::VARCHAR`;
}

function numberExpr(c: ColumnInfo): string {
  return familyOf(c) === 'null' ? 'NULL::DOUBLE' : `${ident(c.name)}::DOUBLE`;
}

// ------------------------------------------------------------------------------------------------
// Progress

const WEIGHTS = { inspect: 0.01, stage: 0.3, orderCheck: 0.1, sortBars: 1.0, copyBars: 0.3, checkBars: 0.1, dims: 0.02, trades: 1.2, rollups: 1.3, checkpoint: 0.15 } as const;

/** Above this many bars files the presorted check is not tried (one probe query per file). */
const PRESORTED_MAX_FILES = 256;

class Progress {
  private readonly started = Date.now();
  private done = 0;
  private total = 1;
  private current = { phase: 'checking inputs', weight: 0, rows: null as number | null, totalRows: null as number | null, source: undefined as string | undefined };
  private within = 0;

  constructor(private readonly emit: (p: PrepareProgress) => void) {}

  setTotal(total: number): void {
    this.total = Math.max(total, 1e-9);
  }

  begin(phase: string, weight: number, totalRows: number | null, source?: string): void {
    this.done += this.current.weight;
    this.current = { phase, weight, rows: totalRows === null ? null : 0, totalRows, source };
    this.within = 0;
    this.report();
  }

  /** Fraction of the current phase done (0..1). */
  update(within: number, rows?: number): void {
    this.within = Math.min(1, Math.max(this.within, within));
    if (rows !== undefined) this.current.rows = this.current.totalRows !== null ? Math.min(rows, this.current.totalRows) : rows;
    else if (this.current.totalRows !== null) this.current.rows = Math.round(this.within * this.current.totalRows);
    this.report();
  }

  fraction(): number {
    return Math.min(0.999, (this.done + this.current.weight * this.within) / this.total);
  }

  report(): void {
    const f = this.fraction();
    const elapsed = (Date.now() - this.started) / 1000;
    const eta = f > 0.02 && elapsed > 2 ? Math.round((elapsed * (1 - f)) / f) : null;
    this.emit({
      phase: this.current.phase,
      fraction: f,
      rows: this.current.rows,
      totalRows: this.current.totalRows,
      etaSeconds: eta,
      ...(this.current.source ? { source: this.current.source } : {}),
    });
  }
}

/** Runs one statement while polling DuckDB's query progress into the current phase. */
async function runTracked(con: DuckDBConnection, sql: string, progress: Progress, share = 0.9): Promise<void> {
  const timer = setInterval(() => {
    try {
      const p = con.progress;
      // rows_processed counts the rows the statement's scans have read so far.
      if (p.percentage >= 0) progress.update((share * p.percentage) / 100, p.rows_processed > 0n ? Number(p.rows_processed) : undefined);
    } catch {
      // progress is best effort
    }
  }, 500);
  try {
    await con.run(sql);
  } finally {
    clearInterval(timer);
  }
}

// ------------------------------------------------------------------------------------------------
// Fingerprint, store reuse

function fingerprintOf(r: ResolvedInputs, mapping: DatasetMapping): string {
  const h = createHash('sha256');
  h.update(`tickscope-store v${STORE_FORMAT_VERSION}\n`);
  if (Object.keys(mapping).length) h.update(`mapping ${JSON.stringify(mapping, Object.keys(mapping).sort())}\n`);
  // Paths relative to the input when there is one folder input, so a moved dataset keeps its store.
  const base = r.inputs.length === 1 ? r.inputs[0]! : null;
  for (const kind of TABLE_KINDS) {
    const src = r.sources[kind];
    if (!src) continue;
    for (const f of src.files) {
      const p = base && f.path.startsWith(`${base}${path.sep}`) ? path.relative(base, f.path) : f.path;
      h.update(`${kind}\t${p}\t${f.size}\t${f.mtimeMs}\n`);
    }
  }
  return h.digest('hex').slice(0, 16);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------------------------------------
// Entry point

export async function prepareDataset(opts: PrepareOptions): Promise<PrepareResult> {
  try {
    return await prepareUnchecked(opts);
  } catch (err) {
    // A full disk shows up wherever something was being written (a commit, a spill, the lock);
    // it is said as what it is, with the folder, not as a failure to read an input (disk-full.ts).
    const storeDir = path.resolve(opts.storeDir);
    const inputs = (typeof opts.input === 'string' ? [opts.input] : [...opts.input]).map((p) => path.resolve(p)).join(', ');
    const spillDir = opts.tempDir ? path.resolve(opts.tempDir) : path.join(storeDir, '.tmp');
    throw (await diskFullError(err, { inputs, storeDir, spillDir })) ?? err;
  }
}

async function prepareUnchecked(opts: PrepareOptions): Promise<PrepareResult> {
  const emit = opts.onProgress ?? (() => {});
  const inputs = (typeof opts.input === 'string' ? [opts.input] : [...opts.input]).map((p) => path.resolve(p));
  emit({ phase: 'checking inputs', fraction: 0, rows: null, totalRows: null, etaSeconds: null });
  const mapping = opts.mappingFile ? await readMappingFile(opts.mappingFile) : checkMapping(opts.mapping ?? {}, 'option');
  const resolved = await resolveInputs(inputs);
  const fingerprint = fingerprintOf(resolved, mapping);
  const storeDir = path.resolve(opts.storeDir);
  await mkdir(storeDir, { recursive: true });
  // Leftovers of killed preparations of any dataset: stale locks, temporaries (stale-builds.ts).
  const swept = await sweepStaleBuilds(storeDir, opts.tempDir ? [path.resolve(opts.tempDir)] : []);
  if (swept.removed.length || swept.failed.length) {
    const failed = swept.failed.length ? `; could not remove ${swept.failed.join('; ')}` : '';
    emit({ phase: `removed ${swept.removed.length} leftover(s) of killed preparations${failed}`, fraction: 0, rows: null, totalRows: null, etaSeconds: null });
  }
  const storePath = path.join(storeDir, `${fingerprint}.duckdb`);
  const lockPath = path.join(storeDir, `${fingerprint}.lock`);
  const progressPath = path.join(storeDir, `${fingerprint}.progress.json`);
  const waitStarted = Date.now();
  let waited = false;

  for (;;) {
    const current = await readCurrentStoreMeta(storePath);
    if (current) {
      emit({ phase: 'done', fraction: 1, rows: null, totalRows: null, etaSeconds: 0 });
      const note = current.get(MetaKey.timezoneNote);
      return { storePath, fingerprint, reused: true, ...(waited ? { waited } : {}), ...(note ? { timezoneNote: note } : {}) };
    }
    const lock = await tryLock(lockPath, progressPath);
    if (lock) {
      try {
        // The holder before us may have published while we looked.
        if (await readCurrentStoreMeta(storePath)) continue;
        await removeStaleTemporaries(storeDir, fingerprint);
        return { ...(await buildAndPublish(opts, resolved, mapping, fingerprint, storeDir, storePath, lock, emit)), ...(waited ? { waited } : {}) };
      } finally {
        await lock.release();
      }
    }
    // Somebody else is preparing this dataset: show their progress until they are done.
    waited = true;
    if (opts.lockTimeoutMs !== undefined && Date.now() - waitStarted > opts.lockTimeoutMs) {
      const holder = await readHolder(lockPath);
      throw new PrepareError(`preparing ${inputs.join(', ')}: another preparation of this dataset (pid ${holder?.pid ?? '?'}) is still running after ${Math.round(opts.lockTimeoutMs / 1000)} s`);
    }
    const theirs = await readProgress<PrepareProgress>(progressPath);
    const holder: LockHolder | null = await readHolder(lockPath);
    emit({
      phase: `waiting for pid ${holder?.pid ?? '?'}: ${theirs?.phase ?? 'starting'}`,
      fraction: theirs?.fraction ?? 0,
      rows: theirs?.rows ?? null,
      totalRows: theirs?.totalRows ?? null,
      etaSeconds: theirs?.etaSeconds ?? null,
    });
    await sleep(250);
  }
}

async function removeStaleTemporaries(storeDir: string, fingerprint: string): Promise<void> {
  // Holding the lock, any temporary of this fingerprint belongs to a dead or finished build.
  for (const name of await readdir(storeDir).catch(() => [] as string[])) {
    if (name.startsWith(`${fingerprint}.duckdb.tmp-`)) await rm(path.join(storeDir, name), { force: true }).catch(() => {});
  }
  const spill = path.join(storeDir, '.tmp');
  for (const name of await readdir(spill).catch(() => [] as string[])) {
    if (name.startsWith(`${fingerprint}.duckdb.tmp-`)) await rm(path.join(spill, name), { recursive: true, force: true }).catch(() => {});
  }
  await rmdir(spill).catch(() => {}); // only if empty
}

async function buildAndPublish(
  opts: PrepareOptions,
  resolved: ResolvedInputs,
  mapping: DatasetMapping,
  fingerprint: string,
  storeDir: string,
  storePath: string,
  lock: HeldLock,
  emit: (p: PrepareProgress) => void,
): Promise<PrepareResult> {
  let lastWrite = 0;
  const progress = new Progress((p) => {
    emit(p);
    const now = Date.now();
    if (now - lastWrite > 500) {
      lastWrite = now;
      void lock.writeProgress(p).catch(() => {});
    }
  });
  const tmp = `${storePath}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  // A folder of this build's own inside the spill folder, also under --temp-dir: the whole of
  // tempDir is removed below, and it used to be --temp-dir itself (with whatever else was in it).
  const tempDir = path.join(opts.tempDir ? path.resolve(opts.tempDir) : path.join(storeDir, '.tmp'), path.basename(tmp));
  await mkdir(tempDir, { recursive: true });
  let result: { note: string; rows: number };
  try {
    result = await build(tmp, resolved, mapping, fingerprint, opts, tempDir, progress);
    progress.begin('publishing', 0, null, storePath);
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
    if (!opts.tempDir) await rmdir(path.dirname(tempDir)).catch(() => {}); // only if no other build uses it
  }
  emit({ phase: 'done', fraction: 1, rows: null, totalRows: null, etaSeconds: 0 });
  return { storePath, fingerprint, reused: false, timezoneNote: result.note, rows: result.rows };
}

// ------------------------------------------------------------------------------------------------
// The build

async function build(
  file: string,
  resolved: ResolvedInputs,
  mapping: DatasetMapping,
  fingerprint: string,
  opts: PrepareOptions,
  tempDir: string,
  progress: Progress,
): Promise<{ note: string; rows: number }> {
  const label = resolved.inputs.join(', ');
  let phase = 'opening the store';
  let source = file;
  let inst: DuckDBInstance;
  let con: DuckDBConnection;
  try {
    inst = await DuckDBInstance.create(file, {
      access_mode: 'READ_WRITE',
      memory_limit: duckdbMemoryLimit(opts.memoryLimit ?? defaultMemoryLimit()),
      temp_directory: tempDir,
      ...(opts.threads ? { threads: String(Math.max(1, Math.floor(opts.threads))) } : {}),
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
    const ctx: ExprContext = { notes: new Map(), timezone: mapping.timezone ?? null };
    if (ctx.timezone) {
      try {
        await con.run(`SELECT timezone(${sqlString(ctx.timezone)}, TIMESTAMP '2000-01-01')`);
      } catch {
        throw new PrepareError(`mapping: unknown time zone '${ctx.timezone}' (use an IANA name such as America/New_York)`);
      }
    }

    // ---- inspect every input (footers and schemas only)
    step('checking inputs', resolved.inputs.join(', '), WEIGHTS.inspect, null);
    const tables = {} as Record<TableKind, TableInput | null>;
    for (const kind of TABLE_KINDS) {
      const src = resolved.sources[kind];
      source = src?.location ?? source;
      tables[kind] = src ? await inspect(con, src, mapping) : null;
    }
    const bars = tables.bars!;
    const arrowBytes = TABLE_KINDS.reduce((n, k) => n + (tables[k]?.arrow.reduce((m, f) => m + f.size, 0) ?? 0), 0);
    const parquetBytes = TABLE_KINDS.reduce((n, k) => n + (tables[k]?.parquet.reduce((m, f) => m + f.size, 0) ?? 0), 0);
    const arrowShare = arrowBytes / Math.max(1, arrowBytes + parquetBytes);
    const tradeShare = tables.trades ? Math.max(0.02, tables.trades.rows / Math.max(1, bars.rows + tables.trades.rows)) : 0;
    const mayBePresorted = bars.arrow.length === 0 && bars.resolved.has('trade_qty') && bars.parquet.length <= PRESORTED_MAX_FILES;
    progress.setTotal(
      WEIGHTS.inspect +
        WEIGHTS.stage * arrowShare +
        ((mayBePresorted ? WEIGHTS.orderCheck + WEIGHTS.copyBars : WEIGHTS.sortBars) + WEIGHTS.checkBars + WEIGHTS.rollups + WEIGHTS.checkpoint) * (1 - tradeShare) +
        WEIGHTS.dims +
        WEIGHTS.trades * tradeShare,
    );

    // ---- Arrow IPC inputs: stage the needed columns into DuckDB temp tables
    for (const kind of TABLE_KINDS) {
      const t = tables[kind];
      if (!t) continue;
      const parts: string[] = [];
      if (t.parquet.length) parts.push(`SELECT * FROM read_parquet(${fileList(t.parquet)}, hive_partitioning = ${t.hiveKeys.length ? 'true' : 'false'}, union_by_name = true)`);
      if (t.arrow.length) {
        step(`reading Arrow ${kind}`, t.arrow.length === 1 ? t.arrow[0]!.path : t.source.location, (WEIGHTS.stage * arrowShare * t.arrow.length) / Math.max(1, TABLE_KINDS.reduce((n, k) => n + (tables[k]?.arrow.length ?? 0), 0)), null);
        const needed = [...new Set([...t.resolved.values()].map((c) => c.name))].filter((n) => !t.hiveKeys.includes(n));
        const staged = `_arrow_${kind}`;
        const rows = await stageArrowFiles(con, staged, t.arrow, {
          columns: needed,
          hiveKeys: t.hiveKeys,
          onRows: (n) => progress.update(0.5, n),
        });
        t.rows += rows;
        parts.push(`SELECT * FROM temp.main.${ident(staged)}`);
      }
      t.relation = parts.length === 1 ? `(${parts[0]})` : `(${parts.join(' UNION ALL BY NAME ')})`;
    }

    const locate = (t: TableInput, cond: (e: (canon: string) => string) => string) => locateRows(con, t, ctx, cond);

    // ---- bars: sorted by (run_id, symbol, ts). When the input already is (files sorted inside,
    // not overlapping, which is how most backtesters write), prove it with one streaming pass and
    // copy the rows in that order instead of sorting them again.
    let presorted = false;
    if (bars.arrow.length === 0 && bars.resolved.has('trade_qty') && bars.parquet.length <= PRESORTED_MAX_FILES) {
      step('checking bars order', bars.source.location, WEIGHTS.orderCheck * (1 - tradeShare), bars.rows);
      const ordered = await presortedOrder(con, bars, ctx, progress);
      if (ordered) {
        presorted = true;
        bars.parquet = ordered;
        bars.relation = `(SELECT * FROM read_parquet(${fileList(ordered)}, hive_partitioning = ${bars.hiveKeys.length ? 'true' : 'false'}, union_by_name = true))`;
      }
    }
    step(presorted ? 'copying bars (input already sorted)' : 'sorting bars', bars.source.location, (presorted ? WEIGHTS.copyBars : WEIGHTS.sortBars) * (1 - tradeShare), bars.rows);
    {
      const e = barsExprs(bars, ctx);
      const tradeQty = bars.resolved.has('trade_qty')
        ? 'trade_qty'
        : 'position_qty - coalesce(lag(position_qty) OVER (PARTITION BY run_id, symbol ORDER BY ts), 0)';
      const sql = `CREATE TABLE ${StoreTable.bars} AS
        SELECT run_id, ts, symbol, price, position_qty, position_value, ${tradeQty} AS trade_qty, fees, pnl
        FROM (SELECT ${e.run_id} AS run_id, ${e.ts} AS ts, ${e.symbol} AS symbol, ${e.price} AS price,
            ${e.position_qty} AS position_qty, ${e.position_value} AS position_value, ${e.trade_qty} AS trade_qty,
            ${e.fees} AS fees, ${e.pnl} AS pnl
          FROM ${bars.relation})
        ${presorted ? '' : 'ORDER BY run_id, symbol, ts'}`;
      try {
        await runTracked(con, sql, progress, presorted ? 0.95 : 0.6);
      } catch (err) {
        throw (await probeFiles(con, bars, ctx, err)) ?? err;
      }
    }

    step('checking bars', bars.source.location, WEIGHTS.checkBars * (1 - tradeShare), bars.rows);
    // Strictly increasing keys (proven above when presorted) have no duplicates to look for.
    await checkBars(con, bars, locate, progress, !presorted);

    // ---- dimensions
    step('dimensions', tables.symbols?.source.location ?? bars.source.location, WEIGHTS.dims / 2, null);
    await buildSymbols(con, tables.symbols);
    step('dimensions', tables.runs?.source.location ?? bars.source.location, WEIGHTS.dims / 2, null);
    await buildRuns(con, tables.runs);

    // ---- trades
    step('sorting trades', tables.trades?.source.location ?? '(no trades input)', WEIGHTS.trades * tradeShare, tables.trades?.rows ?? 0);
    await buildTrades(con, tables.trades, ctx, progress, locate);

    // ---- rollups (server/prepare/rollups.ts), after trades so that a rollup may use them
    const rollupWeight = (WEIGHTS.rollups * (1 - tradeShare)) / Math.max(1, ROLLUPS.length);
    for (const rollup of ROLLUPS) {
      step('rollups', `${rollup.table} from ${bars.source.location}`, rollupWeight, null);
      await runTracked(con, `CREATE TABLE ${rollup.table} AS ${rollup.select}`, progress);
    }

    // ---- meta, then make the file self-contained
    step('writing the store', file, WEIGHTS.checkpoint * (1 - tradeShare), null);
    const inputs = TABLE_KINDS.map((k) => tables[k]).filter((t): t is TableInput => t !== null).map((t) => t.source.location);
    const note = noteText(ctx);
    await con.run(`CREATE TABLE ${META_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)`);
    const rows: [string, string][] = [
      [MetaKey.formatVersion, String(STORE_FORMAT_VERSION)],
      [MetaKey.fingerprint, fingerprint],
      [MetaKey.createdAt, new Date().toISOString()],
      [MetaKey.inputs, JSON.stringify(inputs)],
      [MetaKey.timezoneNote, note],
    ];
    await con.run(`INSERT INTO ${META_TABLE} VALUES ${rows.map(([k, v]) => `(${sqlString(k)}, ${sqlString(v)})`).join(', ')}`);
    for (const kind of TABLE_KINDS) if (tables[kind]?.arrow.length) await con.run(`DROP TABLE IF EXISTS temp.main.${ident(`_arrow_${kind}`)}`);
    await con.run('CHECKPOINT');
    return { note, rows: bars.rows + (tables.trades?.rows ?? 0) };
  } catch (err) {
    if (err instanceof PrepareError) throw err;
    throw new PrepareError(`preparing ${label}: ${phase} failed (${source}): ${errorMessage(err)}`, { cause: err });
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

function noteText(ctx: ExprContext): string {
  if (ctx.notes.size === 0) return 'naive timestamps taken as UTC';
  return [...ctx.notes].map(([col, how]) => `${col}: ${how}`).join('; ');
}

type Exprs = Record<string, string>;

function barsExprs(t: TableInput, ctx: ExprContext): Exprs {
  const c = (k: string) => t.resolved.get(k);
  const qty = numberExpr(c('position_qty')!);
  const price = numberExpr(c('price')!);
  return {
    run_id: c('run_id') ? stringExpr(c('run_id')!) : sqlString(DEFAULT_RUN_ID),
    ts: tsExpr(c('ts')!, ctx),
    symbol: stringExpr(c('symbol')!),
    price,
    position_qty: qty,
    position_value: c('position_value') ? numberExpr(c('position_value')!) : `(${qty} * ${price})`,
    trade_qty: c('trade_qty') ? numberExpr(c('trade_qty')!) : 'NULL::DOUBLE',
    fees: c('fees') ? `coalesce(${numberExpr(c('fees')!)}, 0)` : '0.0::DOUBLE',
    pnl: numberExpr(c('pnl')!),
  };
}

function tradesExprs(t: TableInput, ctx: ExprContext): Exprs {
  const c = (k: string) => t.resolved.get(k);
  const num = (k: string) => (c(k) ? numberExpr(c(k)!) : 'NULL::DOUBLE');
  const qty = num('qty');
  const sideCol = c('side');
  const side = sideCol
    ? `CASE lower(trim(${stringExpr(sideCol)})) WHEN 'buy' THEN 'long' WHEN 'sell' THEN 'short' WHEN 'b' THEN 'long' WHEN 's' THEN 'short'
         WHEN '1' THEN 'long' WHEN '-1' THEN 'short' WHEN 'l' THEN 'long' ELSE lower(trim(${stringExpr(sideCol)})) END`
    : `CASE WHEN ${qty} < 0 THEN 'short' ELSE 'long' END`;
  return {
    run_id: c('run_id') ? stringExpr(c('run_id')!) : sqlString(DEFAULT_RUN_ID),
    trade_id: c('trade_id') ? `${ident(c('trade_id')!.name)}::BIGINT` : 'NULL::BIGINT',
    symbol: stringExpr(c('symbol')!),
    side,
    entry_ts: tsExpr(c('entry_ts')!, ctx),
    exit_ts: c('exit_ts') ? tsExpr(c('exit_ts')!, ctx) : 'NULL::TIMESTAMP',
    qty: `abs(${qty})`,
    entry_price: num('entry_price'),
    exit_price: num('exit_price'),
    fees: num('fees'),
    pnl: num('pnl'),
    ret: num('ret'),
    bars_held: c('bars_held') ? `${numberExpr(c('bars_held')!)}::BIGINT` : 'NULL::BIGINT',
    mae: num('mae'),
    mfe: num('mfe'),
    tag: c('tag') ? stringExpr(c('tag')!) : 'NULL::VARCHAR',
  };
}

/** The input files holding rows that meet `cond` (over canonical expressions); at most 3. */
async function locateRows(
  con: DuckDBConnection,
  t: TableInput,
  ctx: ExprContext,
  cond: (e: (canon: string) => string) => string,
): Promise<string[]> {
  const exprs = t.source.kind === 'bars' ? barsExprs(t, ctx) : tradesExprs(t, ctx);
  const e = (k: string) => `(${exprs[k] ?? 'NULL'})`;
  const found: string[] = [];
  try {
    if (t.parquet.length) {
      const r = await con.runAndReadAll(`SELECT DISTINCT filename FROM read_parquet(${fileList(t.parquet)}, hive_partitioning = ${t.hiveKeys.length ? 'true' : 'false'}, union_by_name = true, filename = true)
        WHERE ${cond(e)} LIMIT 3`);
      found.push(...r.getRowsJson().map((row) => String(row[0])));
    }
    if (t.arrow.length && found.length < 3) {
      // Staged Arrow rows no longer know their file; name the Arrow inputs of the table.
      const r = await con.runAndReadAll(`SELECT count(*) FROM temp.main.${ident(`_arrow_${t.source.kind}`)} WHERE ${cond(e)}`);
      if (Number(r.getRowsJson()[0]?.[0] ?? 0) > 0) found.push(...t.arrow.map((f) => f.path).slice(0, 3 - found.length));
    }
  } catch {
    // locating is a courtesy; the error message still names the table's location
  }
  return found;
}

/** After a failed read of a table: which file fails on its own, with DuckDB's message. */
async function probeFiles(con: DuckDBConnection, t: TableInput, ctx: ExprContext, err: unknown): Promise<PrepareError | null> {
  const exprs = t.source.kind === 'bars' ? barsExprs(t, ctx) : tradesExprs(t, ctx);
  const list = Object.values(exprs).join(', ');
  for (const f of t.parquet) {
    try {
      await con.run(`SELECT bit_xor(hash(${list})) FROM read_parquet(${sqlString(f.path)}, hive_partitioning = ${t.hiveKeys.length ? 'true' : 'false'})`);
    } catch (e) {
      const msg = errorMessage(e);
      const col = /Could not convert|Conversion Error|Invalid Input Error/.test(msg) ? ' (a value does not convert to its column type)' : '';
      return new PrepareError(`${t.source.kind} in ${f.path}: cannot be read${col}: ${msg}`, { cause: e });
    }
  }
  return t.parquet.length + t.arrow.length > 0
    ? new PrepareError(`${t.source.kind} in ${where(t.source)}: cannot be read: ${errorMessage(err)}`, { cause: err })
    : null;
}

function filesNote(files: string[], t: TableInput): string {
  return files.length ? `in ${files.join(', ')}` : `in ${where(t.source)}`;
}

/**
 * If the bars files, each read in its own order and taken one after the other in the order of their
 * first keys, give strictly increasing (run_id, symbol, ts) keys, returns the files in that order;
 * otherwise null. One probe per file for its first key, then one streaming pass (DuckDB's streaming
 * window keeps storage order) that stops at the first key not above the one before it. Strictly
 * increasing keys are sorted and free of duplicates and nulls.
 */
async function presortedOrder(con: DuckDBConnection, bars: TableInput, ctx: ExprContext, progress: Progress): Promise<DataFile[] | null> {
  const e = barsExprs(bars, ctx);
  const hive = bars.hiveKeys.length ? 'true' : 'false';
  const keys = `${e.run_id} AS run_id, ${e.symbol} AS symbol, ${e.ts} AS ts`;
  try {
    const probes = bars.parquet
      .map((f, i) => `SELECT ${i} AS i, * FROM (SELECT ${keys} FROM read_parquet(${sqlString(f.path)}, hive_partitioning = ${hive}) LIMIT 1)`)
      .join(' UNION ALL ');
    const first = (await con.runAndReadAll(`SELECT i FROM (${probes}) ORDER BY run_id, symbol, ts`)).getRowsJson().map((r) => Number(r[0]));
    const seen = new Set(first);
    // Files with no rows go anywhere; put them last.
    const ordered = [...first, ...bars.parquet.map((_, i) => i).filter((i) => !seen.has(i))].map((i) => bars.parquet[i]!);
    progress.update(0.05);
    const r = await con.runAndReadAll(`SELECT 1 FROM (
        SELECT run_id, symbol, ts, lag(run_id) OVER () AS pr, lag(symbol) OVER () AS ps, lag(ts) OVER () AS pt, row_number() OVER () AS n
        FROM (SELECT ${keys} FROM read_parquet(${fileList(ordered)}, hive_partitioning = ${hive}, union_by_name = true)))
      WHERE run_id IS NULL OR symbol IS NULL OR ts IS NULL
        OR (n > 1 AND NOT (run_id > pr OR (run_id = pr AND (symbol > ps OR (symbol = ps AND ts > pt)))))
      LIMIT 1`);
    progress.update(1);
    return r.getRowsJson().length === 0 ? ordered : null;
  } catch {
    // Whatever failed here fails again, with its file named, in the regular path.
    return null;
  }
}

const BAR_NUMBERS = ['price', 'position_qty', 'position_value', 'trade_qty', 'fees', 'pnl'] as const;

async function checkBars(
  con: DuckDBConnection,
  bars: TableInput,
  locate: (t: TableInput, cond: (e: (canon: string) => string) => string) => Promise<string[]>,
  progress: Progress,
  lookForDuplicates: boolean,
): Promise<void> {
  const colName = (k: string) => bars.resolved.get(k)?.name ?? (k === 'run_id' ? '(none: default run)' : `(derived ${k})`);
  const filters = [
    `count(*) AS n`,
    ...['run_id', 'symbol', 'ts', 'price', 'position_qty', 'pnl'].map((k) => `count(*) FILTER (WHERE ${k} IS NULL) AS null_${k}`),
    `count(*) FILTER (WHERE NOT isfinite(ts)) AS inf_ts`,
    ...BAR_NUMBERS.map((k) => `count(*) FILTER (WHERE NOT isfinite(${k})) AS nonfinite_${k}`),
  ];
  const [row] = (await con.runAndReadAll(`SELECT ${filters.join(', ')} FROM ${StoreTable.bars}`)).getRowObjectsJson();
  progress.update(0.4);
  if (!row || Number(row['n']) === 0) throw new PrepareError(`bars in ${where(bars.source)}: no rows`);
  for (const k of ['run_id', 'symbol', 'ts'] as const) {
    const n = Number(row[`null_${k}`]);
    if (n > 0) {
      const files = await locate(bars, (e) => `${e(k)} IS NULL`);
      throw new PrepareError(`bars ${filesNote(files, bars)}: key column '${colName(k)}' (${k}) has ${n} null value(s)`);
    }
  }
  if (Number(row['inf_ts']) > 0) {
    const files = await locate(bars, (e) => `NOT isfinite(${e('ts')})`);
    throw new PrepareError(`bars ${filesNote(files, bars)}: column '${colName('ts')}' (ts) has ${String(row['inf_ts'])} infinite timestamp(s)`);
  }
  for (const k of BAR_NUMBERS) {
    const nulls = Number(row[`null_${k}`] ?? 0);
    if (nulls > 0) {
      const files = await locate(bars, (e) => `${e(k)} IS NULL`);
      throw new PrepareError(`bars ${filesNote(files, bars)}: column '${colName(k)}' (${k}) has ${nulls} null value(s); it is required on every bar`);
    }
    const bad = Number(row[`nonfinite_${k}`]);
    if (bad > 0) {
      const [ex] = (await con.runAndReadAll(`SELECT run_id, symbol, ts::VARCHAR AS ts, ${k}::VARCHAR AS v FROM ${StoreTable.bars} WHERE NOT isfinite(${k}) LIMIT 1`)).getRowObjectsJson();
      const files = await locate(bars, (e) => `NOT isfinite(${e(k)})`);
      throw new PrepareError(
        `bars ${filesNote(files, bars)}: column '${colName(k)}' (${k}) has ${bad} NaN or infinite value(s), e.g. ${String(ex?.['v'])} at (run_id, symbol, ts) = (${String(ex?.['run_id'])}, ${String(ex?.['symbol'])}, ${String(ex?.['ts'])})`,
      );
    }
  }
  progress.update(0.6);
  if (!lookForDuplicates) {
    progress.update(1);
    return;
  }
  // Duplicate keys. The table is sorted by (run_id, symbol, ts), so a duplicate is the same key as
  // the row before it: one streaming pass in storage order (DuckDB's streaming window keeps the
  // insertion order of an empty OVER ()), no hash table of 100M+ keys.
  const dup = await con.runAndReadAll(`SELECT run_id, symbol, ts::VARCHAR AS ts FROM (
      SELECT run_id, symbol, ts, lag(run_id) OVER () AS pr, lag(symbol) OVER () AS ps, lag(ts) OVER () AS pt FROM ${StoreTable.bars})
    WHERE run_id = pr AND symbol = ps AND ts = pt LIMIT 1`);
  const d = dup.getRowObjectsJson()[0];
  if (d) {
    const [cnt] = (await con.runAndReadAll(`SELECT count(*) AS n FROM ${StoreTable.bars} WHERE run_id = ${sqlString(String(d['run_id']))} AND symbol = ${sqlString(String(d['symbol']))} AND ts = ${sqlString(String(d['ts']))}::TIMESTAMP`)).getRowObjectsJson();
    const files = await locate(bars, (e) => `${e('run_id')} = ${sqlString(String(d['run_id']))} AND ${e('symbol')} = ${sqlString(String(d['symbol']))} AND ${e('ts')} = ${sqlString(String(d['ts']))}::TIMESTAMP`);
    throw new PrepareError(
      `bars ${filesNote(files, bars)}: duplicate key (run_id, symbol, ts) = (${String(d['run_id'])}, ${String(d['symbol'])}, ${String(d['ts'])}) appears ${String(cnt?.['n'])} times; columns ${colName('run_id')}, ${colName('symbol')}, ${colName('ts')} must be unique together`,
    );
  }
  progress.update(1);
}

async function buildSymbols(con: DuckDBConnection, t: TableInput | null): Promise<void> {
  let fromFile = `SELECT NULL::VARCHAR AS symbol, NULL::VARCHAR AS sector, NULL::VARCHAR AS industry WHERE false`;
  if (t) {
    const c = (k: string) => t.resolved.get(k);
    fromFile = `SELECT ${stringExpr(c('symbol')!)} AS symbol, ${c('sector') ? stringExpr(c('sector')!) : 'NULL::VARCHAR'} AS sector,
        ${c('industry') ? stringExpr(c('industry')!) : 'NULL::VARCHAR'} AS industry
      FROM ${t.relation}`;
  }
  try {
    await con.run(`CREATE TABLE ${StoreTable.symbols} AS
      WITH f AS (SELECT symbol, any_value(sector) AS sector, any_value(industry) AS industry FROM (${fromFile}) WHERE symbol IS NOT NULL GROUP BY symbol),
      b AS (SELECT DISTINCT symbol FROM ${StoreTable.bars})
      SELECT coalesce(f.symbol, b.symbol) AS symbol, coalesce(f.sector, 'Unknown') AS sector, coalesce(f.industry, 'Unknown') AS industry
      FROM f FULL OUTER JOIN b ON f.symbol = b.symbol
      ORDER BY symbol`);
  } catch (err) {
    if (t) throw new PrepareError(`symbols in ${where(t.source)}: cannot be read: ${errorMessage(err)}`, { cause: err });
    throw err;
  }
}

async function buildRuns(con: DuckDBConnection, t: TableInput | null): Promise<void> {
  let fromFile = `SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS name, NULL::VARCHAR AS params WHERE false`;
  if (t) {
    const c = (k: string) => t.resolved.get(k);
    const p = c('params');
    const paramsSql = !p ? 'NULL::VARCHAR' : familyOf(p) === 'string' ? ident(p.name) : `to_json(${ident(p.name)})::VARCHAR`;
    fromFile = `SELECT ${stringExpr(c('run_id')!)} AS run_id, ${c('name') ? stringExpr(c('name')!) : 'NULL::VARCHAR'} AS name, ${paramsSql} AS params
      FROM ${t.relation}`;
  }
  try {
    await con.run(`CREATE TABLE ${StoreTable.runs} AS
      WITH f AS (SELECT run_id, any_value(name) AS name, any_value(params) AS params FROM (${fromFile}) WHERE run_id IS NOT NULL GROUP BY run_id),
      b AS (SELECT DISTINCT run_id FROM ${StoreTable.bars})
      SELECT coalesce(f.run_id, b.run_id) AS run_id, coalesce(f.name, f.run_id, b.run_id) AS name, f.params AS params
      FROM f FULL OUTER JOIN b ON f.run_id = b.run_id
      ORDER BY run_id`);
  } catch (err) {
    if (t) throw new PrepareError(`runs in ${where(t.source)}: cannot be read: ${errorMessage(err)}`, { cause: err });
    throw err;
  }
}

const TRADE_NUMBERS = ['qty', 'entry_price', 'exit_price', 'fees', 'pnl', 'ret', 'mae', 'mfe'] as const;

async function buildTrades(
  con: DuckDBConnection,
  t: TableInput | null,
  ctx: ExprContext,
  progress: Progress,
  locate: (t: TableInput, cond: (e: (canon: string) => string) => string) => Promise<string[]>,
): Promise<void> {
  const empty = `SELECT NULL::VARCHAR AS run_id, NULL::BIGINT AS trade_id, NULL::VARCHAR AS symbol, NULL::VARCHAR AS side,
      NULL::TIMESTAMP AS entry_ts, NULL::TIMESTAMP AS exit_ts, NULL::DOUBLE AS qty, NULL::DOUBLE AS entry_price,
      NULL::DOUBLE AS exit_price, NULL::DOUBLE AS fees, NULL::DOUBLE AS pnl, NULL::DOUBLE AS ret,
      NULL::BIGINT AS bars_held, NULL::DOUBLE AS mae, NULL::DOUBLE AS mfe, NULL::VARCHAR AS tag WHERE false`;
  if (!t) {
    await con.run(`CREATE TABLE ${StoreTable.trades} AS ${empty}`);
    return;
  }
  const e = tradesExprs(t, ctx);
  const colName = (k: string) => t.resolved.get(k)?.name ?? k;
  const sql = `CREATE TABLE ${StoreTable.trades} AS
    SELECT run_id,
      coalesce(trade_id, row_number() OVER (PARTITION BY run_id ORDER BY entry_ts, symbol)) AS trade_id,
      symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price, fees, pnl, ret, bars_held, mae, mfe, tag
    FROM (SELECT ${Object.entries(e).map(([k, v]) => `${v} AS ${k}`).join(', ')} FROM ${t.relation})
    ORDER BY run_id, symbol, entry_ts, trade_id`;
  try {
    await runTracked(con, sql, progress, 0.7);
  } catch (err) {
    throw (await probeFiles(con, t, ctx, err)) ?? err;
  }
  const [row] = (
    await con.runAndReadAll(`SELECT count(*) FILTER (WHERE symbol IS NULL) AS null_symbol, count(*) FILTER (WHERE entry_ts IS NULL) AS null_entry_ts,
        count(*) FILTER (WHERE NOT isfinite(entry_ts) OR NOT isfinite(exit_ts)) AS inf_ts,
        ${TRADE_NUMBERS.map((k) => `count(*) FILTER (WHERE NOT isfinite(${k})) AS nonfinite_${k}`).join(', ')}
      FROM ${StoreTable.trades}`)
  ).getRowObjectsJson();
  for (const k of ['symbol', 'entry_ts'] as const) {
    const n = Number(row?.[`null_${k}`] ?? 0);
    if (n > 0) {
      const files = await locate(t, (x) => `${x(k)} IS NULL`);
      throw new PrepareError(`trades ${filesNote(files, t)}: column '${colName(k)}' (${k}) has ${n} null value(s)`);
    }
  }
  if (Number(row?.['inf_ts'] ?? 0) > 0) {
    throw new PrepareError(`trades in ${where(t.source)}: ${String(row?.['inf_ts'])} trade(s) have an infinite entry or exit timestamp`);
  }
  for (const k of TRADE_NUMBERS) {
    const bad = Number(row?.[`nonfinite_${k}`] ?? 0);
    if (bad > 0) {
      const files = await locate(t, (x) => `NOT isfinite(${x(k)})`);
      throw new PrepareError(`trades ${filesNote(files, t)}: column '${colName(k)}' (${k}) has ${bad} NaN or infinite value(s)`);
    }
  }
  if (t.resolved.has('trade_id')) {
    const dup = (
      await con.runAndReadAll(`SELECT run_id, trade_id, count(*) AS n FROM ${StoreTable.trades} GROUP BY run_id, trade_id HAVING count(*) > 1 LIMIT 1`)
    ).getRowObjectsJson()[0];
    if (dup) {
      throw new PrepareError(
        `trades in ${where(t.source)}: duplicate key (run_id, trade_id) = (${String(dup['run_id'])}, ${String(dup['trade_id'])}) appears ${String(dup['n'])} times; column '${colName('trade_id')}' must be unique per run`,
      );
    }
  }
  progress.update(1);
}
