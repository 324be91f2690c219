// A scatter of many points (tens of thousands) drawn straight from typed arrays onto one canvas:
// a square per point, winners over losers in two colors (written as pixels: point-raster.ts),
// axes with round ticks and the diagonal y = x. Hover finds the nearest point by one pass over the
// columns (20,000 distances: well under a millisecond per pointer move); a click picks it. Drawn
// by hand rather than with uPlot: uPlot's scatter mode needs its own data layout, series options
// and a quadtree for hover that Chart.tsx does not have, where this is one loop over the columns.
import { useCallback, useEffect, useRef, useState, type MouseEvent } from 'react';
import { markDrawn } from '../perf.js';
import { cssVar, useTheme } from '../theme.js';
import { useElementWidth } from './Chart.js';
import { parseRgb, rasterizePoints } from './point-raster.js';
import './Scatter.css';

export interface ScatterProps {
  testId: string;
  x: Float64Array | null;
  y: Float64Array | null;
  height: number;
  exact: boolean;
  xLabel: string;
  yLabel: string;
  /** A tick label: the value and the step between ticks (for as many decimals as it needs). */
  tickFormat: (v: number, step: number) => string;
  /** A point's tooltip. */
  describe: (i: number) => string;
  onPick: (i: number) => void;
  placeholder: string;
}

const PAD = { top: 10, right: 14, bottom: 34, left: 58 };
const POINT = 3;
/** How far (CSS px) from a point the pointer still picks it. */
const PICK_RADIUS = 7;

/** Where the last drawing put the values: canvas CSS px = offset + value x scale, per axis. */
interface Frame {
  x0: number;
  sx: number;
  y1: number;
  sy: number;
}

/** A value's canvas CSS px on each axis, in the last drawing: one mapping for drawing, hover and picking. */
const pxX = (f: Frame, vx: number) => PAD.left + (vx - f.x0) * f.sx;
const pxY = (f: Frame, vy: number) => PAD.top + (f.y1 - vy) * f.sy;
const pxOf = (f: Frame, vx: number, vy: number): [number, number] => [pxX(f, vx), pxY(f, vy)];

/** Round tick values over [lo, hi]: steps of 1, 2 or 5 times a power of ten, about `n` of them. */
function ticks(lo: number, hi: number, n = 5): { values: number[]; step: number } {
  const raw = (hi - lo) / n;
  if (!(raw > 0) || !Number.isFinite(raw)) return { values: [lo], step: 1 };
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k++) out.push(k === 0 ? 0 : k * step);
  return { values: out, step };
}

/** [lo, hi] of the finite values, with zero in it and a margin either side. */
function extent(values: Float64Array): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const v of values) {
    if (v < lo) lo = v;
    else if (v > hi) hi = v;
  }
  const margin = (hi - lo) * 0.04 || 0.01;
  return [lo - margin, hi + margin];
}

