// An independent computation of every query from the raw rows of a fixture, in plain TypeScript:
// the raw Parquet files are read once (DuckDB only reads the files; no SQL aggregates here), and
// each query's answer is computed with loops over row arrays. The query tests compare the
// session's answers with these.
import { DuckDBInstance } from '@duckdb/node-api';

export interface Bar {
  run: string;
  ts: number;
  day: string;
  symbol: string;
  sector: string;
  price: number;
  qty: number;
  pv: number;
  tradeQty: number;
  fees: number;
  pnl: number;
}

export interface Trade {
  run: string;
  id: number;
  symbol: string;
  sector: string;
  side: string;
  entry: number;
  exit: number | null;
  close: number;
  qty: number | null;
  entryPrice: number | null;
  exitPrice: number | null;
  fees: number | null;
  pnl: number | null;
  ret: number | null;
  barsHeld: number | null;
  holdingMs: number | null;
  mae: number | null;
  mfe: number | null;
  tag: string | null;
}

export interface RawData {
  bars: Bar[];
  trades: Trade[];
  sectorOf: Map<string, string>;
  runs: string[];
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export async function loadRaw(dir: string): Promise<RawData> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`SET TimeZone = 'UTC'`);
    const rows = async (sql: string) => (await connection.runAndReadAll(sql)).getRows();
    const sectorOf = new Map<string, string>();
    for (const [symbol, sector] of await rows(`SELECT symbol::VARCHAR, sector::VARCHAR FROM read_parquet('${dir}/symbols.parquet')`)) {
      sectorOf.set(String(symbol), String(sector ?? 'Unknown'));
    }
    const bars: Bar[] = (
      await rows(`SELECT run_id::VARCHAR, epoch_ms(ts)::DOUBLE, symbol::VARCHAR, price::DOUBLE, position_qty::DOUBLE,
          position_value::DOUBLE, trade_qty::DOUBLE, fees::DOUBLE, pnl::DOUBLE
        FROM read_parquet('${dir}/bars/**/*.parquet', hive_partitioning = true)`)
    ).map(([run, ts, symbol, price, qty, pv, tradeQty, fees, pnl]) => ({
      run: String(run),
      ts: Number(ts),
      day: new Date(Number(ts)).toISOString().slice(0, 10),
      symbol: String(symbol),
      sector: sectorOf.get(String(symbol)) ?? 'Unknown',
      price: Number(price),
      qty: Number(qty),
      pv: Number(pv),
      tradeQty: Number(tradeQty ?? 0),
      fees: Number(fees ?? 0),
      pnl: Number(pnl),
    }));
    for (const bar of bars) if (!sectorOf.has(bar.symbol)) sectorOf.set(bar.symbol, 'Unknown');
    const trades: Trade[] = (
      await rows(`SELECT run_id::VARCHAR, trade_id::DOUBLE, symbol::VARCHAR, lower(side::VARCHAR), epoch_ms(entry_ts)::DOUBLE,
          epoch_ms(exit_ts)::DOUBLE, qty::DOUBLE, entry_price::DOUBLE, exit_price::DOUBLE, fees::DOUBLE, pnl::DOUBLE,
          ret::DOUBLE, bars_held::DOUBLE, mae::DOUBLE, mfe::DOUBLE, tag::VARCHAR
        FROM read_parquet('${dir}/trades/**/*.parquet')`)
    ).map(([run, id, symbol, side, entry, exit, qty, entryPrice, exitPrice, fees, pnl, ret, barsHeld, mae, mfe, tag]) => ({
      run: String(run),
      id: Number(id),
      symbol: String(symbol),
      sector: sectorOf.get(String(symbol)) ?? 'Unknown',
      side: String(side),
      entry: Number(entry),
      exit: num(exit),
      close: num(exit) ?? Number(entry),
      qty: num(qty) === null ? null : Math.abs(Number(qty)),
      entryPrice: num(entryPrice),
      exitPrice: num(exitPrice),
      fees: num(fees),
      pnl: num(pnl),
      ret: num(ret),
      barsHeld: num(barsHeld),
      holdingMs: num(exit) === null ? null : Number(exit) - Number(entry),
      mae: num(mae),
      mfe: num(mfe),
      tag: tag === null ? null : String(tag),
    }));
    const runs = [...new Set(bars.map((b) => b.run))].sort();
    return { bars, trades, sectorOf, runs };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

