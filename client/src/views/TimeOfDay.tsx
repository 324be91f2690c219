// When the strategy makes its money: P&L and trade win rate by exchange hour, weekday and month
// (the `breakdown` query) as three small bar charts. A click on an hour or a weekday toggles the
// trade filter on trades closing then (every trade measure follows); a click on a month zooms
// every view to that month, as the monthly returns heatmap does.
import { memo, useMemo } from 'react';
import { Card } from '../components/Card.js';
import { CategoryBars, type CategoryBar } from '../components/CategoryBars.js';
import { hourSpan, toggled, weekdayNumber } from '../close-time.js';
import { count, dollarsCompact, percent, pnl } from '../format.js';
import { useQuery, type QueryState } from '../query.js';
import { useOnScreen } from '../use-on-screen.js';
import { navigate, type Route } from '../route.js';
import { timeBreakdownSpec } from '../specs.js';
import { num, str } from '../table.js';

type TimeDimension = 'hour' | 'weekday' | 'month';

/** The first and last second of a 'YYYY-MM' month, as the heatmap zooms to it. */
function monthRange(key: string): { from: number; to: number } | null {
  const m = /^(\d{4})-(\d{2})$/.exec(key);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  return { from: Date.UTC(year, month - 1, 1), to: Date.UTC(year, month, 1) - 1000 };
}

const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function label(by: TimeDimension, key: string): string {
  if (by === 'hour') return key;
  if (by === 'weekday') return key;
  const [year, month] = key.split('-');
  return month === '01' ? `${year}` : MONTH_NAMES[Number(month) - 1] ?? key;
}

function spanText(by: TimeDimension, key: string): string {
  if (by === 'hour') return `${hourSpan(Number(key))} exchange time`;
  if (by === 'weekday') return key;
  const [year, month] = key.split('-');
  return `${MONTH_NAMES[Number(month) - 1] ?? month} ${year}`;
}

function isSelected(by: TimeDimension, key: string, route: Route): boolean {
  if (by === 'hour') return route.filters.hours?.includes(Number(key)) ?? false;
  if (by === 'weekday') return route.filters.weekdays?.includes(weekdayNumber(key)) ?? false;
  const range = monthRange(key);
  return !!range && route.from === range.from && route.to === range.to;
}

function useBars(by: TimeDimension, state: QueryState<'breakdown'>, route: Route): CategoryBar[] | null {
  const t = state.answer?.data;
  return useMemo(() => {
    if (!t) return null;
    const bars: CategoryBar[] = [];
    for (let i = 0; i < t.length; i++) {
      const key = str(t, 'key', i);
      const value = num(t, 'pnl', i);
      const trades = num(t, 'trades', i);
      const winRate = num(t, 'win_rate', i);
      const tradeText = trades > 0 ? `${count(trades)} trades closed, ${percent(winRate, { digits: 1 })} won` : 'no trades closed';
      bars.push({
        key,
        label: label(by, key),
        value,
        fraction: winRate,
        title: `${spanText(by, key)}: P&L ${pnl(value)} · ${tradeText}`,
        selected: isSelected(by, key, route),
      });
    }
    return bars;
  }, [t, by, route]);
}

function pick(by: TimeDimension, bar: CategoryBar, route: Route): void {
  if (by === 'hour') {
    navigate({ ...route, filters: { ...route.filters, hours: toggled(route.filters.hours, Number(bar.key)) } });
  } else if (by === 'weekday') {
    navigate({ ...route, filters: { ...route.filters, weekdays: toggled(route.filters.weekdays, weekdayNumber(bar.key)) } });
  } else {
    const range = monthRange(bar.key);
    if (range) navigate({ ...route, ...range, trade: undefined });
  }
}

function TimeBars({ by, title, route, enabled, low }: { by: TimeDimension; title: string; route: Route; enabled: boolean; low: boolean }) {
  const state = useQuery(enabled ? timeBreakdownSpec(route, by) : null, { name: `overview.by-${by}`, low });
  const bars = useBars(by, state, route);
  const placeholder = state.error ? `Could not load: ${state.error}` : bars ? 'No bars in this range.' : 'Loading…';
  return (
    <div>
      <h3>{title}</h3>
      <CategoryBars
        testId={`by-${by}-chart`}
        bars={bars}
        exact={!state.stale}
        valueFormat={dollarsCompact}
        placeholder={placeholder}
        onPick={bars ? (i) => pick(by, bars[i]!, route) : undefined}
      />
    </div>
  );
}

/** The three charts in one card; `enabled` holds their queries back until the overview's first chart is in. */
export const TimeOfDay = memo(function TimeOfDay({ route, enabled }: { route: Route; enabled: boolean }) {
  // Out of sight (the overview's last cards), its answers wait for those of the views in sight.
  const [ref, onScreen] = useOnScreen<HTMLElement>();
  return (
    <Card
      ref={ref}
      title="When it made or lost money"
      aside={<span className="hint">bars: P&L in the bars of each hour, day, month · dots: win rate of trades closed then (0–100%) · click an hour or weekday to filter trades closing then, a month to zoom</span>}
      data-testid="time-of-day"
    >
      <div className="time-of-day">
        <TimeBars by="hour" low={!onScreen} title="By exchange hour" route={route} enabled={enabled} />
        <TimeBars by="weekday" low={!onScreen} title="By weekday" route={route} enabled={enabled} />
        <TimeBars by="month" low={!onScreen} title="By month" route={route} enabled={enabled} />
      </div>
    </Card>
  );
});
