// An independent computation of the `risk` and `benchmark` answers from the raw rows of a fixture
// (reference.ts's daily series and trades), written from docs/metrics.md: plain loops, the normal
// distribution function by numerical integration rather than the session's erfc.
import { dailySeries, dimOk, barsInRange, dayMs, runsOf, tradesIn, type RawData, type RefScope } from './reference.js';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => (xs.length < 2 ? null : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const safe = (x: number | null) => (x === null || !Number.isFinite(x) ? null : x);

/** The benchmark's daily return per UTC date (null on its first day), from a symbol's closes. */
export function symbolBenchmarkRef(raw: RawData, symbol: string): Map<string, number | null> {
  const close = new Map<string, { run: string; ts: number; price: number }>();
  for (const b of raw.bars) {
    if (b.symbol !== symbol) continue;
    const c = close.get(b.day);
    if (!c || b.run < c.run || (b.run === c.run && b.ts > c.ts)) close.set(b.day, { run: b.run, ts: b.ts, price: b.price });
  }
  const days = [...close.keys()].sort();
  return new Map(days.map((day, i) => [day, i === 0 ? null : close.get(day)!.price / close.get(days[i - 1]!)!.price - 1]));
}

/** Φ(z) by Simpson's rule over the density from 0 to z. */
export function normalCdfRef(z: number): number {
  const steps = 20_000;
  const h = z / steps;
  const f = (x: number) => Math.exp(-(x * x) / 2) / Math.sqrt(2 * Math.PI);
  let s = f(0) + f(z);
  for (let i = 1; i < steps; i++) s += (i % 2 === 1 ? 4 : 2) * f(i * h);
  return 0.5 + (s * h) / 3;
}

const annual = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((p, x) => p * (1 + x), 1) ** (252 / xs.length) - 1);

function sharpeOf(rets: number[], rf: number): number | null {
  const s = sd(rets);
  return s === null || s === 0 ? null : ((mean(rets) - rf) / s) * Math.sqrt(252);
}

