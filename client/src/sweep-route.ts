// The parameter sweep's part of the URL (route.ts reads and writes it with the rest):
//
//   /?view=runs                                      the runs leaderboard and parameter surface
//   /?view=diff&a=r012&b=r045                        run a compared with run b, trade by trade
//   &lsort=sharpe.desc | &lsort=param.window.asc     the leaderboard's sort (a metric, run_id, name or param.<key>)
//   &pf=window:10,20 (repeated per parameter)        the leaderboard's parameter filter: runs with these values
//   &sx=window&sy=threshold&sm=sharpe                the surface's axes (sy absent: a line) and metric
//
// A parameter's name and values are URI-encoded inside `pf`, so a value holding ':' or ',' survives.
import { LEADERBOARD_METRICS, type LeaderboardMetric } from '../../shared/constants.js';

export interface SurfaceChoice {
  x: string;
  y?: string;
  metric: LeaderboardMetric;
}

/** The route's fields of the sweep views (route.ts's Route extends these). */
export interface SweepRoute {
  /** The leaderboard's sort: a LEADERBOARD_METRICS name, 'run_id', 'name' or `param.<key>`. */
  lsort?: { column: string; descending: boolean };
  /** Parameter name -> the values kept (as their text; the dataset's runs give their type back). */
  pfilter?: Record<string, string[]>;
  surface?: SurfaceChoice;
  /** The two runs of the run diff (level 'diff'). */
  diff?: { a: string; b: string };
}

function parseSort(s: string | null): SweepRoute['lsort'] {
  if (!s) return undefined;
  const dot = s.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const dir = s.slice(dot + 1);
  if (dir !== 'asc' && dir !== 'desc') return undefined;
  return { column: s.slice(0, dot), descending: dir === 'desc' };
}

function parseFilter(entries: string[]): SweepRoute['pfilter'] {
  const out: Record<string, string[]> = {};
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    if (colon <= 0) continue;
    try {
      const name = decodeURIComponent(entry.slice(0, colon));
      const values = entry
        .slice(colon + 1)
        .split(',')
        .filter((v) => v !== '')
        .map(decodeURIComponent);
      if (values.length) out[name] = [...new Set([...(out[name] ?? []), ...values])];
    } catch {
      // A hand-edited entry with a broken %-escape: the filter is dropped, the view still opens.
      continue;
    }
  }
  return Object.keys(out).length ? out : undefined;
}

/** The sweep fields of a query string; `level` 'diff' without both runs falls back to 'runs'. */
export function parseSweepRoute(q: URLSearchParams, level: string): { fields: SweepRoute; level: string } {
  const fields: SweepRoute = {};
  const lsort = parseSort(q.get('lsort'));
  if (lsort) fields.lsort = lsort;
  const pfilter = parseFilter(q.getAll('pf'));
  if (pfilter) fields.pfilter = pfilter;
  const x = q.get('sx');
  const metric = q.get('sm') as LeaderboardMetric | null;
  if (x) {
    const y = q.get('sy');
    fields.surface = { x, ...(y && y !== x ? { y } : {}), metric: metric && LEADERBOARD_METRICS.includes(metric) ? metric : 'sharpe' };
  }
  if (level === 'diff') {
    const a = q.get('a');
    const b = q.get('b');
    if (!a || !b || a === b) return { fields, level: 'runs' };
    fields.diff = { a, b };
  }
  return { fields, level };
}

export function writeSweepRoute(q: URLSearchParams, route: SweepRoute & { level: string }): void {
  if (route.level === 'diff' && route.diff) {
    q.set('a', route.diff.a);
    q.set('b', route.diff.b);
  }
  if (route.lsort) q.set('lsort', `${route.lsort.column}.${route.lsort.descending ? 'desc' : 'asc'}`);
  for (const [name, values] of Object.entries(route.pfilter ?? {})) {
    if (values.length) q.append('pf', `${encodeURIComponent(name)}:${values.map(encodeURIComponent).join(',')}`);
  }
  if (route.surface) {
    q.set('sx', route.surface.x);
    if (route.surface.y) q.set('sy', route.surface.y);
    q.set('sm', route.surface.metric);
  }
}