// ---------------------------------------------------------------------------------------------
// Scope

export interface RefScope {
  runs?: string[];
  from?: number;
  to?: number;
  sectors?: string[];
  symbols?: string[];
  sides?: string[];
  tags?: string[];
  pnl?: { min?: number; max?: number };
  ret?: { min?: number; max?: number };
  barsHeld?: { min?: number; max?: number };
  holdingMs?: { min?: number; max?: number };
  mae?: { min?: number; max?: number };
  mfe?: { min?: number; max?: number };
}

/** A trading day of the raw bars: its UTC date and its first and last bar (epoch ms). */
export interface RawDay {
  iso: string;
  first: number;
  last: number;
}

/** The trading days of the raw bars, in order; and the sorted sectors and symbols that have bars. */
export function rawCalendar(raw: RawData): { days: RawDay[]; sectors: string[]; symbols: string[] } {
  const byDay = new Map<string, RawDay>();
  for (const b of raw.bars) {
    const d = byDay.get(b.day) ?? byDay.set(b.day, { iso: b.day, first: b.ts, last: b.ts }).get(b.day)!;
    d.first = Math.min(d.first, b.ts);
    d.last = Math.max(d.last, b.ts);
  }
  return {
    days: [...byDay.values()].sort((a, b) => a.first - b.first),
    sectors: [...new Set(raw.bars.map((b) => b.sector))].sort(),
    symbols: [...new Set(raw.bars.map((b) => b.symbol))].sort(),
  };
}

export function runsOf(raw: RawData, scope: RefScope): string[] {
  return scope.runs?.length ? [...new Set(scope.runs)].sort() : raw.runs;
}

/** In [from, to], `to` through its whole millisecond (README: the range is inclusive, in epoch ms). */
const inTime = (t: number, scope: RefScope) => (scope.from === undefined || t >= scope.from) && (scope.to === undefined || t < scope.to + 1);

/** Bars of the selected runs in the time range (no dimension filter). */
export function barsInRange(raw: RawData, scope: RefScope): Bar[] {
  const runs = new Set(runsOf(raw, scope));
  return raw.bars.filter((b) => runs.has(b.run) && inTime(b.ts, scope));
}

export function dimOk(scope: RefScope, x: { symbol: string; sector: string }): boolean {
  return (!scope.sectors || scope.sectors.includes(x.sector)) && (!scope.symbols || scope.symbols.includes(x.symbol));
}

const rangeOk = (v: number | null, r?: { min?: number; max?: number }) =>
  !r || (v !== null && (r.min === undefined || v >= r.min) && (r.max === undefined || v <= r.max));

export function tradesIn(raw: RawData, scope: RefScope, options: { range?: boolean; dims?: boolean } = {}): Trade[] {
  const runs = new Set(runsOf(raw, scope));
  return raw.trades.filter(
    (t) =>
      runs.has(t.run) &&
      (options.range === false || inTime(t.close, scope)) &&
      (options.dims === false || dimOk(scope, t)) &&
      (!scope.sides || scope.sides.includes(t.side)) &&
      (!scope.tags || (t.tag !== null && scope.tags.includes(t.tag))) &&
      rangeOk(t.pnl, scope.pnl) &&
      rangeOk(t.ret, scope.ret) &&
      rangeOk(t.barsHeld, scope.barsHeld) &&
      rangeOk(t.holdingMs, scope.holdingMs) &&
      rangeOk(t.mae, scope.mae) &&
      rangeOk(t.mfe, scope.mfe),
  );
}

// ---------------------------------------------------------------------------------------------
// Daily series and summary metrics (empyrical definitions, 252 days a year)

