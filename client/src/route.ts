// The drill path, range and filters live in the URL's query string, so back and forward work
// and a pasted URL opens the same view. Format (every parameter optional):
//
//   /?view=sectors                                   breakdown by sector
//   /?view=sectors&sector=Energy                     the symbols of one sector
//   /?view=symbols                                   every symbol
//   /?view=symbol&symbol=S0042[&sector=Energy|&via=trades|symbols]
//   /?view=symbol&symbol=S0042&trade=base:1234       zoomed to one trade, MAE/MFE marked
//   /?view=trades[&sector=Energy]                    the whole trade list (of one sector)
//   &from=2023-03-01T14:30:00Z&to=2023-03-31T21:00:00Z   the range (UTC, inclusive)
//   &runs=base,alt                                   runs overlaid (default: all)
//   &side=long &tags=a,b &pnl=-500..2000 &ret=-0.02..0.05 &hold=1h..2d   trade filters
//   &hour=14,15 &wday=1,5       trades closing in these exchange hours / on these ISO weekdays (UTC date)
//   &sort=pnl.desc (trade list)  &bsort=contribution.desc (breakdown)
//   &explain=1 | &explain=Energy   the overview's attribution of the range is open (by sector | one sector's symbols)
//   &rf=0.03                       the annual risk-free rate of Sharpe, Sortino and alpha (default: the dataset's)
//   &dataset=demo                                    which dataset (read by the worker)
//   /?view=runs, /?view=diff&a=..&b=.. and their parameters: sweep-route.ts
import { BREAKDOWN_COLUMNS, TRADE_SORT_COLUMNS, type BreakdownColumn, type TradeSortColumn } from '../../shared/constants.js';
import type { NumberRange, Side } from '../../shared/messages.js';
import { parseSweepRoute, writeSweepRoute, type SweepRoute } from './sweep-route.js';

export type Level = 'overview' | 'sectors' | 'symbols' | 'symbol' | 'trades' | 'runs' | 'diff';
const LEVELS: readonly Level[] = ['overview', 'sectors', 'symbols', 'symbol', 'trades', 'runs', 'diff'];

export interface TradeFilters {
  sides?: Side[];
  tags?: string[];
  pnl?: NumberRange;
  ret?: NumberRange;
  holdingMs?: NumberRange;
  /** Close hours in the exchange time zone (0-23), sorted. */
  hours?: number[];
  /** ISO weekdays of the close's UTC date (1 = Monday .. 7 = Sunday), sorted. */
  weekdays?: number[];
}

export interface Sort<C extends string> {
  column: C;
  descending: boolean;
}

export interface Route extends SweepRoute {
  level: Level;
  sector?: string;
  symbol?: string;
  trade?: { run: string; id: number };
  via?: 'trades' | 'symbols';
  from?: number;
  to?: number;
  runs?: string[];
  filters: TradeFilters;
  sort?: Sort<TradeSortColumn>;
  bsort?: Sort<BreakdownColumn>;
  /** The overview's "explain this range" panel is open; `sector`: that sector's symbols. */
  explain?: { sector?: string };
  /** The annual risk-free rate chosen in the UI (a decimal fraction); absent: the dataset's. */
  riskFreeRate?: number;
  dataset?: string;
}

// ---------------------------------------------------------------------------------------------
// Parsing and writing

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function parseTime(s: string | null): number | undefined {
  if (!s) return undefined;
  if (/^-?\d+$/.test(s)) return Number(s);
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);
  return Number.isFinite(t) ? t : undefined;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parseDuration(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([smhd])?$/.exec(s.trim());
  if (!m) return undefined;
  return Number(m[1]) * (m[2] ? UNITS[m[2]]! : 1);
}

function writeDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms % 1000 === 0 ? `${ms / 1000}s` : String(ms);
}

