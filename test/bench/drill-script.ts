// The scripted drill-down both query benchmarks run (bench:queries alone against the baseline,
// bench:sessions in twenty sessions at once): overview, zooms, sector and symbol drills, trade-window
// scrolls, trade filters and time breakdowns, the requests of each interaction as a UI sends them.
// Seeded: the same seed gives the same script on the same dataset.
import { LEADERBOARD_METRICS, MAX_PINNED_RUNS, PARAM_COLUMN_PREFIX } from '../../shared/constants.js';
import type { QueryRequest } from '../../shared/messages.js';
import { mulberry32 } from '../support/random.js';
import { rowsOf, type SessionClient } from '../support/session-client.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request as a script step: the query and its params (the client adds type and id). */
export type Ask = DistributiveOmit<QueryRequest, 'type' | 'id'>;

export interface Interaction {
  kind: string;
  asks: Ask[];
}

/** `count` interactions over the session's dataset (one request lists its symbols first). */
export async function drillScript(client: SessionClient, count: number, seed: number): Promise<Interaction[]> {
  const dataset = client.hello.dataset;
  if (dataset.runs.length > MAX_PINNED_RUNS) return sweepScript(client, count, seed);
  const rng = mulberry32(seed * 7919 + 1);
  const pickOne = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;

  const WIDTH = 1200;
  const range = dataset.range!;
  const DAY = 86_400_000;
  const symbolAnswer = await client.request({ query: 'breakdown', params: { by: 'symbol', limit: 10_000 } });
  const symbols = rowsOf(symbolAnswer).map((r) => String(r.key));
  const sectors = dataset.sectors;
  const TRADE_SORTS = ['pnl', 'ret', 'entry_ts', 'symbol', 'holding_ms', 'mae', 'mfe', 'qty'] as const;
  // The deepest drawdown episodes, as the range a click on one zooms to (client/src/views/Episodes.tsx):
  // from just after the peak day's last bar to the recovery day's last bar, or the end.
  const lastBarOf = new Map<number, number>();
  for (let i = 0; i + 1 < dataset.calendar.days.length; i += 2) lastBarOf.set(Math.floor(dataset.calendar.days[i]! / DAY) * DAY, dataset.calendar.days[i + 1]!);
  const episodeRanges = rowsOf(await client.request({ query: 'episodes', params: { limit: 3 } })).map((e) => ({
    from: e.from_start === 1 ? range.from : (lastBarOf.get(Number(e.peak_ts)) ?? range.from) + 1000,
    to: e.recovery_ts === null ? range.to : (lastBarOf.get(Number(e.recovery_ts)) ?? range.to),
  }));

  /** A zoom the way a chart drag makes one: arbitrary instants, so both ends usually cut a day. */
  function zoom(): { from: number; to: number } {
    const span = range.to - range.from;
    const length = span * (0.02 + rng() * 0.5);
    const from = range.from + rng() * (span - length);
    return { from: Math.round(from), to: Math.round(from + length) };
  }
  /** A zoom to whole days (a click on a month or a day in the heatmap / calendar). */
  function dayZoom(): { from: number; to: number } {
    const first = Math.floor(range.from / DAY);
    const days = Math.floor(range.to / DAY) - first;
    const start = first + Math.floor(rng() * Math.max(1, days - 25));
    return { from: start * DAY, to: (start + 1 + Math.floor(rng() * 25)) * DAY - 1 };
  }

  function overview(): Interaction {
    return {
      kind: 'overview',
      asks: [
        { query: 'summary', params: {} },
        { query: 'equity', params: { width: WIDTH } },
        { query: 'exposure', params: { width: WIDTH } },
        { query: 'breakdown', params: { by: 'sector', limit: 50 } },
        { query: 'heatmap', params: {} },
        { query: 'rolling', params: { window: 63 } },
        { query: 'histogram', params: { field: 'daily_return', bins: 50 } },
        { query: 'scatter', params: {} },
        { query: 'episodes', params: { limit: 10 } },
        { query: 'risk', params: {} },
        { query: 'benchmark', params: {} },
      ],
    };
  }

  function buildScript(count: number): Interaction[] {
    const script: Interaction[] = [overview()];
    let view: { from?: number; to?: number } = {};
    let sector: string | null = null;
    while (script.length < count) {
      const r = rng();
      if (script.length % 40 === 0) {
        view = {};
        sector = null;
        script.push(overview());
      } else if (r < 0.22) {
        view = rng() < 0.7 ? zoom() : dayZoom();
        const filters = sector ? { filters: { sectors: [sector] } } : {};
        script.push({
          kind: 'zoom',
          asks: [
            { query: 'equity', params: { ...view, ...filters, width: WIDTH } },
            { query: 'exposure', params: { ...view, ...filters, width: WIDTH } },
            { query: 'summary', params: { ...view, ...filters } },
            { query: 'breakdown', params: { ...view, ...filters, by: sector ? 'symbol' : 'sector', limit: 50 } },
            { query: 'scatter', params: { ...view, ...filters } },
            { query: 'episodes', params: { ...view, ...filters, limit: 10 } },
            { query: 'attribution', params: { ...view, ...filters } },
            { query: 'risk', params: { ...view, ...filters } },
            { query: 'benchmark', params: view },
          ],
        });
      } else if (r < 0.36) {
        sector = pickOne(sectors);
        const filters = { filters: { sectors: [sector] } };
        script.push({
          kind: 'sector',
          asks: [
            { query: 'summary', params: { ...view, ...filters } },
            { query: 'equity', params: { ...view, ...filters, width: WIDTH } },
            { query: 'breakdown', params: { ...view, ...filters, by: 'symbol', limit: 50 } },
          ],
        });
      } else if (r < 0.5) {
        const symbol = pickOne(symbols);
        script.push({
          kind: 'symbol',
          asks: [
            { query: 'series', params: { ...view, symbol, width: WIDTH } },
            { query: 'summary', params: { ...view, filters: { symbols: [symbol] } } },
            { query: 'trades', params: { ...view, filters: { symbols: [symbol] }, sort: { column: 'entry_ts' }, limit: 100 } },
          ],
        });
      } else if (r < 0.6) {
        // A scroll through the trade table: a few pages in a row, deeper and deeper.
        const column = pickOne(TRADE_SORTS);
        const descending = rng() < 0.5;
        let offset = Math.floor(rng() * Math.min(dataset.tradeCount, 2_000_000) * 0.5);
        const pages = 2 + Math.floor(rng() * 3);
        for (let i = 0; i < pages && script.length < count; i++) {
          script.push({ kind: 'scroll', asks: [{ query: 'trades', params: { ...view, sort: { column, descending }, offset, limit: 100 } }] });
          offset += Math.floor(100 + rng() * 20_000);
        }
      } else if (r < 0.8) {
        const filters = pickOne([
          { sides: ['long' as const] },
          { sides: ['short' as const], pnl: { max: 0 } },
          { pnl: { min: 0 } },
          { tags: dataset.tags.slice(0, 1) },
          { ret: { min: -0.01, max: 0.01 } },
        ]);
        script.push({
          kind: 'filter',
          asks: [
            { query: 'trades', params: { ...view, filters, sort: { column: 'pnl', descending: true }, limit: 100 } },
            { query: 'histogram', params: { ...view, filters, field: pickOne(['pnl', 'ret', 'holding_ms'] as const), bins: 60 } },
            { query: 'summary', params: { ...view, filters } },
          ],
        });
      } else if (r < 0.86 && episodeRanges.length > 0) {
        // A click on a drawdown episode: every view zooms to it and its attribution opens, then a sector's.
        view = pickOne(episodeRanges);
        sector = null;
        script.push({
          kind: 'episode',
          asks: [
            { query: 'equity', params: { ...view, width: WIDTH } },
            { query: 'summary', params: view },
            { query: 'episodes', params: { ...view, limit: 10 } },
            { query: 'attribution', params: view },
            { query: 'risk', params: view },
          ],
        });
        if (script.length < count) script.push({ kind: 'attribution', asks: [{ query: 'attribution', params: { ...view, sector: pickOne(sectors) } }] });
      } else {
        script.push({
          kind: 'time',
          asks: [
            { query: 'breakdown', params: { ...view, by: pickOne(['month', 'weekday', 'hour'] as const), limit: 100 } },
            { query: 'heatmap', params: { ...view, ...(sector ? { filters: { sectors: [sector] } } : {}) } },
            { query: 'rolling', params: { ...view, window: pickOne([21, 63, 126]) } },
          ],
        });
      }
    }
    return script;
  }
  return buildScript(count);
}

