// Time charts are drawn in trading time (shared/trading-time.ts): the market's closed hours take
// no room, as on a trading terminal. uPlot sees x in trading seconds; this module gives each
// dataset its one TradingTime and places and labels the axis ticks at calendar instants (a day's
// first bar, a week's, a month's, or round times of day), mapped into trading time.
import type uPlot from 'uplot';
import type { DatasetSchema } from '../../shared/messages.js';
import { TradingTime, type TradingCalendar } from '../../shared/trading-time.js';
import { MONTHS, twoDigits, wallClock, type WallClock } from './display-zone.js';

let made: { calendar: TradingCalendar; time: TradingTime } | null = null;

/**
 * The dataset's trading time: one object for as long as the calendar stays the same. (Every state
 * the worker publishes arrives as a new copy of the dataset; a chart re-creates its plot when its
 * time axis changes, so the identity matters.)
 */
export function tradingTimeOf(dataset: DatasetSchema): TradingTime {
  const calendar = dataset.calendar;
  if (made && sameCalendar(made.calendar, calendar)) return made.time;
  made = { calendar, time: new TradingTime(calendar) };
  return made.time;
}

function sameCalendar(a: TradingCalendar, b: TradingCalendar): boolean {
  if (a === b) return true;
  if (a.barMs !== b.barMs || a.days.length !== b.days.length) return false;
  for (let i = 0; i < a.days.length; i++) if (a.days[i] !== b.days[i]) return false;
  return true;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Round times of day a tick may fall on, finest first. */
const INTRADAY_STEPS = [5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR];
/** Least room for one tick label, CSS px. */
const TICK_SPACE = 90;

const monthDay = (d: WallClock) => `${d.month}/${d.day}`;

interface Tick {
  /** Calendar instant, epoch ms. */
  at: number;
  label: string;
}

type DayTick = { first: number; last: number };

/** Days since the epoch of a wall-clock date. */
const dayNumber = (d: WallClock) => Date.UTC(d.year, d.month - 1, d.day) / 86_400_000;

/** Day-level groupings, over wall-clock dates in the display zone: every day, the first day of each
 * week, month, quarter, year. */
const GROUPINGS: { key: (d: WallClock) => number; label: (d: WallClock, previous: WallClock | null) => string }[] = [
  { key: dayNumber, label: dayLabel },
  { key: (d) => Math.floor((dayNumber(d) + 3) / 7), label: dayLabel }, // weeks from Monday
  { key: (d) => d.year * 12 + d.month - 1, label: monthLabel },
  { key: (d) => d.year * 4 + Math.floor((d.month - 1) / 3), label: monthLabel },
  { key: (d) => d.year, label: (d) => String(d.year) },
];

function dayLabel(d: WallClock, previous: WallClock | null): string {
  return previous === null || previous.year !== d.year ? `${monthDay(d)}\n${d.year}` : monthDay(d);
}

function monthLabel(d: WallClock, previous: WallClock | null): string {
  const month = MONTHS[d.month - 1]!;
  return previous === null || previous.year !== d.year ? `${month}\n${d.year}` : month;
}

/** The first day of each group, thinned to at most `max` ticks by the finest grouping that fits. */
function dayTicks(days: DayTick[], max: number): Tick[] | null {
  const clocks = days.map((day) => wallClock(day.first));
  for (const grouping of GROUPINGS) {
    const firsts: number[] = [];
    let lastKey: number | null = null;
    clocks.forEach((clock, i) => {
      const key = grouping.key(clock);
      if (key !== lastKey) firsts.push(i);
      lastKey = key;
    });
    if (firsts.length <= max) {
      let previous: WallClock | null = null;
      return firsts.map((i) => {
        const d = clocks[i]!;
        const label = grouping.label(d, previous);
        previous = d;
        return { at: days[i]!.first, label };
      });
    }
  }
  return null;
}

/** Round times of day (of the display zone's wall clock) within each day's bars, by the finest step
 * that gives at most `max` ticks. */
function intradayTicks(days: DayTick[], from: number, to: number, max: number): Tick[] | null {
  for (const step of INTRADAY_STEPS) {
    const ticks: Tick[] = [];
    for (const day of days) {
      let first = true;
      // Round in wall-clock time: the day's offset from UTC, added before rounding, taken off after.
      const offset = wallClock(day.first).offsetMs;
      for (let at = Math.ceil((Math.max(day.first, from) + offset) / step) * step - offset; at <= Math.min(day.last, to); at += step) {
        const d = wallClock(at);
        const time = `${twoDigits(d.hour)}:${twoDigits(d.minute)}`;
        ticks.push({ at, label: first ? `${time}\n${monthDay(d)}` : time });
        first = false;
        if (ticks.length > max) break;
      }
      if (ticks.length > max) break;
    }
    if (ticks.length > 0 && ticks.length <= max) return ticks;
  }
  return null;
}

/**
 * uPlot axis `splits` and `values` for an x scale in trading seconds: ticks at calendar instants
 * (mapped into trading time), labelled in the display zone (display-zone.ts).
 */
export function tradingTimeAxis(time: TradingTime): Pick<uPlot.Axis, 'splits' | 'values'> {
  const labels = new Map<number, string>();
  return {
    splits: (u, _axis, min, max) => {
      labels.clear();
      const from = time.fromTrading(min * 1000);
      const to = time.fromTrading(max * 1000);
      const room = Math.max(2, Math.floor((u.bbox.width / (globalThis.devicePixelRatio || 1)) / TICK_SPACE));
      // Days whose bars reach into the range (the one the range starts in, too).
      const days = time.daysIn(from - 86_400_000, to).filter((d) => d.last >= from);
      // Times of day only for intraday bars, and only when a few days fill the chart.
      const intraday = days.length * 2 <= room && days.some((d) => d.last > d.first);
      const ticks = (intraday ? intradayTicks(days, from, to, room) : null) ?? dayTicks(days.filter((d) => d.first >= from), room) ?? [];
      return ticks.map((tick) => {
        const x = time.toTrading(tick.at) / 1000;
        labels.set(x, tick.label);
        return x;
      });
    },
    values: (_u, splits) => splits.map((x) => labels.get(x) ?? ''),
  };
}

/** The legend's time at the cursor, in the display zone: trading seconds -> "2024-01-03 09:35". */
export function cursorTime(time: TradingTime, x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const d = wallClock(Math.round(time.fromTrading(x * 1000)));
  return `${d.year}-${twoDigits(d.month)}-${twoDigits(d.day)} ${twoDigits(d.hour)}:${twoDigits(d.minute)}`;
}
