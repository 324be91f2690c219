// What a pool process computes for a sweep while it waits for a tab. A tab opening a dataset of
// more runs than it pins first asks one leaderboard of every run over the whole history (its
// default pin: client/src/use-pinned-runs.ts) and draws nothing until it has it; on the 200-run
// sweep that is every run's daily rows and trade statistics, a few hundred ms of a new process.
// Computed here, while the process is idle in the pool, it is in the sweep metrics kept per store
// (queries/sweep.ts) when the tab asks.
import { MAX_PINNED_RUNS } from '../../shared/constants.js';
import { planLeaderboard } from './queries/leaderboard.js';
import { QueryRunner } from './query-runner.js';
import type { OpenStore } from './store.js';

/** Fills the store's whole-history sweep metrics when it has more runs than a tab pins. */
export async function warmSweepMetrics(store: OpenStore): Promise<boolean> {
  if (store.catalog.runs.size <= MAX_PINNED_RUNS) return false;
  const runner = new QueryRunner(store.instance, 1);
  try {
    // The metrics of a range do not depend on the sort or the window: one row is enough.
    await runner.run({
      planner: planLeaderboard({ sort: { column: 'sharpe', descending: true }, limit: 1 }, store.catalog),
      signal: new AbortController().signal,
      onBatch: async () => undefined,
    });
    return true;
  } finally {
    runner.close();
  }
}
