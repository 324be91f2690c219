// An answer streamed as Arrow (one computed in the session: episodes, the leaderboard), as the
// columns of a DuckDB table: what its type is there and how a row's value is appended. A download
// of such an answer is written from a temporary table of these (query-runner.ts copyToFile), so
// CSV and Parquet always come from DuckDB's own writers.
import { DuckDBTypeId, type DuckDBAppender } from '@duckdb/node-api';
import { DataType, tableFromIPC, type Table, type Vector } from 'apache-arrow';

export interface ArrowColumn {
  name: string;
  sqlType: 'DOUBLE' | 'INTEGER' | 'BIGINT' | 'BOOLEAN' | 'VARCHAR';
  typeId: DuckDBTypeId;
  append(appender: DuckDBAppender, row: number): void;
}

export interface ArrowColumns {
  rows: number;
  columns: ArrowColumn[];
}

/** The rows of the answer's Arrow IPC batches (each a self-contained stream of one schema). */
export function arrowColumns(batches: readonly Uint8Array[]): ArrowColumns {
  const tables = batches.map((ipc) => tableFromIPC(ipc));
  const table: Table | undefined = tables.length ? tables.reduce((a, b) => a.concat(b)) : undefined;
  if (!table) return { rows: 0, columns: [] };
  const columns = table.schema.fields.map((field, index): ArrowColumn => {
    const vector = table.getChildAt(index)!;
    return { name: field.name, ...columnOf(field.name, field.type, vector) };
  });
  return { rows: table.numRows, columns };
}

function columnOf(name: string, type: DataType, vector: Vector): Omit<ArrowColumn, 'name'> {
  /** Appends row `row`'s value with `append`, or NULL when it has none (NaN counts as none). */
  const appender =
    <T>(append: (a: DuckDBAppender, value: T) => void) =>
    (a: DuckDBAppender, row: number): void => {
      const value = vector.get(row) as T | null | undefined;
      if (value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value))) a.appendNull();
      else append(a, value);
    };
  if (DataType.isFloat(type)) return { sqlType: 'DOUBLE', typeId: DuckDBTypeId.DOUBLE, append: appender<number>((a, v) => a.appendDouble(v)) };
  if (DataType.isInt(type) && type.bitWidth <= 32) return { sqlType: 'INTEGER', typeId: DuckDBTypeId.INTEGER, append: appender<number>((a, v) => a.appendInteger(v)) };
  if (DataType.isInt(type)) return { sqlType: 'BIGINT', typeId: DuckDBTypeId.BIGINT, append: appender<bigint | number>((a, v) => a.appendBigInt(BigInt(v))) };
  if (DataType.isBool(type)) return { sqlType: 'BOOLEAN', typeId: DuckDBTypeId.BOOLEAN, append: appender<boolean>((a, v) => a.appendBoolean(v)) };
  if (DataType.isUtf8(type) || DataType.isDictionary(type)) {
    return { sqlType: 'VARCHAR', typeId: DuckDBTypeId.VARCHAR, append: appender<unknown>((a, v) => a.appendVarchar(String(v))) };
  }
  throw new Error(`download: column "${name}" has Arrow type ${String(type)}, which a downloaded file cannot hold yet`);
}
