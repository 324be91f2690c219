// The close hour and weekday trade filters in words and as toggles: an hour is of the exchange
// time zone, a weekday of the close's UTC date (ISO: 1 = Monday), as the hour and weekday
// breakdowns group them (docs/metrics.md).

/** Weekday names by ISO number - 1, as the weekday breakdown's keys. */
export const WEEKDAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

export function weekdayName(isoDay: number): string {
  return WEEKDAY_NAMES[isoDay - 1] ?? `day ${isoDay}`;
}

/** The ISO weekday of a weekday breakdown key ('Mon' -> 1); 0 when it is none. */
export function weekdayNumber(name: string): number {
  return WEEKDAY_NAMES.indexOf(name as (typeof WEEKDAY_NAMES)[number]) + 1;
}

/** The clock span of an exchange hour: 14 -> "14:00–14:59". */
export function hourSpan(hour: number): string {
  const h = String(hour).padStart(2, '0');
  return `${h}:00–${h}:59`;
}

/** `values` with `value` added, or removed when present; undefined when nothing is left. */
export function toggled(values: readonly number[] | undefined, value: number): number[] | undefined {
  const next = values?.includes(value) ? values.filter((v) => v !== value) : [...(values ?? []), value];
  return next.length ? next.sort((a, b) => a - b) : undefined;
}
