// A thin wrapper over uPlot (a fast canvas chart). The data arrives as typed arrays already
// aligned by the worker; this component hands them to uPlot, reports when it has drawn, and
// turns a drag into a range selection. Extra drawing (trade markers, MAE/MFE) goes through
// `overlay`, called on every redraw with uPlot's canvas context. Time charts are drawn in
// trading time (time-axis.ts): uPlot's x is trading seconds, everything this component takes and
// reports is calendar time (epoch seconds).
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode, type RefObject } from 'react';
import { inOwnTask } from '../main-thread-tasks.js';
import uPlot from 'uplot';

/** Charts shorter than this space their y ticks closer. */
const SHORT_CHART_PX = 140;
import 'uplot/dist/uPlot.min.css';
import { dollars, dollarsCompact } from '../format.js';
import { markDrawn } from '../perf.js';
import { cssVar, useTheme } from '../theme.js';
import { cursorTime, tradingTimeAxis } from '../time-axis.js';
import { zoneLabel } from '../display-zone.js';
import type { TradingTime } from '../../../shared/trading-time.js';

export interface ChartLine {
  label: string;
  color: string;
  values: Float64Array;
  width?: number;
  dash?: number[];
  /** Fill under the line with this color (e.g. drawdown). */
  fill?: string;
  /** Draw as bars (histograms). */
  bars?: boolean;
  /** Legend value formatter; default the chart's. */
  format?: (v: number) => string;
}

export interface ChartData {
  /** Shared x: epoch seconds for time charts. */
  x: Float64Array;
  lines: ChartLine[];
  /** False when some values are NaN gaps (converted to null for uPlot). */
  gapFree: boolean;
  /** Points actually delivered for this chart, reported as data-points. */
  points: number;
}

export interface ChartProps {
  testId: string;
  data: ChartData | null;
  height: number;
  /** Exact data (false: a preview from the cache, or stale while a newer answer loads). */
  exact?: boolean;
  /** A time chart's trading time (tradingTimeOf), drawn without closed hours; null: x is a plain number. */
  time: TradingTime | null;
  yFormat?: (v: number) => string;
  valueFormat?: (v: number) => string;
  xFormat?: (v: number) => string;
  syncKey?: string;
  placeholder?: ReactNode;
  onDrawn?: (points: number) => void;
  /** The user dragged out an x range (x units: epoch seconds for time charts). */
  onSelectRange?: (from: number, to: number) => void;
  onResetRange?: () => void;
  /** A click without a drag, at this x. */
  onClickX?: (x: number) => void;
  overlay?: (u: uPlot) => void;
  /** Redraws the overlay when it changes. */
  overlayKey?: unknown;
  yRange?: (u: uPlot, min: number, max: number) => [number, number];
  logY?: boolean;
}

const RESIZE_DEBOUNCE_MS = 120;
const Y_AXIS_WIDTH = 84; // the same on every chart so stacked x axes line up

/** An element's content width: at once on mount, then debounced on resize. */
export function useElementWidth(ref: RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setWidth(Math.floor(el.clientWidth));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const observer = new ResizeObserver((entries) => {
      const w = Math.floor(entries[0]?.contentRect.width ?? el.clientWidth);
      clearTimeout(timer);
      // 0: hidden (a kept view): keep the plot as it is.
      if (w > 0) timer = setTimeout(() => setWidth(w), RESIZE_DEBOUNCE_MS);
    });
    observer.observe(el);
    return () => {
      clearTimeout(timer);
      observer.disconnect();
    };
  }, [ref]);
  return width;
}

function toUPlotData(data: ChartData, time: TradingTime | null): uPlot.AlignedData {
  const x = time ? time.toTradingAll(data.x, 1000) : data.x;
  if (data.gapFree) return [x, ...data.lines.map((l) => l.values)];
  // uPlot draws gaps only for null, not NaN.
  return [x, ...data.lines.map((l) => Array.from(l.values, (v) => (Number.isNaN(v) ? null : v)))];
}

/** A chart's x (trading seconds for a time chart) -> what it reports (epoch seconds). */
function reportedX(time: TradingTime | null, x: number): number {
  return time ? time.fromTrading(x * 1000) / 1000 : x;
}