export interface RefDay {
  run: string;
  day: string;
  bars: number;
  pnl: number;
  fees: number;
  traded: number;
  gross: number;
  net: number;
  long: number;
  short: number;
  ret: number | null;
}

export function dailySeries(raw: RawData, scope: RefScope, capital: (run: string) => number | null): RefDay[] {
  const days = new Map<string, RefDay & { stamps: Set<number> }>();
  for (const b of barsInRange(raw, scope)) {
    const key = `${b.run}|${b.day}`;
    let d = days.get(key);
    if (!d) {
      d = { run: b.run, day: b.day, bars: 0, pnl: 0, fees: 0, traded: 0, gross: 0, net: 0, long: 0, short: 0, ret: null, stamps: new Set() };
      days.set(key, d);
    }
    d.stamps.add(b.ts);
    if (!dimOk(scope, b)) continue;
    d.pnl += b.pnl;
    d.fees += b.fees;
    d.traded += Math.abs(b.tradeQty) * b.price;
    d.gross += Math.abs(b.pv);
    d.net += b.pv;
    d.long += Math.max(b.pv, 0);
    d.short += Math.min(b.pv, 0);
  }
  return [...days.values()]
    .map(({ stamps, ...d }) => {
      const c = capital(d.run);
      return { ...d, bars: stamps.size, ret: c === null ? null : d.pnl / c };
    })
    .sort((a, b) => (a.run < b.run ? -1 : a.run > b.run ? 1 : a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
}

export const dayMs = (iso: string) => Date.parse(`${iso}T00:00:00Z`);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
export function sdSample(xs: number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

export function summaryRef(raw: RawData, scope: RefScope, capital: (run: string) => number | null): Record<string, unknown>[] {
  const daily = dailySeries(raw, scope, capital);
  const trades = tradesIn(raw, scope);
  return runsOf(raw, scope).map((run) => {
    const days = daily.filter((d) => d.run === run);
    const rets = days.map((d) => d.ret!).filter((r) => r !== null);
    const n = days.length;
    const out: Record<string, unknown> = { run_id: run, capital: capital(run), days: n };
    out.total_pnl = days.reduce((a, d) => a + d.pnl, 0);
    out.fees = days.reduce((a, d) => a + d.fees, 0);
    let growth: number | null = null;
    let maxDd: number | null = null;
    let peakDay: string | null = null;
    let troughDay: string | null = null;
    let recoveryDay: string | null = null;
    let maxDdPnl: number | null = null;
    if (n > 0 && rets.length === n) {
      growth = 1;
      let peak = 1;
      let minDd = 0;
      let troughPeak = 1;
      const wealth: number[] = [];
      for (const d of days) {
        growth *= 1 + d.ret!;
        wealth.push(growth);
        peak = Math.max(peak, growth);
        const dd = growth / peak - 1;
        if (dd < minDd) {
          minDd = dd;
          troughDay = d.day;
          troughPeak = peak;
        }
      }
      maxDd = minDd;
      if (troughDay !== null) {
        const ti = days.findIndex((d) => d.day === troughDay);
        peakDay = days[0]!.day;
        for (let i = 0; i <= ti; i++) if (wealth[i]! >= troughPeak) peakDay = days[i]!.day;
        for (let i = ti + 1; i < n; i++) {
          if (wealth[i]! >= troughPeak) {
            recoveryDay = days[i]!.day;
            break;
          }
        }
      }
    }
    if (n > 0) {
      let cum = 0;
      let peak = 0;
      maxDdPnl = 0;
      for (const d of days) {
        cum += d.pnl;
        peak = Math.max(peak, cum);
        maxDdPnl = Math.min(maxDdPnl, cum - peak);
      }
    }
    const sd = rets.length === n ? sdSample(rets) : null;
    const m = rets.length === n && n > 0 ? mean(rets) : null;
    const downside = rets.length === n && n > 0 ? Math.sqrt(mean(rets.map((r) => Math.min(r, 0) ** 2))) : null;
    const cagr = growth !== null && growth > 0 ? growth ** (252 / n) - 1 : null;
    out.total_return = growth === null ? null : growth - 1;
    out.cagr = cagr;
    out.annual_volatility = sd === null ? null : sd * Math.sqrt(252);
    out.sharpe = sd === null || sd === 0 || m === null ? null : (m / sd) * Math.sqrt(252);
    out.sortino = downside === null || downside === 0 || m === null ? null : (m * 252) / (downside * Math.sqrt(252));
    out.max_drawdown = maxDd;
    out.max_drawdown_peak = peakDay === null ? null : dayMs(peakDay);
    out.max_drawdown_trough = troughDay === null ? null : dayMs(troughDay);
    out.max_drawdown_recovery = recoveryDay === null ? null : dayMs(recoveryDay);
    out.max_drawdown_pnl = maxDdPnl;
    out.calmar = maxDd !== null && maxDd < 0 && cagr !== null ? cagr / Math.abs(maxDd) : null;
    out.day_win_rate = n === 0 ? null : days.filter((d) => d.pnl > 0).length / n;
    const mine = trades.filter((t) => t.run === run);
    const wins = mine.filter((t) => (t.pnl ?? 0) > 0);
    const losses = mine.filter((t) => (t.pnl ?? 0) < 0);
    const sum = (ts: Trade[]) => ts.reduce((a, t) => a + (t.pnl ?? 0), 0);
    const avg = (xs: (number | null)[]) => {
      const v = xs.filter((x): x is number => x !== null);
      return v.length === 0 ? null : mean(v);
    };
    out.trade_count = mine.length;
    out.winning_trades = wins.length;
    out.trade_win_rate = mine.length === 0 ? null : wins.length / mine.length;
    out.gross_profit = sum(wins);
    out.gross_loss = sum(losses);
    out.profit_factor = mine.length === 0 || sum(losses) === 0 ? null : sum(wins) / Math.abs(sum(losses));
    out.avg_trade_pnl = avg(mine.map((t) => t.pnl));
    out.avg_holding_ms = avg(mine.map((t) => t.holdingMs));
    out.avg_bars_held = avg(mine.map((t) => t.barsHeld));
    out.traded_value = days.reduce((a, d) => a + d.traded, 0);
    const ratios = days.filter((d) => d.bars > 0 && d.gross !== 0).map((d) => d.traded / (d.gross / d.bars));
    out.turnover = ratios.length === 0 ? null : mean(ratios);
    const bars = days.reduce((a, d) => a + d.bars, 0);
    out.avg_gross_exposure = bars === 0 ? null : days.reduce((a, d) => a + d.gross, 0) / bars;
    out.avg_net_exposure = bars === 0 ? null : days.reduce((a, d) => a + d.net, 0) / bars;
    out.avg_long_exposure = bars === 0 ? null : days.reduce((a, d) => a + d.long, 0) / bars;
    out.avg_short_exposure = bars === 0 ? null : days.reduce((a, d) => a + d.short, 0) / bars;
    for (const side of ['long', 'short']) {
      const s = mine.filter((t) => t.side === side);
      out[`${side}_trades`] = s.length;
      out[`${side}_pnl`] = sum(s);
      out[`${side}_win_rate`] = s.length === 0 ? null : s.filter((t) => (t.pnl ?? 0) > 0).length / s.length;
    }
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Per-bar curves

/** Per run, per bar timestamp in range: the dimension-filtered sums. */
export function perBar(raw: RawData, scope: RefScope): Map<string, { t: number; pnl: number; gross: number; net: number; long: number; short: number }[]> {
  const byRun = new Map<string, Map<number, { t: number; pnl: number; gross: number; net: number; long: number; short: number }>>();
  for (const b of barsInRange(raw, scope)) {
    if (!dimOk(scope, b)) continue;
    const run = byRun.get(b.run) ?? byRun.set(b.run, new Map()).get(b.run)!;
    const p = run.get(b.ts) ?? run.set(b.ts, { t: b.ts, pnl: 0, gross: 0, net: 0, long: 0, short: 0 }).get(b.ts)!;
    p.pnl += b.pnl;
    p.gross += Math.abs(b.pv);
    p.net += b.pv;
    p.long += Math.max(b.pv, 0);
    p.short += Math.min(b.pv, 0);
  }
  return new Map([...byRun].map(([run, points]) => [run, [...points.values()].sort((a, b) => a.t - b.t)]));
}

export function equityRef(raw: RawData, scope: RefScope): Map<string, { t: number; equity: number; drawdown: number }[]> {
  const out = new Map<string, { t: number; equity: number; drawdown: number }[]>();
  for (const [run, points] of perBar(raw, scope)) {
    let equity = 0;
    let peak = 0;
    out.set(
      run,
      points.map((p) => {
        equity += p.pnl;
        peak = Math.max(peak, equity);
        return { t: p.t, equity, drawdown: equity - peak };
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Equal-weighted market

export function marketRef(raw: RawData): Map<string, number | null> {
  // close per (symbol, day): the last bar's price, from the alphabetically first run having it.
  const close = new Map<string, { run: string; ts: number; price: number }>();
  for (const b of raw.bars) {
    const key = `${b.symbol}|${b.day}`;
    const c = close.get(key);
    if (!c || b.run < c.run || (b.run === c.run && b.ts > c.ts)) close.set(key, { run: b.run, ts: b.ts, price: b.price });
  }
  const bySymbol = new Map<string, { day: string; price: number }[]>();
  for (const [key, c] of close) {
    const [symbol, day] = key.split('|') as [string, string];
    (bySymbol.get(symbol) ?? bySymbol.set(symbol, []).get(symbol)!).push({ day, price: c.price });
  }
  const rets = new Map<string, number[]>();
  const allDays = new Set<string>();
  for (const series of bySymbol.values()) {
    series.sort((a, b) => (a.day < b.day ? -1 : 1));
    series.forEach((p, i) => {
      allDays.add(p.day);
      if (i === 0 || series[i - 1]!.price === 0) return;
      (rets.get(p.day) ?? rets.set(p.day, []).get(p.day)!).push(p.price / series[i - 1]!.price - 1);
    });
  }
  return new Map([...allDays].map((day) => [day, rets.has(day) ? mean(rets.get(day)!) : null]));
}

/**
 * The dataset's trading time, written from its definition (docs/architecture.md): trading days are
 * the UTC dates with bars, each from its first to its last bar over every run; the bar interval is
 * the smallest mean spacing of a run's bars within a day; calendar time runs within a day, and the
 * closed hours up to the next day's first bar count as one bar interval.
 */
export function tradingTimeRef(raw: RawData): (t: number) => number {
  const days = new Map<string, { first: number; last: number }>();
  const runDays = new Map<string, Set<number>>();
  for (const b of raw.bars) {
    const d = days.get(b.day) ?? days.set(b.day, { first: b.ts, last: b.ts }).get(b.day)!;
    d.first = Math.min(d.first, b.ts);
    d.last = Math.max(d.last, b.ts);
    const key = `${b.run}|${b.day}`;
    (runDays.get(key) ?? runDays.set(key, new Set()).get(key)!).add(b.ts);
  }
  const sorted = [...days.values()].sort((a, b) => a.first - b.first);
  let bar = Infinity;
  for (const stamps of runDays.values()) {
    if (stamps.size > 1) bar = Math.min(bar, (Math.max(...stamps) - Math.min(...stamps)) / (stamps.size - 1));
  }
  if (!Number.isFinite(bar)) for (let i = 1; i < sorted.length; i++) bar = Math.min(bar, sorted[i]!.first - sorted[i - 1]!.last);
  if (!Number.isFinite(bar)) bar = 60_000;
  return (t: number) => {
    if (sorted.length === 0) return t;
    if (t < sorted[0]!.first) return t - sorted[0]!.first;
    let at = 0;
    for (let i = 0; i < sorted.length; i++) {
      const { first, last } = sorted[i]!;
      const next = sorted[i + 1];
      if (t <= last || !next) return at + (t - first);
      if (t < next.first) return at + (last - first) + (bar * (t - last)) / (next.first - last);
      at += last - first + bar;
    }
    return t;
  };
}
