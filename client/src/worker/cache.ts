// The worker's answer cache: decoded answers (column buffers) under a byte budget, least
// recently used out first. Time-series answers are also indexed by "family" (the same query and
// parameters but for the range and width), so a zoom into a range the cache already covers can
// be answered at once from the coarser data, marked approximate, while the exact slice loads.
import { stableJson } from '../spec-key.js';
import type { AskQuery, Answer, ColumnTable, QueryData, SeriesData, Spec, StringColumn, TimeSeries } from './types.js';

const SLICEABLE = new Set<AskQuery>(['equity', 'exposure', 'series']);

/** The key shared by answers that differ only in range and width; null for other queries. */
export function familyKey(spec: Spec): string | null {
  if (!SLICEABLE.has(spec.query)) return null;
  const { from: _from, to: _to, width: _width, ...rest } = spec.params as { from?: number; to?: number; width?: number };
  return `${spec.query}:${stableJson(rest)}`;
}

export type Meta = Omit<Answer, 'data' | 'query' | 'cached' | 'provisional' | 'elapsedMs' | 'queuedMs'>;

export interface Entry {
  key: string;
  family: string | null;
  spec: Spec;
  data: QueryData[AskQuery];
  meta: Meta;
  bytes: number;
  /** Effective inclusive range in epoch ms (the dataset's range where the params leave it open). */
  from: number;
  to: number;
}

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  private readonly families = new Map<string, Set<string>>();
  private used = 0;

  constructor(readonly budget: number) {}

  get bytes(): number {
    return this.used;
  }
  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The entry, made most recently used. */
  get(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  set(entry: Entry): void {
    if (entry.bytes > this.budget / 4) return; // one answer may not flush the cache
    this.remove(entry.key);
    this.entries.set(entry.key, entry);
    this.used += entry.bytes;
    if (entry.family) (this.families.get(entry.family) ?? this.families.set(entry.family, new Set()).get(entry.family)!).add(entry.key);
    for (const [key] of this.entries) {
      if (this.used <= this.budget) break;
      this.remove(key);
    }
  }

  clear(): void {
    this.entries.clear();
    this.families.clear();
    this.used = 0;
  }

  /** Cached answers of the family whose range covers [from, to], the narrowest first. */
  covering(family: string, from: number, to: number): Entry[] {
    const keys = this.families.get(family);
    if (!keys) return [];
    const found: Entry[] = [];
    for (const key of keys) {
      const e = this.entries.get(key);
      if (e && e.from <= from && e.to >= to) found.push(e);
    }
    return found.sort((a, b) => a.to - a.from - (b.to - b.from));
  }

  private remove(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.used -= old.bytes;
    if (old.family) {
      const set = this.families.get(old.family);
      set?.delete(key);
      if (set && set.size === 0) this.families.delete(old.family);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Previews: a cached series cut to a narrower range

function lowerBound(x: Float64Array, v: number): number {
  let lo = 0;
  let hi = x.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(x: Float64Array, v: number): number {
  let lo = 0;
  let hi = x.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Values from `lo` to `hi` (exclusive), less the value just before `lo` (restart at the range start). */
function rebased(v: Float64Array, lo: number, hi: number): Float64Array {
  const out = v.slice(lo, hi);
  let base = 0;
  for (let i = lo - 1; i >= 0; i--) {
    if (!Number.isNaN(v[i]!)) {
      base = v[i]!;
      break;
    }
  }
  if (base !== 0) for (let i = 0; i < out.length; i++) out[i]! -= base;
  return out;
}

function drawdownOf(equity: Float64Array): Float64Array {
  const out = new Float64Array(equity.length);
  let peak = 0;
  for (let i = 0; i < equity.length; i++) {
    const e = equity[i]!;
    if (Number.isNaN(e)) {
      out[i] = Number.NaN;
      continue;
    }
    if (e > peak) peak = e;
    out[i] = e - peak;
  }
  return out;
}

function sliceSeries(ts: TimeSeries, fromSec: number, toSec: number, rebase: readonly string[]): TimeSeries | null {
  const lo = lowerBound(ts.x, fromSec);
  const hi = upperBound(ts.x, toSec);
  if (hi - lo < 2) return null;
  const values: Record<string, Float64Array[]> = {};
  for (const [name, perRun] of Object.entries(ts.values)) {
    values[name] = perRun.map((v) => (rebase.includes(name) ? rebased(v, lo, hi) : v.slice(lo, hi)));
  }
  if (values.drawdown && values.equity) values.drawdown = values.equity.map(drawdownOf);
  return { x: ts.x.slice(lo, hi), runs: ts.runs, values, gapFree: ts.gapFree, points: (hi - lo) * ts.runs.length };
}

function filterRows(table: ColumnTable, keep: (i: number) => boolean): ColumnTable {
  const index: number[] = [];
  for (let i = 0; i < table.length; i++) if (keep(i)) index.push(i);
  const columns: ColumnTable['columns'] = {};
  for (const [name, col] of Object.entries(table.columns)) {
    if (col instanceof Float64Array) columns[name] = Float64Array.from(index, (i) => col[i]!);
    else columns[name] = { codes: Int32Array.from(index, (i) => col.codes[i]!), dict: col.dict } satisfies StringColumn;
  }
  return { length: index.length, columns };
}

/** The cached entry's data cut to [from, to] (epoch ms); null when too little of it falls inside. */
export function sliceEntry(entry: Entry, from: number, to: number): QueryData[AskQuery] | null {
  const fromSec = from / 1000;
  const toSec = to / 1000;
  switch (entry.spec.query) {
    case 'equity':
      return sliceSeries(entry.data as TimeSeries, fromSec, toSec, ['equity']);
    case 'exposure':
      return sliceSeries(entry.data as TimeSeries, fromSec, toSec, []);
    case 'series': {
      const data = entry.data as SeriesData;
      const points = sliceSeries(data.points, fromSec, toSec, ['cum_pnl']);
      if (!points) return null;
      const entryTs = data.trades.columns.entry_ts as Float64Array | undefined;
      const exitTs = data.trades.columns.exit_ts as Float64Array | undefined;
      // As the session's range: `to` through its whole millisecond (scope.ts, rangeEndCondition).
      const inRange = (t: number | undefined) => t !== undefined && t >= from && t < to + 1;
      const trades = entryTs && exitTs ? filterRows(data.trades, (i) => inRange(entryTs[i]) || inRange(exitTs[i])) : data.trades;
      return { points, trades } satisfies SeriesData;
    }
    default:
      return null;
  }
}