/**
 * The drill of a parameter sweep (more runs than the UI pins): the leaderboard sorted by one KPI
 * after another over zooms, parameter surfaces (one and two parameters, any metric), the pinned
 * runs' charts and summary (the best by Sharpe and the median run, as the UI pins by default),
 * parameter filters, and run diffs of two pinned runs.
 */
async function sweepScript(client: SessionClient, count: number, seed: number): Promise<Interaction[]> {
  const dataset = client.hello.dataset;
  const rng = mulberry32(seed * 7919 + 3);
  const pickOne = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const WIDTH = 1200;
  const range = dataset.range!;
  const DAY = 86_400_000;
  const ranked = rowsOf(await client.request({ query: 'leaderboard', params: { sort: { column: 'sharpe', descending: true }, limit: dataset.runs.length } }));
  const ids = ranked.map((r) => String(r.run_id));
  const pinned = [...new Set([...ids.slice(0, MAX_PINNED_RUNS - 1), ids[Math.floor(ids.length / 2)]!])];
  // The grid's numeric parameters: the surface's axes and the filters' subjects.
  const numeric = Object.keys(dataset.runs[0]!.params).filter((key) => dataset.runs.every((r) => typeof r.params[key] === 'number'));
  const axes = numeric.length > 0 ? numeric : Object.keys(dataset.runs[0]!.params);
  const valuesOf = (key: string) => [...new Set(dataset.runs.map((r) => r.params[key]).filter((v): v is number => typeof v === 'number'))].sort((a, b) => a - b);

  function zoom(): { from?: number; to?: number } {
    const r = rng();
    if (r < 0.3) return {};
    const span = range.to - range.from;
    const length = span * (0.05 + rng() * 0.6);
    const from = range.from + rng() * (span - length);
    // Daily bars: a chart drag cuts days at arbitrary instants, a calendar click takes whole days.
    return r < 0.65 ? { from: Math.round(from), to: Math.round(from + length) } : { from: Math.floor(from / DAY) * DAY, to: Math.floor((from + length) / DAY) * DAY - 1 };
  }
  type Filters = { params?: { name: string; min: number; max: number }[] };
  function surface(view: { from?: number; to?: number }, filters: Filters = {}): Ask {
    const x = pickOne(axes);
    const others = axes.filter((a) => a !== x);
    const y = others.length > 0 && rng() < 0.7 ? pickOne(others) : undefined;
    return { query: 'surface', params: { ...view, ...filters, x, ...(y ? { y } : {}), metric: pickOne(LEADERBOARD_METRICS) } };
  }
  function leaderboard(view: { from?: number; to?: number }, filters: Filters = {}): Ask {
    const column = rng() < 0.8 ? pickOne(LEADERBOARD_METRICS) : `${PARAM_COLUMN_PREFIX}${pickOne(axes)}`;
    return { query: 'leaderboard', params: { ...view, ...filters, sort: { column, descending: rng() < 0.7 }, offset: rng() < 0.2 ? Math.floor(rng() * dataset.runs.length * 0.8) : 0, limit: 100 } };
  }
  function overview(): Interaction {
    return {
      kind: 'sweep-overview',
      asks: [
        leaderboard({}),
        surface({}),
        { query: 'equity', params: { runs: pinned, width: WIDTH } },
        { query: 'summary', params: { runs: pinned } },
        { query: 'risk', params: { runs: pinned } },
      ],
    };
  }
  const script: Interaction[] = [overview()];
  let view: { from?: number; to?: number } = {};
  while (script.length < count) {
    const r = rng();
    if (script.length % 40 === 0) {
      view = {};
      script.push(overview());
    } else if (r < 0.3) {
      view = zoom();
      script.push({
        kind: 'sweep-zoom',
        asks: [leaderboard(view), surface(view), { query: 'equity', params: { ...view, runs: pinned, width: WIDTH } }, { query: 'summary', params: { ...view, runs: pinned } }],
      });
    } else if (r < 0.5) {
      script.push({ kind: 'leaderboard', asks: [leaderboard(view)] });
    } else if (r < 0.65) {
      script.push({ kind: 'surface', asks: [surface(view)] });
    } else if (r < 0.8 && numeric.length > 0) {
      // A parameter filter: the runs of a band of one parameter's values.
      const key = pickOne(numeric);
      const values = valuesOf(key);
      const lo = values[Math.floor(rng() * values.length)]!;
      const hi = values[Math.min(values.length - 1, values.indexOf(lo) + 1 + Math.floor(rng() * 3))]!;
      const filters = { params: [{ name: key, min: lo, max: hi }] };
      script.push({ kind: 'param-filter', asks: [leaderboard(view, filters), surface(view, filters)] });
    } else {
      const a = pickOne(pinned);
      const b = pickOne(pinned.filter((run) => run !== a));
      script.push({
        kind: 'rundiff',
        asks: [
          { query: 'rundiff', params: { ...view, a, b, limit: 200 } },
          { query: 'equity', params: { ...view, runs: [a, b], width: WIDTH } },
        ],
      });
    }
  }
  return script;
}

/** A tab's drill-down: the script above, each interaction's requests sent together; the latency of every answer. */
export async function runDrillScript(client: SessionClient, count: number, seed: number): Promise<number[]> {
  const latencies: number[] = [];
  for (const interaction of await drillScript(client, count, seed)) {
    const answers = await Promise.all(interaction.asks.map((ask) => client.request(ask)));
    answers.forEach((answer, i) => {
      const ask = interaction.asks[i]!;
      if (answer.error) throw new Error(`${ask.query} ${JSON.stringify(ask.params)}: ${answer.error.message}`);
      latencies.push(answer.elapsedMs);
    });
  }
  return latencies;
}
