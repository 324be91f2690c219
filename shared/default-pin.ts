// The runs a tab shows first when a dataset has more than it pins (a parameter sweep): the best
// DEFAULT_BEST by Sharpe over the whole history plus the median run. The session chooses them
// before its first hello (server/session/warm-up.ts) so that a tab's first chart waits for no
// leaderboard; the UI applies the same rule to a leaderboard answer when the hello has none.

/** How many of the best runs by Sharpe the default pin holds (the median run comes on top). */
export const DEFAULT_BEST = 3;

export interface DefaultPin {
  runs: string[];
  /** The runs the choice was made among (the dataset's, with a finite Sharpe or not). */
  of: number;
}

/**
 * The best DEFAULT_BEST of `ranked` (the runs with a finite Sharpe, best first) and its median
 * (the lower middle one of an even count), in the dataset's run order (`runOrder`), so colors and
 * legends read as elsewhere. Runs without a Sharpe are never chosen.
 */
export function defaultPinOf(ranked: readonly string[], runOrder: readonly string[]): DefaultPin {
  const chosen = new Set(ranked.slice(0, DEFAULT_BEST));
  if (ranked.length > 0) chosen.add(ranked[Math.floor((ranked.length - 1) / 2)]!);
  return { runs: runOrder.filter((r) => chosen.has(r)), of: runOrder.length };
}
