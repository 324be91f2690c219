// The key of a spec: equal for equal specs, whatever the order of the params' keys (undefined
// values dropped). The worker keys its flights and its cache by it; the views, their state.
import type { Spec } from './worker/types.js';

/** JSON with object keys sorted, undefined dropped. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The spec's key; '' for no spec. */
export function specKey(spec: Spec | null): string {
  return spec ? `${spec.query}:${stableJson(spec.params)}` : '';
}