/** Epoch seconds -> the x of a time chart (for overlays drawing at instants). */
export function chartX(time: TradingTime, epochSeconds: number): number {
  return time.toTrading(epochSeconds * 1000) / 1000;
}

function makeOptions(props: ChartProps, width: number, lines: ChartLine[], hooks: { onDraw: (u: uPlot) => void; onSelect: (u: uPlot) => void }): uPlot.Options {
  const axis = cssVar('--chart-axis') || '#475569';
  const grid = cssVar('--chart-grid') || '#eef2f7';
  const tick = cssVar('--chart-tick') || '#cbd5e1';
  const time = props.time;
  const yFormat = props.yFormat ?? dollarsCompact;
  const valueFormat = props.valueFormat ?? dollars;
  const bars = uPlot.paths.bars?.({ size: [0.92, 64], align: 0 });
  return {
    width: Math.max(1, width),
    height: props.height,
    cursor: {
      ...(props.syncKey
        ? {
            sync: {
              key: props.syncKey,
              // Share the crosshair, not drag-selection: each chart reports its own drags.
              filters: { pub: (type: string) => type !== 'mousedown' && type !== 'mouseup' && type !== 'dblclick' },
            },
          }
        : {}),
      drag: { x: !!props.onSelectRange, y: false, setScale: false },
    },
    legend: { live: true },
    scales: {
      x: { time: false },
      y: {
        ...(props.logY ? { distr: 3 as const } : {}),
        ...(props.yRange ? { range: props.yRange } : {}),
      },
    },
    axes: [
      {
        stroke: axis,
        grid: { stroke: grid },
        ticks: { stroke: tick },
        ...(time ? tradingTimeAxis(time) : props.xFormat ? { values: (_u: uPlot, splits: number[]) => splits.map((v) => props.xFormat!(v)) } : {}),
      },
      {
        stroke: axis,
        size: Y_AXIS_WIDTH,
        // A short chart still labels more than one value (uPlot's default 30 px between ticks
        // leaves a 120 px chart's axis with a lone "0").
        ...(props.height < SHORT_CHART_PX ? { space: 18 } : {}),
        grid: { stroke: grid },
        ticks: { stroke: tick },
        values: (_u, splits) => splits.map((v) => yFormat(v)),
      },
    ],
    series: [
      time ? { label: `Time (${zoneLabel()})`, value: (_u, v) => cursorTime(time, v) } : { label: 'x', value: (_u, v) => (v == null ? '–' : (props.xFormat ?? String)(v)) },
      ...lines.map(
        (line): uPlot.Series => ({
          label: line.label,
          stroke: line.color,
          width: line.width ?? 1.25,
          spanGaps: false,
          points: { show: false },
          value: (_u, v) => (v == null ? '–' : (line.format ?? valueFormat)(v)),
          ...(line.dash ? { dash: line.dash } : {}),
          ...(line.fill ? { fill: line.fill } : {}),
          ...(line.bars && bars ? { paths: bars, fill: line.fill ?? `${line.color}66`, width: 0 } : {}),
        }),
      ),
    ],
    hooks: {
      draw: [hooks.onDraw],
      setSelect: [hooks.onSelect],
    },
  };
}

