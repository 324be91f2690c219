// The runs' parameters (RunInfo.params, flattened by the session) as the sweep views use them:
// the names, each one's distinct values, and the leaderboard's parameter filter as a request's
// `params` conditions (the URL keeps values as text; the runs give their type back).
import type { ParamFilters } from '../../shared/messages.js';
/** What the parameter filter reads of a route (route.ts's Route has it). */
interface FilterRoute {
  pfilter?: Record<string, string[]>;
}
import type { DatasetSchema } from './worker/types.js';

export type ParamValue = number | string | boolean;

/** Every parameter name of the dataset's runs, sorted (as the server lists them). */
export function paramNames(dataset: DatasetSchema): string[] {
  const names = new Set<string>();
  for (const run of dataset.runs) for (const key of Object.keys(run.params ?? {})) names.add(key);
  return [...names].sort();
}

function compareValues(a: ParamValue, b: ParamValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The distinct values of a parameter over the runs (nulls left out), in order. */
export function paramValues(dataset: DatasetSchema, name: string): ParamValue[] {
  const seen = new Map<string, ParamValue>();
  for (const run of dataset.runs) {
    const v = run.params?.[name];
    if (v !== null && v !== undefined && !seen.has(String(v))) seen.set(String(v), v);
  }
  return [...seen.values()].sort(compareValues);
}

/** The parameters that take more than one value: the axes of a sweep. */
export function sweptParams(dataset: DatasetSchema): string[] {
  return paramNames(dataset).filter((name) => paramValues(dataset, name).length > 1);
}

/** The route's parameter filter as request conditions (values typed as the runs have them). */
export function paramFilters(route: FilterRoute, dataset: DatasetSchema): ParamFilters | undefined {
  const out: ParamFilters = [];
  for (const [name, texts] of Object.entries(route.pfilter ?? {})) {
    if (!texts.length) continue;
    const byText = new Map(paramValues(dataset, name).map((v) => [String(v), v]));
    // A value no run has (a stale link) stays as its text: it keeps no run, as the link meant.
    out.push({ name, values: texts.map((t) => byText.get(t) ?? t) });
  }
  return out.length ? out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) : undefined;
}

/** The route with a parameter's value added to or taken out of the filter. */
export function toggleParamValue<R extends FilterRoute>(route: R, name: string, value: ParamValue): R {
  const text = String(value);
  const current = new Set(route.pfilter?.[name] ?? []);
  if (current.has(text)) current.delete(text);
  else current.add(text);
  const pfilter = { ...route.pfilter };
  if (current.size) pfilter[name] = [...current];
  else delete pfilter[name];
  return { ...route, pfilter: Object.keys(pfilter).length ? pfilter : undefined };
}
