// A small bar chart over a few categories (hours, weekdays, months): one bar per category for a
// money value, above or below zero, and a second series of fractions (a win rate) as dots on its
// own 0-100% scale. Each bar is a button: a click, Enter or Space picks its category. SVG rather
// than uPlot: at most a few dozen bars, each wanting its own focus, tooltip and selected state,
// and uPlot has no second scale for the dots without a second axis and series setup per chart.
import { useLayoutEffect, useRef } from 'react';
import { markDrawn } from '../perf.js';
import { useElementWidth } from './Chart.js';
import './CategoryBars.css';

export interface CategoryBar {
  key: string;
  /** The label under the bar (every few bars when they are many). */
  label: string;
  value: number;
  /** 0..1, or NaN when there is none (no trades). */
  fraction: number;
  /** The tooltip: every number of the bar in words. */
  title: string;
  selected: boolean;
}

export interface CategoryBarsProps {
  testId: string;
  bars: CategoryBar[] | null;
  /** The answer on screen is exact (false: stale, a newer one is loading). */
  exact: boolean;
  height?: number;
  valueFormat: (v: number) => string;
  placeholder: string;
  onPick?: (index: number) => void;
}

/** Width drawn before the card's width is known. */
const FALLBACK_WIDTH = 320;
const PAD = { top: 8, right: 30, bottom: 18, left: 46 };
/** Widest bar (px): one month alone is a bar, not a wall. */
const MAX_BAR_WIDTH = 48;
/** Most labels under the bars; the others are left out (their tooltips still say them). */
const MAX_LABELS = 12;

export function CategoryBars({ testId, bars, exact, height = 150, valueFormat, placeholder, onPick }: CategoryBarsProps) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    if (bars) markDrawn(ref.current, exact);
  }, [bars, exact]);

  const width = useElementWidth(ref) || FALLBACK_WIDTH;
  const shown = bars && bars.length > 0 ? bars : null;
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  let body = null;
  if (shown) {
    const finite = shown.map((b) => (Number.isFinite(b.value) ? b.value : 0));
    const hi = Math.max(0, ...finite);
    const lo = Math.min(0, ...finite);
    const span = hi - lo || 1;
    const y = (v: number) => PAD.top + ((hi - v) / span) * plotH;
    const step = plotW / shown.length;
    const barW = Math.max(1, Math.min(MAX_BAR_WIDTH, step * 0.78));
    const labelEvery = Math.ceil(shown.length / MAX_LABELS);
    body = (
      <>
        <line className="cb-zero" x1={PAD.left} x2={PAD.left + plotW} y1={y(0)} y2={y(0)} />
        <text className="cb-axis" x={PAD.left - 4} y={y(hi) + 4} textAnchor="end">
          {valueFormat(hi)}
        </text>
        {lo < 0 && (
          <text className="cb-axis" x={PAD.left - 4} y={y(lo)} textAnchor="end">
            {valueFormat(lo)}
          </text>
        )}
        <line className="cb-half" x1={PAD.left} x2={PAD.left + plotW} y1={PAD.top + plotH / 2} y2={PAD.top + plotH / 2} />
        <text className="cb-axis cb-rate" x={PAD.left + plotW + 3} y={PAD.top + plotH / 2 + 4}>
          50%
        </text>
        {shown.map((bar, i) => {
          const v = finite[i]!;
          const x = PAD.left + i * step + (step - barW) / 2;
          const top = y(Math.max(v, 0));
          const h = Math.max(1, Math.abs(y(v) - y(0)));
          const pick = onPick ? () => onPick(i) : undefined;
          return (
            <g
              key={bar.key}
              className={`cb-bar${bar.selected ? ' selected' : ''}`}
              data-key={bar.key}
              role={pick ? 'button' : undefined}
              tabIndex={pick ? 0 : undefined}
              aria-pressed={pick ? bar.selected : undefined}
              aria-label={bar.title}
              onClick={pick}
              onKeyDown={
                pick
                  ? (e) => {
                      if (e.key === 'Enter' || e.key === ' ') {
                        e.preventDefault();
                        pick();
                      }
                    }
                  : undefined
              }
            >
              <title>{bar.title}</title>
              {/* The whole column is the target, not only the (maybe tiny) bar. */}
              <rect className="cb-hit" x={PAD.left + i * step} y={PAD.top} width={step} height={plotH} />
              <rect className={v >= 0 ? 'cb-pos' : 'cb-neg'} x={x} y={top} width={barW} height={h} />
              {Number.isFinite(bar.fraction) && <circle className="cb-dot" cx={x + barW / 2} cy={PAD.top + (1 - bar.fraction) * plotH} r={2.6} />}
              {i % labelEvery === 0 && (
                <text className="cb-axis" x={x + barW / 2} y={height - 4} textAnchor="middle">
                  {bar.label}
                </text>
              )}
            </g>
          );
        })}
      </>
    );
  }
  return (
    <div ref={ref} className={`category-bars${exact ? '' : ' stale'}`} data-testid={testId} data-bars={shown?.length ?? 0}>
      {shown ? (
        <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height}>
          {body}
        </svg>
      ) : (
        <div className="chart-placeholder static" style={{ minHeight: height }}>
          {placeholder}
        </div>
      )}
    </div>
  );
}
