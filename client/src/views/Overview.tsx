// The portfolio: KPI tiles, equity with drawdown underneath, exposure, monthly returns, the
// trade P&L distribution; runs overlaid. Dragging across any time chart zooms every view.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Card } from '../components/Card.js';
import { Chart, type ChartData } from '../components/Chart.js';
import { Heatmap } from '../components/Heatmap.js';
import { Kpis } from '../components/Kpis.js';
import { RiskTiles } from '../components/RiskTiles.js';
import { benchmarkOnAxis } from '../benchmark-line.js';
import { dollarsCompact, pnl, count } from '../format.js';
import { probe } from '../perf.js';
import { useQuery } from '../query.js';
import { useOnScreen } from '../use-on-screen.js';
import { hasTradeFilters, navigate, type Route } from '../route.js';
import { benchmarkSpec, episodesSpec, equitySpec, exposureSpec, heatmapSpec, histogramSpec, riskSpec, summarySpec, useRequestWidths } from '../specs.js';
import { runColorOf, runLabel } from '../runs.js';
import { useTheme } from '../theme.js';
import { tradingTimeOf } from '../time-axis.js';
import type { DatasetSchema } from '../worker/types.js';
import { QueryNote, seriesLines, TimeChart } from './common.js';
import { TimeOfDay } from './TimeOfDay.js';
import { TradeScatter } from './TradeScatter.js';
import { Attribution } from './Attribution.js';
import { Episodes } from './Episodes.js';
import { SweepSummary } from '../components/SweepSummary.js';
import { DownloadMenu } from '../components/DownloadMenu.js';

const EQUITY_HEIGHT = 320;
const DRAWDOWN_HEIGHT = 150;
const EXPOSURE_HEIGHT = 170;
/** How long after the equity answer the cards below mount when the chart has not drawn. */
const BELOW_FALLBACK_MS = 300;

let onFirstChart: (() => void) | undefined;
/** Called once, when the first chart has been drawn (App preloads the other views then). */
export function whenFirstChart(fn: () => void): void {
  onFirstChart = fn;
}

