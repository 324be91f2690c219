// The scope every query is over: runs, an inclusive time range and the active filters, checked
// against the store's allow-lists. Nothing a client sends reaches SQL unchecked: run ids, sectors,
// symbols and tags must be the dataset's own and are then bound as parameters.
import type { Filters, NumberRange } from '../../../shared/messages.js';
import { exchangeTimeSql } from '../../store/format.js';
import type { Catalog, TradingDay } from '../store.js';
import { BadParamsError } from './errors.js';
import { and, type Binder } from './sql.js';

export interface ScopeParams {
  runs?: string[];
  from?: number;
  to?: number;
  filters?: Filters;
}

/** How a time range is answered: whole days from day rollups, cut days from bar tables. */
export interface RangePlan {
  /** False when neither bound was given (everything). */
  bounded: boolean;
  /** Whole days in the range, as an inclusive ISO date interval; null if none. */
  full: { lo: string; hi: string } | null;
  /** True when the whole days are every day of the dataset and nothing is cut. */
  everything: boolean;
  /** Inclusive windows (epoch ms) of the days the range cuts: at most two. */
  cuts: RangeCut[];
}

/** A day the range cuts: the window of it in the range, and the catalog's day. */
export interface RangeCut {
  from: number;
  to: number;
  day: TradingDay;
}

export interface TradeFilters {
  sides?: string[];
  tags?: string[];
  ranges: { column: TradeRangeColumn; range: NumberRange }[];
  /** Close hours (exchange time zone, 0-23) and ISO weekdays (of the close's UTC date), sorted. */
  hours?: number[];
  weekdays?: number[];
}
export type TradeRangeColumn = 'pnl' | 'ret' | 'bars_held' | 'holding_ms' | 'mae' | 'mfe';

export interface Scope {
  /** Selected run ids, sorted; every run when the request names none. */
  runs: string[];
  /** True when every run of the dataset is selected (no run condition needed). */
  allRuns: boolean;
  from?: number;
  to?: number;
  sectors?: string[];
  symbols?: string[];
  trade: TradeFilters;
  range: RangePlan;
  /** The exchange time zone (IANA; 'UTC' when none is known): hours of the day are in it. */
  timezone: string;
  /** Each run's run_key (Catalog.runKeys): what runsCondition prunes a run's rows by. */
  runKeys: ReadonlyMap<string, number>;
}

const RANGE_FILTERS: [keyof Filters, TradeRangeColumn][] = [
  ['pnl', 'pnl'],
  ['ret', 'ret'],
  ['barsHeld', 'bars_held'],
  ['holdingMs', 'holding_ms'],
  ['mae', 'mae'],
  ['mfe', 'mfe'],
];

function checked(kind: string, values: readonly string[] | undefined, known: { has(v: string): boolean }, list: () => string): string[] | undefined {
  if (values === undefined) return undefined;
  const unique = [...new Set(values)].sort();
  for (const value of unique) {
    if (!known.has(value)) throw new BadParamsError(`unknown ${kind} ${JSON.stringify(value)}; ${list()}`);
  }
  return unique;
}

function preview(values: Iterable<string>, max = 20): string {
  const all = [...values];
  return all.length <= max ? all.join(', ') : `${all.slice(0, max).join(', ')}, ... (${all.length} in all)`;
}

export function resolveScope(params: ScopeParams, catalog: Catalog): Scope {
  const runs =
    checked('run', params.runs?.length ? params.runs : undefined, catalog.runs, () => `this dataset has ${preview(catalog.runs.keys())}`) ??
    [...catalog.runs.keys()].sort();
  if (params.from !== undefined && params.to !== undefined && params.from > params.to) {
    throw new BadParamsError(`time range is reversed: from ${params.from} is after to ${params.to}`);
  }
  const filters = params.filters ?? {};
  const sectors = checked('sector', filters.sectors, catalog.sectors, () => `sectors are ${preview(catalog.sectors)}`);
  const symbols = checked('symbol', filters.symbols, catalog.symbols, () => `this dataset has ${catalog.symbols.size} symbols`);
  const tags = checked('tag', filters.tags, catalog.tags, () => `tags are ${preview(catalog.tags)}`);
  const ranges: TradeFilters['ranges'] = [];
  for (const [key, column] of RANGE_FILTERS) {
    const range = filters[key] as NumberRange | undefined;
    if (!range || (range.min === undefined && range.max === undefined)) continue;
    if (range.min !== undefined && range.max !== undefined && range.min > range.max) {
      throw new BadParamsError(`filter ${key} is reversed: min ${range.min} is above max ${range.max}`);
    }
    ranges.push({ column, range });
  }
  const scope: Scope = {
    runs,
    allRuns: runs.length === catalog.runs.size,
    trade: {
      ...(filters.sides ? { sides: [...new Set(filters.sides)].sort() } : {}),
      ...(tags ? { tags } : {}),
      ranges,
      ...(filters.hours ? { hours: [...new Set(filters.hours)].sort((x, y) => x - y) } : {}),
      ...(filters.weekdays ? { weekdays: [...new Set(filters.weekdays)].sort((x, y) => x - y) } : {}),
    },
    range: planRange(params.from, params.to, catalog),
    timezone: catalog.timezone.zone,
    runKeys: catalog.runKeys,
  };
  if (params.from !== undefined) scope.from = params.from;
  if (params.to !== undefined) scope.to = params.to;
  if (sectors) scope.sectors = sectors;
  if (symbols) scope.symbols = symbols;
  return scope;
}

