// A waterfall of contributions to a total: one row per part, its bar spanning the running sum
// before and after it on a shared scale, then the total from zero. Rows are DOM, not a uPlot
// chart: the parts are categories with floating bases, each a button the analyst clicks, and a
// few dozen of them at most (the smallest parts are gathered into one row so the bars still sum
// to the total).
import './waterfall.css';

export interface WaterfallPart {
  key: string;
  label: string;
  value: number;
  /** Shown under the bar's value, e.g. the held / traded split. */
  detail?: string;
  /** Clickable parts open something (a sector's symbols, a symbol's trades). */
  clickable?: boolean;
}

export interface WaterfallProps {
  parts: WaterfallPart[];
  totalLabel: string;
  format: (v: number) => string;
  onSelect?: (key: string) => void;
  /** Most rows drawn; the smallest parts beyond it are one "others" row. */
  maxRows?: number;
  testId?: string;
}

/** The parts to draw: the largest by size, then the rest summed into one row. */
export function keepLargest(parts: WaterfallPart[], maxRows: number): WaterfallPart[] {
  if (parts.length <= maxRows) return parts;
  const bySize = [...parts].sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
  const kept = new Set(bySize.slice(0, maxRows - 1).map((p) => p.key));
  const rest = parts.filter((p) => !kept.has(p.key));
  return [
    ...parts.filter((p) => kept.has(p.key)),
    { key: '', label: `${rest.length} others`, value: rest.reduce((a, p) => a + p.value, 0) },
  ];
}

export function Waterfall({ parts, totalLabel, format, onSelect, maxRows = 25, testId }: WaterfallProps) {
  const rows = keepLargest(parts, maxRows);
  const total = parts.reduce((a, p) => a + p.value, 0);
  let lo = 0;
  let hi = 0;
  let running = 0;
  const spans = rows.map((p) => {
    const start = running;
    running += p.value;
    lo = Math.min(lo, running);
    hi = Math.max(hi, running);
    return { part: p, start, end: running };
  });
  const width = hi - lo || 1;
  const position = (a: number, b: number) => ({
    left: `${((Math.min(a, b) - lo) / width) * 100}%`,
    width: `${Math.max((Math.abs(b - a) / width) * 100, 0.3)}%`,
  });
  return (
    <div className="waterfall" data-testid={testId} data-total={total}>
      {spans.map(({ part, start, end }) => {
        const clickable = Boolean(onSelect && part.clickable);
        return (
          <button
            type="button"
            key={part.key || '(others)'}
            className={`wf-row${clickable ? ' wf-clickable' : ''}`}
            data-key={part.key}
            data-value={part.value}
            disabled={!clickable}
            onClick={clickable ? () => onSelect!(part.key) : undefined}
            title={`${part.label}: ${format(part.value)}${part.detail ? ` (${part.detail})` : ''}`}
          >
            <span className="wf-label">{part.label}</span>
            <span className="wf-track">
              <span className={`wf-bar ${part.value >= 0 ? 'wf-pos' : 'wf-neg'}`} style={position(start, end)} />
            </span>
            <span className={`wf-value ${part.value >= 0 ? 'pos' : 'neg'}`}>
              {format(part.value)}
              {part.detail && <small>{part.detail}</small>}
            </span>
          </button>
        );
      })}
      <div className="wf-row wf-total" data-key="(total)" data-value={total}>
        <span className="wf-label">{totalLabel}</span>
        <span className="wf-track">
          <span className={`wf-bar ${total >= 0 ? 'wf-pos' : 'wf-neg'} wf-total-bar`} style={position(0, total)} />
        </span>
        <span className={`wf-value ${total >= 0 ? 'pos' : 'neg'}`}>{format(total)}</span>
      </div>
    </div>
  );
}
