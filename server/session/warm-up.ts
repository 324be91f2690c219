// The default pin of a dataset with more runs than a tab pins (a parameter sweep): the runs a tab
// shows first (shared/default-pin.ts), chosen from one leaderboard of every run over the whole
// history. The session sends it in its hello, so a tab's first chart waits for no leaderboard of
// its own (on the 200-run sweep, a round trip and a render before the first equity request). A
// pool process computes it while it waits for a tab; the metrics behind it are then kept per store
// (queries/sweep.ts), so the tab's own leaderboard of the whole history reads nothing. The ranking
// is an answer like any other: kept in the store's shared answer cache, the next process of the
// store reads it instead of ranking again (about a second of CPU on the 200-run sweep).
import { tableFromIPC } from 'apache-arrow';
import { MAX_PINNED_RUNS } from '../../shared/constants.js';
import { defaultPinOf, type DefaultPin } from '../../shared/default-pin.js';
import { planLeaderboard } from './queries/leaderboard.js';
import { answerKey, type AnswerCache } from './answer-cache.js';
import { QueryRunner } from './query-runner.js';
import type { OpenStore } from './store.js';

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
