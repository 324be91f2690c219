// A DuckDB database for a test to look into: a prepared store (read-only unless asked) or a fresh
// one in memory, with the session time zone UTC so timestamps print as stored.
import { DuckDBInstance } from '@duckdb/node-api';

/** Runs SQL, returns the rows as JSON-friendly objects. */
export type Q = (sql: string) => Promise<Record<string, unknown>[]>;

export async function withDb<T>(file: string, fn: (q: Q) => Promise<T>, mode: 'READ_ONLY' | 'READ_WRITE' = 'READ_ONLY'): Promise<T> {
  const inst = await DuckDBInstance.create(file, file === ':memory:' ? {} : { access_mode: mode });
  const con = await inst.connect();
  try {
    await con.run(`SET TimeZone = 'UTC'`);
    return await fn(async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson());
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

/** A fresh in-memory database (for reading and writing Parquet). */
export const mem = <T>(fn: (q: Q) => Promise<T>): Promise<T> => withDb(':memory:', fn);