export const Chart = memo(function Chart(props: ChartProps) {
  const wrapperRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<HTMLDivElement>(null);
  const uplotRef = useRef<uPlot | null>(null);
  const shownRef = useRef<ChartData | null>(null);
  const pointsRef = useRef(0);
  const propsRef = useRef(props);
  propsRef.current = props;
  const width = useElementWidth(wrapperRef);
  const theme = useTheme();

  const signature = props.data ? props.data.lines.map((l) => `${l.label}\u0001${l.color}\u0001${l.bars ? 'b' : ''}${l.dash ? 'd' : ''}${l.fill ?? ''}`).join('\u0000') : null;
  const aligned = useMemo(() => (props.data ? toUPlotData(props.data, props.time) : null), [props.data, props.time]);

  // (Re)create the plot when the set of series or the look changes; data and size changes are
  // applied below without re-creating it. Creation runs in a task of its own (a view mounting
  // several charts does not block the main thread for all of them at once).
  const [created, setCreated] = useState(0);
  useEffect(() => {
    const target = plotRef.current;
    if (!target || !propsRef.current.data || width <= 0) return;
    let u: uPlot | null = null;
    let detach = () => {};
    const cancel = inOwnTask(() => {
      const data = propsRef.current.data;
      if (!data) return;
      const onDraw = (plot: uPlot) => {
        const wrapper = wrapperRef.current;
        if (!wrapper || plot !== uplotRef.current) return;
        propsRef.current.overlay?.(plot);
        wrapper.dataset.points = String(pointsRef.current);
        markDrawn(wrapper, propsRef.current.exact ?? true);
        propsRef.current.onDrawn?.(pointsRef.current);
      };
      let down: { x: number; y: number } | null = null;
      const onSelect = (plot: uPlot) => {
        const { left, width: w } = plot.select;
        if (w < 3) return;
        const time = propsRef.current.time;
        const from = reportedX(time, plot.posToVal(left, 'x'));
        const to = reportedX(time, plot.posToVal(left + w, 'x'));
        plot.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        down = null;
        if (to > from) propsRef.current.onSelectRange?.(from, to);
      };
      pointsRef.current = data.points;
      shownRef.current = data;
      const plot = new uPlot(makeOptions(propsRef.current, width, data.lines, { onDraw, onSelect }), toUPlotData(data, propsRef.current.time), target);
      u = plot;
      uplotRef.current = plot;
      const over = plot.over;
      const onDown = (e: MouseEvent) => {
        down = { x: e.clientX, y: e.clientY };
      };
      const onUp = (e: MouseEvent) => {
        if (down && Math.abs(e.clientX - down.x) < 3 && Math.abs(e.clientY - down.y) < 3 && propsRef.current.onClickX) {
          const rect = over.getBoundingClientRect();
          propsRef.current.onClickX(reportedX(propsRef.current.time, plot.posToVal(e.clientX - rect.left, 'x')));
        }
        down = null;
      };
      over.addEventListener('mousedown', onDown);
      over.addEventListener('mouseup', onUp);
      detach = () => {
        over.removeEventListener('mousedown', onDown);
        over.removeEventListener('mouseup', onUp);
      };
      setCreated((n) => n + 1);
    });
    return () => {
      cancel();
      detach();
      if (u) {
        if (uplotRef.current === u) uplotRef.current = null;
        shownRef.current = null;
        u.destroy();
      }
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- recreate only when the series set or look changes
  }, [signature, props.height, props.time, props.syncKey, theme, width > 0, props.logY]);

  // New data is drawn in a task of its own too: a view whose four charts get answers in one
  // render draws them in four tasks.
  useEffect(() => {
    const u = uplotRef.current;
    const data = props.data;
    if (!u || !data || !aligned || shownRef.current === data) return;
    return inOwnTask(() => {
      if (uplotRef.current !== u) return;
      pointsRef.current = data.points;
      shownRef.current = data;
      u.setData(aligned);
    });
  }, [props.data, aligned, created]);

  useEffect(() => {
    const u = uplotRef.current;
    if (u && width > 0 && (u.width !== width || u.height !== props.height)) u.setSize({ width, height: props.height });
  }, [width, props.height, created]);

  useEffect(() => {
    const u = uplotRef.current;
    if (u && props.overlay) u.redraw(false, false);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- overlayKey says when the overlay changed
  }, [props.overlayKey]);

  useEffect(() => {
    // Exactness changes without new data (a preview confirmed): re-stamp.
    const wrapper = wrapperRef.current;
    if (wrapper && uplotRef.current && shownRef.current === props.data && props.exact !== undefined && wrapper.dataset.exact !== String(props.exact)) {
      markDrawn(wrapper, props.exact);
    }
  }, [props.exact]);

  return (
    <div
      ref={wrapperRef}
      className={`chart${props.exact === false ? ' chart-provisional' : ''}`}
      data-testid={props.testId}
      style={{ minHeight: props.height }}
      onDoubleClick={() => props.onResetRange?.()}
    >
      <div ref={plotRef} />
      {!props.data && <div className="chart-placeholder">{props.placeholder ?? 'Loading…'}</div>}
    </div>
  );
});
