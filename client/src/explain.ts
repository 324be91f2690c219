// Whether the attribution of the selected range ("explain this range") is open, and which sector's
// symbols it shows. Opened from the range chip in the navbar and by a click on a drawdown episode;
// the overview draws it. Not in the URL: it is a panel of the overview, not a place of the drill path.
import { useSyncExternalStore } from 'react';

export interface ExplainState {
  open: boolean;
  /** The sector whose symbols the waterfall shows; the sectors when absent. */
  sector?: string;
}

let state: ExplainState = { open: false };
const listeners = new Set<() => void>();

function publish(next: ExplainState): void {
  state = next;
  for (const listener of listeners) listener();
}

export function openExplain(sector?: string): void {
  publish(sector === undefined ? { open: true } : { open: true, sector });
}

export function closeExplain(): void {
  publish({ open: false });
}

export function useExplain(): ExplainState {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => state,
  );
}