export function Overview({ route, dataset }: { route: Route; dataset: DatasetSchema }) {
  const theme = useTheme();
  const time = tradingTimeOf(dataset);
  const widths = useRequestWidths();
  const equity = useQuery(equitySpec(route, widths.main), { previewable: true, name: 'overview.equity' });
  // On the first load the equity curve goes alone (the session's two DuckDB threads are all
  // its own, so the first chart comes sooner); the other views ask once it is there.
  const [started, setStarted] = useState(false);
  useEffect(() => {
    if (equity.answer || equity.error) setStarted(true);
  }, [equity.answer, equity.error]);
  // The cards under the equity chart mount once it has drawn: mounting them with it (their DOM,
  // layout and empty charts) was half of the main thread's work between the hello and the first
  // chart. They have nothing to show before then anyway; a chart that cannot draw (no width) lets
  // them in shortly after its answer.
  const [belowMounted, setBelowMounted] = useState(false);
  useEffect(() => {
    if (!started || belowMounted) return;
    const timer = setTimeout(() => setBelowMounted(true), BELOW_FALLBACK_MS);
    return () => clearTimeout(timer);
  }, [started, belowMounted]);
  const summary = useQuery(started ? summarySpec(route) : null, { name: 'overview.summary' });
  const risk = useQuery(started ? riskSpec(route) : null, { name: 'overview.risk' });
  const benchmark = useQuery(started ? benchmarkSpec(route) : null, { name: 'overview.benchmark' });
  // The cards below the drawdown chart are out of sight until the analyst scrolls (on a laptop's
  // screen, everything after the equity chart): what they ask waits for what the views in sight
  // ask, so a zoom's KPIs and equity curve do not share the session's DuckDB threads with them.
  // Scrolled into view, a card asks again at full priority and its answer jumps the queue.
  const [episodesRef, episodesOnScreen] = useOnScreen<HTMLElement>();
  const [exposureRef, exposureOnScreen] = useOnScreen<HTMLElement>();
  const [distributionsRef, distributionsOnScreen] = useOnScreen<HTMLDivElement>();
  const episodes = useQuery(started ? episodesSpec(route) : null, { name: 'overview.episodes', low: !episodesOnScreen });
  const exposure = useQuery(started ? exposureSpec(route, widths.main) : null, { previewable: true, name: 'overview.exposure', low: !exposureOnScreen });
  const heatmap = useQuery(started ? heatmapSpec(route) : null, { name: 'overview.heatmap', low: !distributionsOnScreen });
  const histogram = useQuery(started ? histogramSpec(route) : null, { name: 'overview.histogram', low: !distributionsOnScreen });

  const eq = equity.answer?.data;
  const bench = benchmark.answer?.data;
  const [equityData, drawdownData] = useMemo((): [ChartData | null, ChartData | null] => {
    if (!eq) return [null, null];
    // The benchmark's line per run (dashed, in the run's color): the run's capital in the benchmark.
    const benchmarkLines = bench
      ? eq.runs.flatMap((runId) => {
          const values = benchmarkOnAxis(bench, runId, eq.x);
          if (!values) return [];
          const label = `${dataset.benchmark.name}${eq.runs.length > 1 ? ` · ${runLabel(dataset, runId)}` : ''} (benchmark)`;
          return [{ label, color: runColorOf(dataset, runId, theme), dash: [6, 4], values }];
        })
      : [];
    return [
      { x: eq.x, lines: [...seriesLines(eq, 'equity', dataset, theme), ...benchmarkLines], gapFree: eq.gapFree, points: eq.points },
      { x: eq.x, lines: seriesLines(eq, 'drawdown', dataset, theme, { fill: true }), gapFree: eq.gapFree, points: eq.points },
    ];
  }, [eq, bench, dataset, theme]);

  const ex = exposure.answer?.data;
  const exposureData = useMemo((): ChartData | null => {
    if (!ex) return null;
    const multi = ex.runs.length > 1;
    return {
      x: ex.x,
      lines: [
        ...seriesLines(ex, 'gross', dataset, theme, { suffix: multi ? ' gross' : ' gross' }),
        ...seriesLines(ex, 'net', dataset, theme, { suffix: ' net', dash: [4, 3] }),
      ],
      gapFree: ex.gapFree,
      points: ex.points,
    };
  }, [ex, dataset, theme]);

  const histData = useMemo((): ChartData | null => {
    const t = histogram.answer?.data;
    if (!t || t.length === 0) return null;
    const runCol = t.columns.run_id;
    const lo = t.columns.lo as Float64Array;
    const hi = t.columns.hi as Float64Array;
    const counts = t.columns.count as Float64Array;
    if (!runCol || runCol instanceof Float64Array) return null;
    const runs = runCol.dict;
    const centers: number[] = [];
    const byRun = runs.map(() => new Map<number, number>());
    for (let i = 0; i < t.length; i++) {
      if (!Number.isFinite(lo[i]!) || !Number.isFinite(hi[i]!)) continue;
      const c = (lo[i]! + hi[i]!) / 2;
      byRun[runCol.codes[i]!]!.set(c, counts[i]!);
      if (runCol.codes[i] === 0) centers.push(c);
    }
    const x = Float64Array.from(centers.sort((a, b) => a - b));
    let trades = 0;
    for (let i = 0; i < t.length; i++) if (Number.isFinite(counts[i]!)) trades += counts[i]!;
    if (x.length === 0 || trades === 0) return null;
    return {
      x,
      lines: runs.map((runId, k) => {
        const color = runColorOf(dataset, runId, theme);
        return {
          label: runLabel(dataset, runId),
          color,
          bars: true,
          fill: `${color}${runs.length > 1 ? '70' : 'b0'}`,
          values: Float64Array.from(x, (c) => byRun[k]!.get(c) ?? 0),
          format: (v: number) => `${count(v)} trades`,
        };
      }),
      gapFree: true,
      points: x.length * runs.length,
    };
  }, [histogram.answer, dataset, theme]);

  const binWidth = histData && histData.x.length > 1 ? histData.x[1]! - histData.x[0]! : 0;
  const onHistogramClick = useCallback(
    (x: number) => {
      if (!histData || binWidth <= 0) return;
      // The bin under the click: open the trade list filtered to its P&L range.
      const i = Math.round((x - histData.x[0]!) / binWidth);
      const center = histData.x[Math.max(0, Math.min(histData.x.length - 1, i))]!;
      const lo = Math.floor(center - binWidth / 2);
      const hi = Math.ceil(center + binWidth / 2);
      navigate({ ...route, level: 'trades', filters: { ...route.filters, pnl: { min: lo, max: hi } }, sort: { column: 'pnl', descending: true } });
    },
    [histData, binWidth, route],
  );

  const onDrawn = useCallback(() => {
    setBelowMounted(true);
    const p = probe();
    if (p.firstChartMs === undefined) {
      p.firstChartMs = performance.now();
      // The drill-down views' code, while the analyst reads the first chart.
      if (typeof window.requestIdleCallback === 'function') window.requestIdleCallback(() => onFirstChart?.(), { timeout: 500 });
      else setTimeout(() => onFirstChart?.(), 200);
    }
  }, []);

  const runs = useMemo(() => route.runs ?? dataset.runs.map((r) => r.runId), [route.runs, dataset]);
  const zoomHint = route.from !== undefined ? 'Double-click to show all' : 'Drag across a chart to zoom every view';
  const emptyRange = eq?.points === 0;

  return (
    <div className="view overview" data-testid="overview">
      <Kpis state={summary} dataset={dataset} />
      <RiskTiles state={risk} dataset={dataset} riskFreeRate={route.riskFreeRate} />
      <SweepSummary route={route} dataset={dataset} runs={runs} enabled={started} />
      <Card title="Portfolio equity" aside={<span className="hint">{zoomHint}</span>}>
        <TimeChart testId="equity-chart" state={equity} empty={emptyRange} data={equityData} height={EQUITY_HEIGHT} syncKey="overview" time={time} route={route} onDrawn={onDrawn} />
      </Card>
      {belowMounted && (
        <>
          <Card
            title="Drawdown"
            aside={
              <span className="hint" title="The Max drawdown KPI is measured on end-of-day equity; this chart on every bar, so it can dip deeper inside a day.">
                every bar (the KPI: end of day) · <QueryNote state={equity} />
              </span>
            }
          >
            <TimeChart testId="drawdown-chart" state={equity} empty={emptyRange} data={drawdownData} height={DRAWDOWN_HEIGHT} syncKey="overview" time={time} route={route} />
          </Card>
          <Card
            ref={episodesRef}
            title="Drawdown episodes"
            aside={
              <span className="hint">
                click one to zoom to it and explain it ·{' '}
                <button type="button" className="link" data-testid="explain-range" onClick={() => navigate({ ...route, explain: {} })}>
                  explain {route.from !== undefined ? 'this range' : 'the whole history'}
                </button>
                <DownloadMenu spec={episodesSpec(route)} testId="episodes-download" what="these episodes" />
              </span>
            }
          >
            <Episodes state={episodes} dataset={dataset} route={route} />
          </Card>
          {route.explain && <Attribution route={route} dataset={dataset} />}
          <Card ref={exposureRef} title="Exposure" aside={<span className="hint">gross (solid) and net (dashed), dollars</span>}>
            <TimeChart testId="exposure-chart" state={exposure} empty={ex?.points === 0} data={exposureData} height={EXPOSURE_HEIGHT} syncKey="overview" time={time} route={route} />
          </Card>
          <div className="grid2" ref={distributionsRef}>
            <Card title="Monthly returns" aside={<span className="hint">click a month to zoom to it</span>}>
              <Heatmap state={heatmap} dataset={dataset} route={route} />
            </Card>
            <Card title="Trade P&L distribution" aside={<span className="hint">{hasTradeFilters(route) ? 'filtered trades · ' : ''}click a bar to list its trades</span>}>
              <Chart
                testId="histogram-chart"
                data={histData}
                exact={!histogram.stale}
                time={null}
                height={260}
                yFormat={count}
                xFormat={dollarsCompact}
                valueFormat={count}
                placeholder={histogram.error ? `Could not load: ${histogram.error}` : histogram.answer && !histogram.loading ? `No trades${hasTradeFilters(route) ? ' match the filters' : ''} in this range.` : 'Loading…'}
                onClickX={onHistogramClick}
              />
              {histData && binWidth > 0 && <p className="hint">bins of {pnl(binWidth).replace('+', '')}</p>}
            </Card>
          </div>
          <TimeOfDay route={route} enabled={started} />
          <TradeScatter route={route} dataset={dataset} enabled={started} />
        </>
      )}
    </div>
  );
}