export function planRange(from: number | undefined, to: number | undefined, catalog: Catalog): RangePlan {
  const days = catalog.days;
  if (from === undefined && to === undefined) {
    const first = days[0];
    const last = days.at(-1);
    return { bounded: false, full: first && last ? { lo: first.iso, hi: last.iso } : null, everything: true, cuts: [] };
  }
  const f = from ?? -Infinity;
  const t = to ?? Infinity;
  let lo: number | null = null;
  let hi: number | null = null;
  const cuts: RangePlan['cuts'] = [];
  days.forEach((day, i) => {
    if (day.last < f || day.first > t) return;
    if (f <= day.first && day.last <= t) {
      lo ??= i;
      hi = i;
    } else {
      cuts.push({ from: Math.max(f, day.first), to: Math.min(t, day.last), day });
    }
  });
  const full = lo !== null && hi !== null ? { lo: days[lo]!.iso, hi: days[hi]!.iso } : null;
  return { bounded: true, full, everything: full !== null && cuts.length === 0 && lo === 0 && hi === days.length - 1, cuts };
}

/**
 * Condition selecting the scope's runs; TRUE when every run is selected. `keyed` false for the
 * base tables bars and trades, which have no run_key (they are read by symbol, which prunes).
 */
export function runsCondition(b: Binder, scope: Pick<Scope, 'runs' | 'allRuns' | 'runKeys'>, keyed = true): string {
  if (scope.allRuns) return 'TRUE';
  const ids = b.in('run_id', scope.runs);
  if (!keyed || scope.runs.length === 0) return ids;
  // run_key prunes (a run id's first 8 bytes, all a VARCHAR zonemap keeps, are often shared by
  // many runs: format.ts); run_id keeps the answer exact whatever the keys.
  const keys = scope.runs.map((run) => {
    const key = scope.runKeys.get(run);
    if (key === undefined) throw new Error(`run ${JSON.stringify(run)} has no run_key in the catalog`);
    return `${b.bind(key)}::INTEGER`;
  });
  return and(`run_key IN (${keys.join(', ')})`, ids);
}

/** Condition on a TIMESTAMP column for the scope's whole range. */
export function timeCondition(b: Binder, column: string, scope: Pick<Scope, 'from' | 'to'>): string {
  return and(scope.from !== undefined ? `${column} >= ${b.timestampMs(scope.from)}` : null, scope.to !== undefined ? rangeEndCondition(b, column, scope.to) : null);
}

/**
 * `column` is at or before the range's end `to` (epoch ms, inclusive): through its whole
 * millisecond, so a timestamp finer than a millisecond (a Nautilus close at 23:59:59.999500) is
 * in the range that ends at 23:59:59.999, as it is in that day, and not lost between two ranges.
 * planTradeRange (trade-source.ts) splits ranges by the same rule.
 */
export function rangeEndCondition(b: Binder, column: string, to: number): string {
  return `${column} < ${b.timestampMs(to + 1)}`;
}

/** True when the request filters trades (which bar measures cannot honour). */
export function hasTradeFilters(scope: Scope): boolean {
  return Boolean(scope.trade.sides || scope.trade.tags || scope.trade.ranges.length > 0 || scope.trade.hours || scope.trade.weekdays);
}

/** The note for a bar-level answer when trade filters were given. */
export function tradeFilterNote(scope: Scope, what: string): string[] {
  return hasTradeFilters(scope)
    ? [`trade filters (side, tag, pnl, return, holding, MAE/MFE, close hour and weekday) select trades and do not apply to ${what}`]
    : [];
}

/**
 * Conditions on a trade table for the scope: runs, the range (a trade belongs to the range by its
 * close), dimension filters and trade filters. `columns` maps names where the table differs from
 * trade_list (e.g. the base trades table has no close_ts or holding_ms).
 */
export function tradeConditions(
  b: Binder,
  scope: Scope,
  columns: Partial<Record<'close_ts' | 'holding_ms' | 'sector', string>> = {},
  options: { range?: boolean; dims?: boolean; keyed?: boolean } = {},
): string {
  const col = (name: 'close_ts' | 'holding_ms' | 'sector') => columns[name] ?? name;
  const parts: string[] = [runsCondition(b, scope, options.keyed ?? true)];
  if (options.range !== false) parts.push(timeCondition(b, col('close_ts'), scope));
  if (options.dims !== false) {
    if (scope.sectors) parts.push(b.in(col('sector'), scope.sectors));
    if (scope.symbols) parts.push(b.in('symbol', scope.symbols));
  }
  if (scope.trade.sides) parts.push(b.in('side', scope.trade.sides));
  if (scope.trade.tags) parts.push(b.in('tag', scope.trade.tags));
  for (const { column, range } of scope.trade.ranges) {
    const c = column === 'holding_ms' ? col('holding_ms') : column;
    if (range.min !== undefined) parts.push(`${c} >= ${b.number(range.min)}`);
    if (range.max !== undefined) parts.push(`${c} <= ${b.number(range.max)}`);
  }
  parts.push(closeTimeConditions(b, scope));
  return and(...parts);
}

/**
 * The close hour and weekday filters, over any trade table with entry_ts and exit_ts (the close is
 * coalesce(exit_ts, entry_ts), trade_list's close_ts). Hours are of the exchange time zone and
 * weekdays of the UTC close date: the keys of the hour and weekday breakdowns, so a click on a bar
 * selects exactly the trades that bar counted.
 */
export function closeTimeConditions(b: Binder, scope: Scope): string {
  const close = 'coalesce(exit_ts, entry_ts)';
  const { hours, weekdays } = scope.trade;
  const isIn = (expr: string, values: readonly number[]) =>
    values.length === 0 ? 'FALSE' : `${expr} IN (${values.map((v) => b.integer(v)).join(', ')})`;
  return and(
    hours ? isIn(`hour(${exchangeTimeSql(close, scope.timezone)})`, hours) : null,
    weekdays ? isIn(`isodow((${close})::DATE)`, weekdays) : null,
  );
}