export function Scatter(props: ScatterProps) {
  const wrapperRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const frameRef = useRef<Frame | null>(null);
  /** The points' layer and its pixels, kept between drawings. */
  const layerRef = useRef<{ canvas: HTMLCanvasElement; image: ImageData } | null>(null);
  const width = useElementWidth(wrapperRef);
  const theme = useTheme();
  const [hover, setHover] = useState<{ i: number; px: number; py: number } | null>(null);
  const { x, y, height, tickFormat, exact } = props;

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas || !x || !y || width <= 0) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const [x0, x1] = extent(x);
    const [y0, y1] = extent(y);
    const plotW = Math.max(1, width - PAD.left - PAD.right);
    const plotH = Math.max(1, height - PAD.top - PAD.bottom);
    const frame: Frame = { x0, sx: plotW / (x1 - x0), y1, sy: plotH / (y1 - y0) };
    const toPx = (vx: number, vy: number) => pxOf(frame, vx, vy);

    // Grid, zero lines, the diagonal and tick labels.
    const axis = cssVar('--chart-axis') || '#475569';
    const grid = cssVar('--chart-grid') || '#eef2f7';
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    ctx.fillStyle = axis;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const xTicks = ticks(x0, x1);
    for (const v of xTicks.values) {
      const [px] = toPx(v, 0);
      ctx.strokeStyle = v === 0 ? axis : grid;
      ctx.beginPath();
      ctx.moveTo(Math.round(px) + 0.5, PAD.top);
      ctx.lineTo(Math.round(px) + 0.5, PAD.top + plotH);
      ctx.stroke();
      ctx.fillText(tickFormat(v, xTicks.step), px, PAD.top + plotH + 4);
    }
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const yTicks = ticks(y0, y1);
    for (const v of yTicks.values) {
      const [, py] = toPx(0, v);
      ctx.strokeStyle = v === 0 ? axis : grid;
      ctx.beginPath();
      ctx.moveTo(PAD.left, Math.round(py) + 0.5);
      ctx.lineTo(PAD.left + plotW, Math.round(py) + 0.5);
      ctx.stroke();
      ctx.fillText(tickFormat(v, yTicks.step), PAD.left - 6, py);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText(props.xLabel, PAD.left + plotW / 2, height - 1);
    ctx.save();
    ctx.translate(12, PAD.top + plotH / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText(props.yLabel, 0, 0);
    ctx.restore();
    // y = x: a trade on it closed at its worst (MAE) or its best (MFE) excursion.
    const lo = Math.max(x0, y0);
    const hi = Math.min(x1, y1);
    if (hi > lo) {
      ctx.strokeStyle = axis;
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(...toPx(lo, lo));
      ctx.lineTo(...toPx(hi, hi));
      ctx.stroke();
      ctx.setLineDash([]);
    }

    // The points, over the grid and the diagonal: written as pixels (point-raster.ts) into a layer
    // the size of the plot in device pixels, drawn onto the canvas in one call.
    const layerW = Math.max(1, Math.round(plotW * dpr));
    const layerH = Math.max(1, Math.round(plotH * dpr));
    // The pixels are kept between drawings of the same size (a zoom's): a new 1 MB buffer per
    // drawing is garbage the next collection pays for.
    const kept = layerRef.current;
    const image = kept && kept.image.width === layerW && kept.image.height === layerH ? kept.image : ctx.createImageData(layerW, layerH);
    const rgb = (name: string, fallback: string) => parseRgb(cssVar(name)) ?? parseRgb(fallback)!;
    rasterizePoints(image.data, {
      width: layerW,
      height: layerH,
      count: x.length,
      px: (i) => (pxX(frame, x[i]!) - PAD.left) * dpr,
      py: (i) => (pxY(frame, y[i]!) - PAD.top) * dpr,
      layer: (i) => (y[i]! > 0 ? 1 : 0),
      colors: [rgb('--neg', '#dc2626'), rgb('--pos', '#15803d')],
      alpha: 0.55,
      size: Math.max(1, Math.round(POINT * dpr)),
    });
    const layer = kept?.canvas ?? document.createElement('canvas');
    layerRef.current = { canvas: layer, image };
    if (layer.width !== layerW || layer.height !== layerH) {
      layer.width = layerW;
      layer.height = layerH;
    }
    layer.getContext('2d')!.putImageData(image, 0, 0);
    ctx.drawImage(layer, PAD.left, PAD.top, plotW, plotH);
    // Where one point is drawn (a loser's if there is one, as the layers go), for scripts to click.
    let firstIndex = -1;
    for (const winners of [false, true]) {
      firstIndex = x.findIndex((vx, i) => Number.isFinite(vx) && Number.isFinite(y[i]!) && y[i]! > 0 === winners);
      if (firstIndex >= 0) break;
    }
    const first = firstIndex >= 0 ? toPx(x[firstIndex]!, y[firstIndex]!) : null;
    frameRef.current = frame;
    setHover(null);
    const wrapper = wrapperRef.current;
    if (wrapper) {
      wrapper.dataset.points = String(x.length);
      // Where one point is drawn (CSS px in the canvas), so a script can hover or click a point.
      wrapper.dataset.firstPoint = first ? `${Math.round(first[0])},${Math.round(first[1])}` : '';
      markDrawn(wrapper, exact);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps -- labels and formats go with the data
  }, [x, y, width, height, theme]);

  useEffect(() => {
    const wrapper = wrapperRef.current;
    if (wrapper && frameRef.current && wrapper.dataset.exact !== String(exact)) markDrawn(wrapper, exact);
  }, [exact]);

  /** The point nearest (px, py), within PICK_RADIUS; -1 when none. */
  const nearest = useCallback((px: number, py: number): number => {
    const frame = frameRef.current;
    if (!frame || !x || !y) return -1;
    let best = -1;
    let bestD = PICK_RADIUS * PICK_RADIUS;
    for (let i = 0; i < x.length; i++) {
      const dx = pxX(frame, x[i]!) - px;
      const dy = pxY(frame, y[i]!) - py;
      const d = dx * dx + dy * dy;
      // NaN (a trade without an excursion, never drawn) compares false.
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    return best;
  }, [x, y]);

  const at = (e: MouseEvent) => {
    const rect = canvasRef.current!.getBoundingClientRect();
    return nearest(e.clientX - rect.left, e.clientY - rect.top);
  };

  const hasData = !!x && !!y && x.length > 0;
  return (
    <div ref={wrapperRef} className={`scatter${exact ? '' : ' stale'}`} data-testid={props.testId} style={{ minHeight: height }}>
      <canvas
        ref={canvasRef}
        style={{ display: hasData ? 'block' : 'none', cursor: hover ? 'pointer' : 'crosshair' }}
        onMouseMove={(e) => {
          const i = at(e);
          if (i < 0) return setHover(null);
          const [px, py] = pxOf(frameRef.current!, x![i]!, y![i]!);
          setHover((h) => (h?.i === i ? h : { i, px, py }));
        }}
        onMouseLeave={() => setHover(null)}
        onClick={(e) => {
          const i = at(e);
          if (i >= 0) props.onPick(i);
        }}
      />
      {hover && hasData && (
        <>
          <div className="scatter-ring" style={{ left: hover.px, top: hover.py }} />
          <div className={`scatter-tip${hover.px > width / 2 ? ' left' : ''}`} style={{ left: hover.px, top: hover.py }} data-testid={`${props.testId}-tip`}>
            {props.describe(hover.i)}
          </div>
        </>
      )}
      {!hasData && <div className="chart-placeholder">{props.placeholder}</div>}
    </div>
  );
}