export function riskRef(
  raw: RawData,
  scope: RefScope,
  capital: (run: string) => number | null,
  benchmark: Map<string, number | null>,
  riskFreeRate = 0,
): Record<string, unknown>[] {
  const rf = (1 + riskFreeRate) ** (1 / 252) - 1;
  const daily = dailySeries(raw, scope, capital);
  return runsOf(raw, scope).map((run) => {
    const days = daily.filter((d) => d.run === run);
    const c = capital(run)!;
    const rets = days.map((d) => d.ret!);
    const n = days.length;
    const out: Record<string, unknown> = { run_id: run, days: n };
    // The days both have a return.
    const pairs = days.flatMap((d) => {
      const b = benchmark.get(d.day);
      return b === null || b === undefined ? [] : [[d.ret!, b] as [number, number]];
    });
    const r = pairs.map((p) => p[0]);
    const b = pairs.map((p) => p[1]);
    out.benchmark_days = pairs.length;
    const m = pairs.length;
    if (m >= 2) {
      const mr = mean(r);
      const mb = mean(b);
      const cov = pairs.reduce((a, [x, y]) => a + (x - mr) * (y - mb), 0) / m;
      const vb = b.reduce((a, y) => a + (y - mb) ** 2, 0) / m;
      const vr = r.reduce((a, x) => a + (x - mr) ** 2, 0) / m;
      const beta = vb === 0 ? null : cov / vb;
      out.beta = beta;
      out.alpha = beta === null ? null : (1 + mean(pairs.map(([x, y]) => x - rf - beta * (y - rf)))) ** 252 - 1;
      out.correlation = vb === 0 || vr === 0 ? null : cov / Math.sqrt(vr * vb);
      const active = pairs.map(([x, y]) => x - y);
      const te = sd(active)!;
      out.tracking_error = te * Math.sqrt(252);
      out.information_ratio = te === 0 ? null : (mean(active) / te) * Math.sqrt(252);
    } else {
      Object.assign(out, { beta: null, alpha: null, correlation: null, tracking_error: null, information_ratio: null });
    }
    out.active_return = m === 0 ? null : annual(r)! - annual(b)!;
    const capture = (keep: (y: number) => boolean) => {
      const kept = pairs.filter(([, y]) => keep(y));
      if (kept.length === 0) return null;
      const den = annual(kept.map((p) => p[1]))!;
      return den === 0 ? null : annual(kept.map((p) => p[0]))! / den;
    };
    out.up_capture = capture((y) => y > 0);
    out.down_capture = capture((y) => y < 0);
    out.benchmark_return = m === 0 ? null : b.reduce((p, y) => p * (1 + y), 1) - 1;
    out.sharpe = sharpeOf(rets, rf);
    // Probabilistic Sharpe ratio (Bailey & López de Prado 2012).
    if (n >= 2 && sd(rets)) {
      const mu = mean(rets);
      const m2 = mean(rets.map((x) => (x - mu) ** 2));
      const skew = mean(rets.map((x) => (x - mu) ** 3)) / m2 ** 1.5;
      const kurt = mean(rets.map((x) => (x - mu) ** 4)) / m2 ** 2;
      const sr = (mu - rf) / sd(rets)!;
      out.skew = skew;
      out.kurtosis = kurt;
      out.psr = normalCdfRef((sr * Math.sqrt(n - 1)) / Math.sqrt(1 - skew * sr + ((kurt - 1) / 4) * sr * sr));
    } else {
      Object.assign(out, { skew: null, kurtosis: null, psr: null });
    }
    const total = days.reduce((a, d) => a + d.pnl, 0);
    out.total_pnl = n === 0 ? null : total;
    // Concentration: take the removed P&L out of the days it fell on.
    const without = (removed: Map<string, number>): [number | null, number | null] => {
      const taken = [...removed.values()].reduce((a, x) => a + x, 0);
      return [n === 0 ? null : total - taken, sharpeOf(days.map((d) => (d.pnl - (removed.get(d.day) ?? 0)) / c), rf)];
    };
    const trades = tradesIn(raw, { ...scope, runs: [run] })
      .filter((t) => t.pnl !== null)
      .sort((x, y) => y.pnl! - x.pnl! || y.id - x.id);
    out.trades = trades.length;
    for (const share of [1, 5]) {
      const k = Math.ceil((share * trades.length) / 100);
      const removed = new Map<string, number>();
      for (const t of trades.slice(0, k)) {
        const day = new Date(t.close).toISOString().slice(0, 10);
        removed.set(day, (removed.get(day) ?? 0) + t.pnl!);
      }
      const [p, s] = without(removed);
      out[`pnl_ex_top${share}pct_trades`] = p;
      out[`sharpe_ex_top${share}pct_trades`] = safe(s);
    }
    const bySymbol = new Map<string, Map<string, number>>();
    for (const bar of barsInRange(raw, { ...scope, runs: [run] })) {
      if (!dimOk(scope, bar)) continue;
      const perDay = bySymbol.get(bar.symbol) ?? bySymbol.set(bar.symbol, new Map()).get(bar.symbol)!;
      perDay.set(bar.day, (perDay.get(bar.day) ?? 0) + bar.pnl);
    }
    const ranked = [...bySymbol]
      .map(([symbol, perDay]) => ({ symbol, perDay, pnl: [...perDay.values()].reduce((a, x) => a + x, 0) }))
      .sort((x, y) => y.pnl - x.pnl || (x.symbol < y.symbol ? -1 : 1));
    out.symbols = ranked.length;
    for (const count of [1, 5, 10]) {
      // The symbols left, summed per day (so nothing is left when every symbol is out).
      const left = new Map<string, number>();
      for (const s of ranked.slice(count)) for (const [day, p] of s.perDay) left.set(day, (left.get(day) ?? 0) + p);
      const rest = days.map((d) => left.get(d.day) ?? 0);
      out[`pnl_ex_top${count}_symbols`] = n === 0 ? null : rest.reduce((a, x) => a + x, 0);
      out[`sharpe_ex_top${count}_symbols`] = safe(sharpeOf(rest.map((x) => x / c), rf));
    }
    out.top_symbols = ranked.slice(0, 10).map((s) => s.symbol).join(', ');
    return out;
  });
}

/**
 * The benchmark line: per run per day of the range, capital x (prod(1 + b) - 1), flat over missing
 * days, from the day's first bar in the range (over every run) to its last.
 */
export function benchmarkLineRef(raw: RawData, scope: RefScope, capital: (run: string) => number | null, benchmark: Map<string, number | null>): Record<string, unknown>[] {
  const { sectors: _s, symbols: _y, ...calendarScope } = scope;
  const daily = dailySeries(raw, calendarScope, capital);
  const bounds = new Map<string, { first: number; last: number }>();
  for (const bar of raw.bars) {
    const d = bounds.get(bar.day) ?? bounds.set(bar.day, { first: bar.ts, last: bar.ts }).get(bar.day)!;
    d.first = Math.min(d.first, bar.ts);
    d.last = Math.max(d.last, bar.ts);
  }
  const out: Record<string, unknown>[] = [];
  for (const run of runsOf(raw, scope)) {
    let growth = 1;
    for (const d of daily.filter((x) => x.run === run)) {
      const b = benchmark.get(d.day) ?? null;
      if (b !== null) growth *= 1 + b;
      const { first, last } = bounds.get(d.day)!;
      out.push({
        run_id: run,
        day: dayMs(d.day),
        start_ts: Math.max(first, scope.from ?? -Infinity),
        ts: Math.min(last, scope.to ?? Infinity),
        ret: b,
        equity: capital(run)! * (growth - 1),
      });
    }
  }
  return out;
}
