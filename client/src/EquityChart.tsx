// A thin hand-written uPlot wrapper. The data arrives as typed arrays already aligned by the
// worker; this component only hands them to uPlot and reports when it has drawn.
import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { dollars, dollarsCompact } from './format.js';

export const RUN_COLORS = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#9333ea',
  '#ea580c',
  '#0891b2',
  '#ca8a04',
  '#db2777',
  '#4b5563',
  '#65a30d',
];

export interface ChartSeries {
  /** Shared x, epoch seconds. */
  x: Float64Array;
  /** One y array per run, aligned with x; NaN marks "no data" (only when gapFree is false). */
  ys: Float64Array[];
  gapFree: boolean;
  labels: string[];
  /** Points actually delivered for this chart (sum over runs), reported as data-points. */
  points: number;
}

export interface EquityChartProps {
  testId: string;
  kind: 'equity' | 'drawdown';
  data: ChartSeries | null;
  width: number;
  height: number;
  syncKey: string;
  placeholder: string;
  onDrawn?: (points: number) => void;
  /** The user dragged out an x range (epoch seconds). */
  onSelectRange?: (fromSec: number, toSec: number) => void;
  onResetRange?: () => void;
}

const Y_AXIS_WIDTH = 84; // the same on both charts so their x axes line up

function toUPlotData(data: ChartSeries): uPlot.AlignedData {
  if (data.gapFree) return [data.x, ...data.ys];
  // Rare: runs with different ranges. uPlot draws gaps only for null, not NaN.
  return [data.x, ...data.ys.map((y) => Array.from(y, (v) => (Number.isNaN(v) ? null : v)))];
}

function makeOptions(
  props: EquityChartProps,
  labels: string[],
  hooks: { onDraw: (u: uPlot) => void; onSelect: (u: uPlot) => void },
): uPlot.Options {
  const drawdown = props.kind === 'drawdown';
  return {
    width: Math.max(1, props.width),
    height: props.height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    cursor: {
      sync: {
        key: props.syncKey,
        // Share the crosshair, not drag-selection: each chart reports its own drags.
        filters: { pub: (type) => type !== 'mousedown' && type !== 'mouseup' && type !== 'dblclick' },
      },
      drag: { x: true, y: false, setScale: false },
    },
    legend: { live: true },
    scales: { x: { time: true } },
    axes: [
      { stroke: '#475569', grid: { stroke: '#eef2f7' }, ticks: { stroke: '#cbd5e1' } },
      {
        stroke: '#475569',
        size: Y_AXIS_WIDTH,
        grid: { stroke: '#eef2f7' },
        ticks: { stroke: '#cbd5e1' },
        values: (_u, splits) => splits.map((v) => dollarsCompact(v)),
      },
    ],
    series: [
      { label: 'Time (UTC)', value: '{YYYY}-{MM}-{DD} {HH}:{mm}' },
      ...labels.map((label, i): uPlot.Series => {
        const color = RUN_COLORS[i % RUN_COLORS.length]!;
        return {
          label,
          stroke: color,
          width: 1.25,
          spanGaps: false,
          points: { show: false },
          value: (_u, v) => (v == null ? '–' : dollars(v)),
          ...(drawdown ? { fill: `${color}1f` } : {}),
        };
      }),
    ],
    hooks: {
      draw: [hooks.onDraw],
      setSelect: [hooks.onSelect],
    },
  };
}

export function EquityChart(props: EquityChartProps) {
  const wrapperRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<HTMLDivElement>(null);
  const uplotRef = useRef<uPlot | null>(null);
  const shownRef = useRef<ChartSeries | null>(null);
  const pointsRef = useRef(0);
  const propsRef = useRef(props);
  propsRef.current = props;

  const labelsKey = props.data ? props.data.labels.join('\u0000') : null;
  const aligned = useMemo(() => (props.data ? toUPlotData(props.data) : null), [props.data]);

  // (Re)create the plot when the set of series changes; data and size changes are applied below.
  useEffect(() => {
    const target = plotRef.current;
    const data = propsRef.current.data;
    if (!target || !data || !aligned) return;
    const onDraw = (u: uPlot) => {
      const wrapper = wrapperRef.current;
      if (!wrapper || u !== uplotRef.current) return;
      wrapper.dataset.points = String(pointsRef.current);
      wrapper.dataset.drawnAt = String(performance.now());
      propsRef.current.onDrawn?.(pointsRef.current);
    };
    const onSelect = (u: uPlot) => {
      const { left, width } = u.select;
      if (width < 3) return;
      const from = u.posToVal(left, 'x');
      const to = u.posToVal(left + width, 'x');
      u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
      if (to > from) propsRef.current.onSelectRange?.(from, to);
    };
    pointsRef.current = data.points;
    shownRef.current = data;
    const u = new uPlot(makeOptions(propsRef.current, data.labels, { onDraw, onSelect }), aligned, target);
    uplotRef.current = u;
    return () => {
      uplotRef.current = null;
      shownRef.current = null;
      u.destroy();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- recreate only when the series set or look changes
  }, [labelsKey, props.kind, props.syncKey, props.height]);

  useEffect(() => {
    const u = uplotRef.current;
    if (!u || !props.data || !aligned || shownRef.current === props.data) return;
    pointsRef.current = props.data.points;
    shownRef.current = props.data;
    u.setData(aligned);
  }, [props.data, aligned]);

  useEffect(() => {
    const u = uplotRef.current;
    if (u && props.width > 0 && (u.width !== props.width || u.height !== props.height)) {
      u.setSize({ width: props.width, height: props.height });
    }
  }, [props.width, props.height]);

  return (
    <div
      ref={wrapperRef}
      className="chart"
      data-testid={props.testId}
      style={{ minHeight: props.height }}
      onDoubleClick={() => props.onResetRange?.()}
    >
      <div ref={plotRef} />
      {!props.data && <div className="chart-placeholder">{props.placeholder}</div>}
    </div>
  );
}
