// Trading time: the time axis with the market's closed hours taken out. Intraday bars cover
// ~6.5 of 24 hours on ~5 of 7 days; on a calendar axis, nights and weekends would take three
// quarters of every chart as flat lines. Both ends use this one mapping: the session process
// picks M4's pixel columns over trading time (so they stay exact per pixel of the chart drawn),
// and the UI draws, labels and brushes its time axes in it.
//
// The calendar is the dataset's trading days (UTC dates with bars), each from its first to its
// last bar. Within a day, trading time runs as calendar time does; the gap to the next day's
// first bar counts as one bar interval, so the last bar of a day and the first of the next sit
// one bar apart, like any two bars. Before the first day and after the last, it runs as
// calendar time. So the map is continuous and strictly increasing, and has an inverse.

/** The trading calendar as the hello message carries it. */
export interface TradingCalendar {
  /** The bar interval in ms (the gap between two days counts as one). */
  barMs: number;
  /** First and last bar of each trading day, epoch ms, ascending: [first0, last0, first1, last1, ...]. */
  days: number[];
}

export class TradingTime {
  private readonly first: Float64Array;
  private readonly last: Float64Array;
  /** Trading time at each day's first bar. */
  private readonly base: Float64Array;
  private readonly barMs: number;

  constructor(calendar: TradingCalendar) {
    const n = Math.floor(calendar.days.length / 2);
    if (!(calendar.barMs > 0)) throw new Error(`trading calendar: bar interval must be positive, got ${calendar.barMs}`);
    this.barMs = calendar.barMs;
    this.first = new Float64Array(n);
    this.last = new Float64Array(n);
    this.base = new Float64Array(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const first = calendar.days[2 * i]!;
      const last = calendar.days[2 * i + 1]!;
      if (!(last >= first) || (i > 0 && !(first > this.last[i - 1]!))) {
        throw new Error(`trading calendar: day ${i} [${first}, ${last}] is empty or not after day ${i - 1}`);
      }
      this.first[i] = first;
      this.last[i] = last;
      this.base[i] = at;
      at += last - first + this.barMs;
    }
  }

  /** Calendar time (epoch ms) -> trading time (ms since the first bar). */
  toTrading(t: number): number {
    if (this.first.length === 0 || Number.isNaN(t)) return t;
    return this.within(this.dayAtOrBefore(t), t);
  }

  /** The last day whose first bar is at or before t; -1 when t is before the first bar. */
  private dayAtOrBefore(t: number): number {
    return t < this.first[0]! ? -1 : lastAtOrBefore(this.first, t);
  }

  /** toTrading of t, given the last day i whose first bar is at or before t (-1: none). */
  private within(i: number, t: number): number {
    if (i < 0) return t - this.first[0]!;
    const inDay = t - this.first[i]!;
    const length = this.last[i]! - this.first[i]!;
    if (inDay <= length || i === this.first.length - 1) return this.base[i]! + inDay;
    // In the closed hours after day i: one bar interval spread over the whole gap.
    const gap = this.first[i + 1]! - this.last[i]!;
    return this.base[i]! + length + (this.barMs * (t - this.last[i]!)) / gap;
  }

  /** Trading time -> calendar time (epoch ms); the inverse of toTrading. */
  fromTrading(x: number): number {
    const n = this.first.length;
    if (n === 0 || Number.isNaN(x)) return x;
    if (x < 0) return this.first[0]! + x;
    const i = lastAtOrBefore(this.base, x);
    const inDay = x - this.base[i]!;
    const length = this.last[i]! - this.first[i]!;
    if (inDay <= length || i === n - 1) return this.first[i]! + inDay;
    const gap = this.first[i + 1]! - this.last[i]!;
    return this.last[i]! + ((inDay - length) * gap) / this.barMs;
  }

  /**
   * toTrading over many times; one merge pass while they ascend (a search where they fall back,
   * e.g. at the next run of rows sorted by run and time). `scale` is the input's unit in ms (1000
   * for epoch seconds); the output is in the same unit.
   */
  toTradingAll(ts: Float64Array, scale = 1): Float64Array {
    const out = new Float64Array(ts.length);
    const n = this.first.length;
    if (n === 0) {
      out.set(ts);
      return out;
    }
    let i = -1;
    for (let k = 0; k < ts.length; k++) {
      const t = ts[k]! * scale;
      if (i >= 0 && t < this.first[i]!) i = this.dayAtOrBefore(t);
      while (i + 1 < n && this.first[i + 1]! <= t) i++;
      out[k] = Number.isNaN(t) ? t : this.within(i, t) / scale;
    }
    return out;
  }

  /** Trading days whose first bar lies in [from, to] (calendar ms): their first and last bar. */
  daysIn(from: number, to: number): { first: number; last: number }[] {
    const out: { first: number; last: number }[] = [];
    const n = this.first.length;
    let i = n === 0 || from <= this.first[0]! ? 0 : lastAtOrBefore(this.first, from);
    if (i < n && this.first[i]! < from) i++;
    for (; i < n && this.first[i]! <= to; i++) out.push({ first: this.first[i]!, last: this.last[i]! });
    return out;
  }
}

/** The last index whose value is <= x in an ascending array whose first value is <= x. */
function lastAtOrBefore(values: Float64Array, x: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (values[mid]! <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
