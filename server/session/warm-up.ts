// What a pool process does for its store while it waits for a tab: ranks the default pin, and loads
// the metadata of the bar tables.
//
// The default pin of a dataset with more runs than a tab pins (a parameter sweep): the runs a tab
// shows first (shared/default-pin.ts), chosen from one leaderboard of every run over the whole
// history. The session sends it in its hello, so a tab's first chart waits for no leaderboard of
// its own (on the 200-run sweep, a round trip and a render before the first equity request). A
// pool process computes it while it waits for a tab; the metrics behind it are then kept per store
// (queries/sweep.ts), so the tab's own leaderboard of the whole history reads nothing. The ranking
// is an answer like any other: kept in the store's shared answer cache, the next process of the
// store reads it instead of ranking again (about a second of CPU on the 200-run sweep).
import type { DuckDBValue } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import { MAX_PINNED_RUNS } from '../../shared/constants.js';
import { defaultPinOf, type DefaultPin } from '../../shared/default-pin.js';
import { planLeaderboard } from './queries/leaderboard.js';
import { answerKey, type AnswerCache } from './answer-cache.js';
import { QueryRunner } from './query-runner.js';
import { StoreTable } from '../store/format.js';
import type { Catalog, OpenStore } from './store.js';

/** The store's default pin, or null when it has no more runs than a tab pins (every run is shown). */
export async function defaultPinFor(store: OpenStore, answers: AnswerCache | null = null): Promise<DefaultPin | null> {
  const runs = store.catalog.runs.size;
  if (runs <= MAX_PINNED_RUNS) return null;
  const ranked: string[] = [];
  const runner = new QueryRunner(store.instance, 1, { answers });
  // Every run, by Sharpe (missing last): the leaderboard a tab would otherwise ask.
  const params = { sort: { column: 'sharpe' as const, descending: true }, limit: runs };
  try {
    await runner.run({
      planner: planLeaderboard(params, store.catalog),
      cacheKey: answerKey({ query: 'leaderboard', params }),
      signal: new AbortController().signal,
      onBatch: async (ipc) => {
        const batch = tableFromIPC(ipc);
        const ids = batch.getChild('run_id');
        const sharpe = batch.getChild('sharpe');
        if (!ids || !sharpe) throw new Error(`the leaderboard's answer has no ${ids ? 'sharpe' : 'run_id'} column`);
        for (let i = 0; i < batch.numRows; i++) if (Number.isFinite(sharpe.get(i))) ranked.push(String(ids.get(i)));
      },
    });
  } finally {
    runner.close();
  }
  return defaultPinOf(ranked, store.schema.runs.map((r) => r.runId));
}

/**
 * Loads what DuckDB keeps of the per-bar tables of every symbol, `bars` (sorted by symbol: a symbol
 * view) and `bars_by_time` (sorted by time: the days a zoom cuts), in an instance that has not read
 * them yet. DuckDB loads a table's row groups' metadata on its first read of the table and keeps it
 * for the instance's life; a filter on the leading sort column, with a value between two rows,
 * makes it load every row group's to test its zone map, and read at most one row group's column.
 * On `large` (1,920 row groups each; a new process, store in the page cache): a first symbol's
 * series 28-44 -> 17 ms, a first zoom's cut day 29-38 -> 12-15 ms, for 40-45 ms of one core and
 * 20 MiB of resident memory that a busy session holds anyway (SESSION_BASE_BYTES). Run when the
 * store is opened for a tab (ahead of it in the pool, or at the assignment once the tab's first
 * requests are answered: main.ts), not at the idle reopen (idle-memory.ts), which opens the store
 * again to give that memory back.
 */
export async function loadBarTableMetadata(store: OpenStore): Promise<void> {
  const connection = await store.instance.connect();
  try {
    for (const probe of barTableProbes(store.catalog)) await connection.run(probe.sql, probe.params);
  } finally {
    connection.closeSync();
  }
}

/** loadBarTableMetadata's reads: a count of each bar table's rows at a value between two of its rows. */
export function barTableProbes(catalog: Pick<Catalog, 'symbols' | 'days'>): { sql: string; params: DuckDBValue[] }[] {
  const [firstSymbol] = [...catalog.symbols.keys()].sort();
  const firstDay = catalog.days[0];
  if (firstSymbol === undefined || firstDay === undefined) return [];
  return [
    // Just after the first symbol in sort order, and 1 µs after the first bar.
    { sql: `SELECT count(*) FROM ${StoreTable.bars} WHERE symbol = $1`, params: [`${firstSymbol}\u0001`] },
    { sql: `SELECT count(*) FROM ${StoreTable.barsByTime} WHERE ts = make_timestamp($1::BIGINT)`, params: [BigInt(firstDay.first) * 1000n + 1n] },
  ];
}
