// The risk-free rate the analyst chose in the overview (annual, a decimal fraction), or none: the
// dataset's own (tickscope.json `riskFreeRate`), which the server applies when a request names
// none. The rate travels in the request's params, so every answer and its cache entry are for the
// rate they were asked with.
import { useSyncExternalStore } from 'react';

let chosen: number | undefined;
const listeners = new Set<() => void>();

export function chosenRiskFreeRate(): number | undefined {
  return chosen;
}

/** Sets the rate (undefined: back to the dataset's). */
export function setRiskFreeRate(rate: number | undefined): void {
  if (rate === chosen) return;
  chosen = rate;
  for (const listener of listeners) listener();
}

export function useRiskFreeRate(): number | undefined {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    chosenRiskFreeRate,
  );
}

/** The request params naming the chosen rate, if any. */
export function riskFreeParams(): { riskFreeRate?: number } {
  return chosen === undefined ? {} : { riskFreeRate: chosen };
}