function parseRange(s: string | null, parse: (x: string) => number | undefined = (x) => (x.trim() === '' ? undefined : Number(x))): NumberRange | undefined {
  if (!s) return undefined;
  const [lo = '', hi = ''] = s.split('..');
  const min = lo.trim() ? parse(lo) : undefined;
  const max = hi.trim() ? parse(hi) : undefined;
  const range: NumberRange = {};
  if (min !== undefined && Number.isFinite(min)) range.min = min;
  if (max !== undefined && Number.isFinite(max)) range.max = max;
  return range.min === undefined && range.max === undefined ? undefined : range;
}

function writeRange(r: NumberRange | undefined, write: (x: number) => string = String): string | undefined {
  if (!r || (r.min === undefined && r.max === undefined)) return undefined;
  return `${r.min === undefined ? '' : write(r.min)}..${r.max === undefined ? '' : write(r.max)}`;
}

function list(s: string | null): string[] | undefined {
  if (!s) return undefined;
  const items = s.split(',').map((x) => x.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

/** A comma list of integers within [lo, hi], sorted and unique; undefined when none is valid. */
function integerList(s: string | null, lo: number, hi: number): number[] | undefined {
  const values = (list(s) ?? []).filter((x) => /^\d+$/.test(x)).map(Number).filter((v) => v >= lo && v <= hi);
  return values.length ? [...new Set(values)].sort((a, b) => a - b) : undefined;
}

function parseSort<C extends string>(s: string | null, allowed: readonly C[]): Sort<C> | undefined {
  if (!s) return undefined;
  const [column, dir] = s.split('.');
  if (!allowed.includes(column as C)) return undefined;
  return { column: column as C, descending: dir === 'desc' };
}

export function parseRoute(search: string): Route {
  const q = new URLSearchParams(search);
  const view = q.get('view') as Level | null;
  const level: Level = view && LEVELS.includes(view) ? view : 'overview';
  const route: Route = { level, filters: {} };
  const sector = q.get('sector');
  if (sector && (level === 'sectors' || level === 'symbol' || level === 'trades')) route.sector = sector;
  const symbol = q.get('symbol');
  if (symbol && level === 'symbol') route.symbol = symbol;
  if (level === 'symbol' && !route.symbol) route.level = route.sector ? 'sectors' : 'overview';
  const trade = q.get('trade');
  const tm = trade ? /^(.+):(\d+)$/.exec(trade) : null;
  if (tm && route.level === 'symbol') route.trade = { run: tm[1]!, id: Number(tm[2]) };
  const via = q.get('via');
  if ((via === 'trades' || via === 'symbols') && route.level === 'symbol' && !route.sector) route.via = via;
  const from = parseTime(q.get('from'));
  const to = parseTime(q.get('to'));
  if (from !== undefined && to !== undefined && to > from) {
    route.from = from;
    route.to = to;
  }
  route.runs = list(q.get('runs'));
  const side = q.get('side');
  if (side === 'long' || side === 'short') route.filters.sides = [side];
  const tags = list(q.get('tags'));
  if (tags) route.filters.tags = tags;
  const pnlRange = parseRange(q.get('pnl'));
  if (pnlRange) route.filters.pnl = pnlRange;
  const ret = parseRange(q.get('ret'));
  if (ret) route.filters.ret = ret;
  const hold = parseRange(q.get('hold'), parseDuration);
  if (hold) route.filters.holdingMs = hold;
  const hours = integerList(q.get('hour'), 0, 23);
  if (hours) route.filters.hours = hours;
  const weekdays = integerList(q.get('wday'), 1, 7);
  if (weekdays) route.filters.weekdays = weekdays;
  route.sort = parseSort<TradeSortColumn>(q.get('sort'), TRADE_SORT_COLUMNS);
  route.bsort = parseSort<BreakdownColumn>(q.get('bsort'), BREAKDOWN_COLUMNS);
  const explain = q.get('explain');
  if (explain && route.level === 'overview') route.explain = explain === '1' ? {} : { sector: explain };
  const rf = q.get('rf');
  if (rf && Number.isFinite(Number(rf)) && Math.abs(Number(rf)) <= 1) route.riskFreeRate = Number(rf);
  const sweep = parseSweepRoute(q, route.level);
  Object.assign(route, sweep.fields);
  route.level = sweep.level as Level;
  const dataset = q.get('dataset');
  if (dataset) route.dataset = dataset;
  return route;
}

export function routeSearch(route: Route): string {
  const q = new URLSearchParams();
  if (route.dataset) q.set('dataset', route.dataset);
  if (route.level !== 'overview') q.set('view', route.level);
  if (route.sector) q.set('sector', route.sector);
  if (route.symbol) q.set('symbol', route.symbol);
  if (route.trade) q.set('trade', `${route.trade.run}:${route.trade.id}`);
  if (route.via) q.set('via', route.via);
  if (route.from !== undefined && route.to !== undefined) {
    q.set('from', isoSeconds(route.from));
    q.set('to', isoSeconds(route.to));
  }
  if (route.runs?.length) q.set('runs', route.runs.join(','));
  const f = route.filters;
  if (f.sides?.length === 1) q.set('side', f.sides[0]!);
  if (f.tags?.length) q.set('tags', f.tags.join(','));
  const p = writeRange(f.pnl);
  if (p) q.set('pnl', p);
  const r = writeRange(f.ret);
  if (r) q.set('ret', r);
  const h = writeRange(f.holdingMs, writeDuration);
  if (h) q.set('hold', h);
  if (f.hours?.length) q.set('hour', f.hours.join(','));
  if (f.weekdays?.length) q.set('wday', f.weekdays.join(','));
  if (route.sort) q.set('sort', `${route.sort.column}.${route.sort.descending ? 'desc' : 'asc'}`);
  if (route.bsort) q.set('bsort', `${route.bsort.column}.${route.bsort.descending ? 'desc' : 'asc'}`);
  if (route.explain && route.level === 'overview') q.set('explain', route.explain.sector ?? '1');
  if (route.riskFreeRate !== undefined) q.set('rf', String(route.riskFreeRate));
  writeSweepRoute(q, route);
  const s = q.toString().replace(/%3A/gi, ':').replace(/%2C/gi, ',');
  return s ? `?${s}` : '';
}

// ---------------------------------------------------------------------------------------------
// Navigation

interface HistoryState {
  /** The URL this entry was pushed from: lets "up" go back instead of piling entries. */
  from?: string;
}

let currentSearch = typeof location === 'undefined' ? '' : location.search;
let current = parseRoute(currentSearch);
/** Told of each change; `urgent`: the change must be drawn in the task that made it (see navigate). */
type RouteListener = (urgent: boolean) => void;
const listeners = new Set<RouteListener>();

function publish(urgent: boolean): void {
  const search = location.search;
  if (search === currentSearch) return;
  currentSearch = search;
  current = parseRoute(search);
  for (const l of listeners) l(urgent);
}

if (typeof window !== 'undefined') window.addEventListener('popstate', () => publish(false));

export function subscribeRoute(listener: RouteListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function getRoute(): Route {
  return current;
}

/**
 * Goes to `next`. `urgent`: the change is drawn in the event's own task rather than in a
 * transition; for a form control whose value is the route's (a filter's select or checkbox),
 * which would otherwise show its old value until the transition commits.
 */
export function navigate(next: Route, { replace = false, urgent = false } = {}): void {
  const search = routeSearch({ ...next, dataset: next.dataset ?? current.dataset });
  if (search === location.search) return;
  const url = `${location.pathname}${search}${location.hash}`;
  if (replace) history.replaceState(history.state, '', url);
  else history.pushState({ from: location.search } satisfies HistoryState, '', url);
  publish(urgent);
}

/** What identifies a level of the drill path (ignoring range, filters and sorts). */
function pathKey(r: Route): string {
  return [r.level, r.sector ?? '', r.symbol ?? '', r.trade ? `${r.trade.run}:${r.trade.id}` : '', r.via ?? ''].join('|');
}

export interface Crumb {
  label: string;
  route: Route;
}

/** The drill path of a route, from the portfolio down; the last crumb is the route itself. */
export function crumbs(route: Route): Crumb[] {
  const keep = {
    from: route.from,
    to: route.to,
    runs: route.runs,
    filters: route.filters,
    sort: route.sort,
    bsort: route.bsort,
    riskFreeRate: route.riskFreeRate,
    lsort: route.lsort,
    pfilter: route.pfilter,
    surface: route.surface,
    dataset: route.dataset,
  };
  const out: Crumb[] = [{ label: 'Portfolio', route: { ...keep, level: 'overview' } }];
  const push = (label: string, r: Omit<Route, keyof typeof keep>) => out.push({ label, route: { ...keep, ...r } });
  switch (route.level) {
    case 'overview':
      break;
    case 'sectors':
      push('Sectors', { level: 'sectors' });
      if (route.sector) push(route.sector, { level: 'sectors', sector: route.sector });
      break;
    case 'symbols':
      push('Symbols', { level: 'symbols' });
      break;
    case 'runs':
      push('Runs', { level: 'runs' });
      break;
    case 'diff':
      push('Runs', { level: 'runs' });
      if (route.diff) push(`${route.diff.a} vs ${route.diff.b}`, { level: 'diff', diff: route.diff });
      break;
    case 'trades':
      push('Trades', { level: 'trades' });
      if (route.sector) push(route.sector, { level: 'trades', sector: route.sector });
      break;
    case 'symbol':
      if (route.via === 'trades') push('Trades', { level: 'trades' });
      else if (route.via === 'symbols') push('Symbols', { level: 'symbols' });
      else {
        push('Sectors', { level: 'sectors' });
        if (route.sector) push(route.sector, { level: 'sectors', sector: route.sector });
      }
      push(route.symbol ?? '?', { level: 'symbol', symbol: route.symbol, sector: route.sector, via: route.via });
      if (route.trade) {
        push(`Trade ${route.trade.id}${route.runs?.length === 1 ? '' : ` (${route.trade.run})`}`, {
          level: 'symbol',
          symbol: route.symbol,
          sector: route.sector,
          via: route.via,
          trade: route.trade,
        });
      }
      break;
  }
  return out;
}

/**
 * Where Esc leads from the current route: back in history when that is where we came from (the
 * range the user had comes back with it), else to the parent level.
 */
export function upTarget(): { route: Route; back: boolean } | null {
  const path = crumbs(current);
  if (path.length < 2) return null;
  const parent = path[path.length - 2]!.route;
  const state = typeof history === 'undefined' ? null : (history.state as HistoryState | null);
  if (state?.from !== undefined) {
    const came = parseRoute(state.from);
    if (pathKey(came) === pathKey(parent)) return { route: came, back: true };
  }
  // Leaving a trade: its zoom window is no range to keep.
  return { route: current.trade ? { ...parent, from: undefined, to: undefined } : parent, back: false };
}

/** Up one level (Esc). */
export function goUp(): void {
  const up = upTarget();
  if (!up) return;
  if (up.back) history.back();
  else navigate(up.route);
}

/** The scope every query of a route shares: runs, range, trade filters. */
export function scopeOf(route: Route) {
  const filters: Record<string, unknown> = {};
  const f = route.filters;
  if (f.sides?.length) filters.sides = f.sides;
  if (f.tags?.length) filters.tags = f.tags;
  if (f.pnl) filters.pnl = f.pnl;
  if (f.ret) filters.ret = f.ret;
  if (f.holdingMs) filters.holdingMs = f.holdingMs;
  if (f.hours?.length) filters.hours = f.hours;
  if (f.weekdays?.length) filters.weekdays = f.weekdays;
  return {
    ...(route.runs?.length ? { runs: route.runs } : {}),
    ...(route.from !== undefined && route.to !== undefined ? { from: route.from, to: route.to } : {}),
    ...(Object.keys(filters).length ? { filters: filters as TradeFilters } : {}),
  };
}

export function hasTradeFilters(route: Route): boolean {
  const f = route.filters;
  return !!(f.sides?.length || f.tags?.length || f.pnl || f.ret || f.holdingMs || f.hours?.length || f.weekdays?.length);
}
