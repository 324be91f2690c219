// Opens a prepared store READ_ONLY for one session. Many session processes open the same file at
// once; DuckDB's READ_ONLY mode lets them share it through the OS page cache.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { DatasetSchema } from '../../shared/protocol.js';
import { META_TABLE, MetaKey, STORE_FORMAT_VERSION, StoreTable } from '../store/format.js';

export interface OpenStore {
  instance: DuckDBInstance;
  schema: Omit<DatasetSchema, 'id'>;
  /** Run ids in the store: the allow-list against which client-supplied run ids are checked. */
  runIds: ReadonlySet<string>;
  close(): void;
}

export interface OpenStoreOptions {
  storePath: string;
  memoryLimit: string;
  threads: number;
}

export async function openStore({ storePath, memoryLimit, threads }: OpenStoreOptions): Promise<OpenStore> {
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(storePath, {
      access_mode: 'READ_ONLY',
      memory_limit: memoryLimit,
      threads: String(threads),
    });
  } catch (error) {
    throw new Error(`cannot open prepared store ${storePath}: ${(error as Error).message}`);
  }
  const connection = await instance.connect();
  try {
    const version = await readFormatVersion(connection, storePath);
    if (version !== STORE_FORMAT_VERSION) {
      throw new Error(
        `prepared store ${storePath} has format version ${version}, this build reads ${STORE_FORMAT_VERSION}; prepare the dataset again`,
      );
    }
    const schema = await readSchema(connection);
    return {
      instance,
      schema,
      runIds: new Set(schema.runs.map((run) => run.runId)),
      close: () => instance.closeSync(),
    };
  } catch (error) {
    instance.closeSync();
    throw error;
  } finally {
    connection.closeSync();
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
    throw new Error(`prepared store ${storePath} has no readable ${META_TABLE} table: ${(error as Error).message}`);
  }
}

async function readSchema(connection: DuckDBConnection): Promise<Omit<DatasetSchema, 'id'>> {
  const runs = await connection.runAndReadAll(`SELECT run_id, name FROM ${StoreTable.runs} ORDER BY run_id`);
  const counts = await connection.runAndReadAll(`
    SELECT (SELECT count(*) FROM ${StoreTable.symbols})::DOUBLE,
           (SELECT count(*) FROM ${StoreTable.bars})::DOUBLE,
           (SELECT count(*) FROM ${StoreTable.trades})::DOUBLE,
           (SELECT epoch_ms(min(ts))::DOUBLE FROM ${StoreTable.portfolioBar}),
           (SELECT epoch_ms(max(ts))::DOUBLE FROM ${StoreTable.portfolioBar})`);
  const [symbolCount, barCount, tradeCount, from, to] = counts.getRows()[0] as (number | null)[];
  return {
    runs: runs.getRows().map(([runId, name]) => ({ runId: String(runId), name: String(name ?? runId) })),
    symbolCount: symbolCount ?? 0,
    barCount: barCount ?? 0,
    tradeCount: tradeCount ?? 0,
    range: from === null || from === undefined || to === null || to === undefined ? null : { from, to },
  };
}
