// The runs every view shows: the pinned runs. With few runs (MAX_PINNED_RUNS or fewer) that is
// every run unless the URL names some, as before sweeps. With more, requests name the pinned runs
// (a selection, never the list of every run), and until the analyst pins some the default is the
// best few by Sharpe plus the median run over the whole history (shared/default-pin.ts), which the
// session's hello brings, written into the URL (so a link reproduces the view and the header can
// say why these runs). Pure (no DOM, no session): the hook is use-pinned-runs.ts.
import { MAX_PINNED_RUNS } from '../../shared/constants.js';
import { DEFAULT_BEST, defaultPinOf, type DefaultPin } from '../../shared/default-pin.js';
import { num, str } from './table.js';
import type { ColumnTable, DatasetSchema } from './worker/types.js';

/** What pinning reads of a route (route.ts's Route has these). */
export interface PinRoute {
  runs?: string[];
  trade?: { run: string; id: number };
}

/** More runs than can be shown at once: views show the pinned ones. */
export function manyRuns(dataset: DatasetSchema): boolean {
  return dataset.runs.length > MAX_PINNED_RUNS;
}

/**
 * The default pin (shared/default-pin.ts) from a leaderboard sorted by Sharpe descending (NaN
 * last): what a tab falls back to when the session's hello brought none.
 */
export function chooseDefaultPin(table: ColumnTable, dataset: DatasetSchema): DefaultPin {
  const ranked: string[] = [];
  for (let i = 0; i < table.length; i++) if (Number.isFinite(num(table, 'sharpe', i))) ranked.push(str(table, 'run_id', i));
  return defaultPinOf(ranked, dataset.runs.map((r) => r.runId));
}

/** The runs the views show for this route; null while the default pin is being chosen. */
export function pinnedRuns(route: PinRoute, dataset: DatasetSchema, defaults: DefaultPin | null): string[] | null {
  if (route.runs?.length) return route.runs;
  if (!manyRuns(dataset)) return dataset.runs.map((r) => r.runId);
  return defaults?.runs ?? null;
}

/** The route with `runId` pinned or unpinned; null when pinning it would exceed MAX_PINNED_RUNS. */
export function togglePin<R extends PinRoute>(route: R, dataset: DatasetSchema, defaults: DefaultPin | null, runId: string): R | null {
  const current = new Set(pinnedRuns(route, dataset, defaults) ?? []);
  if (current.has(runId)) current.delete(runId);
  else if (current.size >= MAX_PINNED_RUNS) return null;
  else current.add(runId);
  const all = dataset.runs.map((r) => r.runId);
  const next = all.filter((r) => current.has(r));
  // With few runs, none or all pinned is the plain "every run" (no list in the URL); with many,
  // none pinned brings the default back.
  const every = next.length === 0 || (!manyRuns(dataset) && next.length === all.length);
  return { ...route, runs: every ? undefined : next, trade: route.trade && current.has(route.trade.run) ? route.trade : undefined };
}

/** The route with `runId` pinned (unchanged when it is); null when MAX_PINNED_RUNS are pinned already. */
export function pinRun<R extends PinRoute>(route: R, dataset: DatasetSchema, defaults: DefaultPin | null, runId: string): R | null {
  const current = pinnedRuns(route, dataset, defaults) ?? [];
  return current.includes(runId) ? { ...route, runs: current } : togglePin(route, dataset, defaults, runId);
}

export function isDefaultPin(pinned: readonly string[] | null, defaults: DefaultPin | null): boolean {
  if (!pinned || !defaults || pinned.length !== defaults.runs.length) return false;
  const set = new Set(defaults.runs);
  return pinned.every((r) => set.has(r));
}

/** What the header says about the runs shown. */
export function pinnedLabel(dataset: DatasetSchema, pinned: readonly string[] | null, defaults: DefaultPin | null): string {
  const total = dataset.runs.length;
  if (!pinned) return `choosing runs to show among ${total}…`;
  if (isDefaultPin(pinned, defaults)) {
    const best = Math.min(DEFAULT_BEST, pinned.length);
    const median = pinned.length > best ? ' + median' : '';
    return `pinned: ${best} best by Sharpe${median} of ${total} runs`;
  }
  return `pinned: ${pinned.length} of ${total} runs`;
}

export interface PinState {
  defaults: DefaultPin | null;
  pinned: string[] | null;
  /** The views can ask: the runs to show are known. */
  ready: boolean;
  error: string | null;
}
