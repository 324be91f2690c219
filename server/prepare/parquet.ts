// Parquet input. DuckDB reads the rows itself (fileReader in server/sql/text.ts); here, what the
// inspection needs from the files' footers before anything is built: each file's columns with
// DuckDB's types, and the row count. A failure names the file that fails.
import type { DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { fileReader, sqlString, sqlStringList } from '../sql/text.js';
import type { ColumnInfo } from './column-types.js';
import { PrepareError } from './errors.js';
import type { DataFile } from './inputs/index.js';

type FooterFunction = 'parquet_schema' | 'parquet_file_metadata';

/**
 * Runs `read` over a footer function of every file at once (one pass); if that fails, tries the
 * files one at a time to name the one that fails.
 */
async function fromFooters<T>(con: DuckDBConnection, files: readonly DataFile[], footers: FooterFunction, read: (relation: string) => Promise<T>): Promise<T> {
  try {
    return await read(`${footers}(${sqlStringList(files.map((f) => f.path))})`);
  } catch (err) {
    for (const f of files) {
      try {
        await con.run(`SELECT * FROM ${footers}(${sqlString(f.path)})`);
      } catch (fileErr) {
        throw new PrepareError(`Parquet input ${f.path} cannot be read: ${errorMessage(fileErr)}`, { cause: fileErr });
      }
    }
    throw new PrepareError(`Parquet inputs cannot be read: ${errorMessage(err)}`, { cause: err });
  }
}

type SchemaRow = {
  file_name: string;
  name: string;
  type: string | null;
  num_children: string | null;
  converted_type: string | null;
  logical_type: string | null;
  repetition_type: string | null;
};

/** A signature of a file's top-level columns, from its flattened schema tree (root first). */
function signature(list: readonly SchemaRow[]): string {
  const top: string[] = [];
  let i = 1;
  // A group is followed by its children, and they by theirs: skip a whole subtree.
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
}

/** The columns of every file, by path. */
export async function readParquetSchemas(con: DuckDBConnection, files: readonly DataFile[]): Promise<Map<string, ColumnInfo[]>> {
  // One footer pass over every file for a signature of its top-level columns; then DESCRIBE once
  // per distinct signature (usually one) for DuckDB's own types.
  const rows = await fromFooters(con, files, 'parquet_schema', async (footers) =>
    (await con.runAndReadAll(
      `SELECT file_name, name, type, num_children::VARCHAR AS num_children, converted_type, logical_type::VARCHAR AS logical_type, repetition_type FROM ${footers}`,
    )).getRowObjectsJson() as unknown as SchemaRow[],
  );
  const byFile = new Map<string, SchemaRow[]>();
  for (const r of rows) {
    const list = byFile.get(r.file_name) ?? [];
    list.push(r);
    byFile.set(r.file_name, list);
  }
  const columnsBySignature = new Map<string, ColumnInfo[]>();
  const out = new Map<string, ColumnInfo[]>();
  for (const f of files) {
    const list = byFile.get(f.path);
    if (!list) throw new PrepareError(`Parquet input ${f.path} cannot be read: no schema found`);
    const sig = signature(list);
    let cols = columnsBySignature.get(sig);
    if (!cols) {
      try {
        const r = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${fileReader('parquet', [f.path], { hive: false })}`);
        cols = r.getRowObjectsJson().map((row) => ({ name: String(row['column_name']), type: String(row['column_type']) }));
      } catch (err) {
        throw new PrepareError(`Parquet input ${f.path} cannot be read: ${errorMessage(err)}`, { cause: err });
      }
      columnsBySignature.set(sig, cols);
    }
    out.set(f.path, cols);
  }
  return out;
}

/** The rows of all the files, from their footers. */
export async function countParquetRows(con: DuckDBConnection, files: readonly DataFile[]): Promise<number> {
  if (files.length === 0) return 0;
  return fromFooters(con, files, 'parquet_file_metadata', async (footers) => {
    const r = await con.runAndReadAll(`SELECT coalesce(sum(num_rows), 0)::DOUBLE FROM ${footers}`);
    return Number(r.getRowsJson()[0]?.[0] ?? 0);
  });
}
