// Whether the performance overlay is shown: answer timings, cache hits and long tasks, for whoever
// wants to see them (Shift+P toggles it; the choice is remembered per browser). Off by default:
// the cards say what the data is, not how fast it came.
import { useSyncExternalStore } from 'react';

const STORAGE_KEY = 'tickscope.perfOverlay';
const listeners = new Set<() => void>();

function stored(): boolean {
  try {
    return localStorage.getItem(STORAGE_KEY) === '1';
  } catch {
    return false; // storage disabled
  }
}

let shown = stored();

export function togglePerfOverlay(): void {
  shown = !shown;
  try {
    localStorage.setItem(STORAGE_KEY, shown ? '1' : '0');
  } catch {
    // storage disabled: the choice lasts for this page
  }
  for (const listener of listeners) listener();
}

export function usePerfOverlay(): boolean {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => shown,
  );
}
