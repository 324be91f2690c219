// The default pin of a dataset with more runs than a tab pins (a parameter sweep): the runs a tab
// shows first (shared/default-pin.ts), chosen from one leaderboard of every run over the whole
// history. The session sends it in its hello, so a tab's first chart waits for no leaderboard of
// its own (on the 200-run sweep, a round trip and a render before the first equity request). A
// pool process computes it while it waits for a tab; the metrics behind it are then kept per store
// (queries/sweep.ts), so the tab's own leaderboard of the whole history reads nothing.
import { tableFromIPC } from 'apache-arrow';
import { MAX_PINNED_RUNS } from '../../shared/constants.js';
import { defaultPinOf, type DefaultPin } from '../../shared/default-pin.js';
import { planLeaderboard } from './queries/leaderboard.js';
import { QueryRunner } from './query-runner.js';
import type { OpenStore } from './store.js';

/** The store's default pin, or null when it has no more runs than a tab pins (every run is shown). */
export async function defaultPinFor(store: OpenStore): Promise<DefaultPin | null> {
  const runs = store.catalog.runs.size;
  if (runs <= MAX_PINNED_RUNS) return null;
  const ranked: string[] = [];
  const runner = new QueryRunner(store.instance, 1);
  try {
    // Every run, by Sharpe (missing last): the leaderboard a tab would otherwise ask.
    await runner.run({
      planner: planLeaderboard({ sort: { column: 'sharpe', descending: true }, limit: runs }, store.catalog),
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
