// The time zone every time in the UI is shown in: the dataset's exchange zone (the hello's
// dataset.timezone) by default, or UTC by the header's toggle. The choice is remembered in
// localStorage. Formatting (format.ts) and the time axes (time-axis.ts) read the current zone;
// the App re-mounts the views when it changes, so every label is drawn again in the new zone.

export type ZoneMode = 'exchange' | 'utc';

const STORAGE_KEY = 'tickscope.timeZone';

let exchange = 'UTC';
let mode: ZoneMode = readMode();
const listeners = new Set<() => void>();

/** The page's localStorage; none in Node, where the unit tests import this module. */
function storage(): { getItem(key: string): string | null; setItem(key: string, value: string): void } | undefined {
  return (globalThis as { localStorage?: ReturnType<typeof storage> }).localStorage;
}

function readMode(): ZoneMode {
  try {
    return storage()?.getItem(STORAGE_KEY) === 'utc' ? 'utc' : 'exchange';
  } catch {
    // Storage refused (privacy settings): the default, not remembered.
    return 'exchange';
  }
}

function changed(): void {
  for (const listener of listeners) listener();
}

/** The zone times are shown in now (IANA name). */
export function displayZone(): string {
  return mode === 'utc' ? 'UTC' : exchange;
}

/** The dataset's exchange zone (IANA; 'UTC' when it has none). */
export function exchangeZone(): string {
  return exchange;
}

/**
 * Sets the dataset's exchange zone. Called by the App as it renders (idempotent, before any view
 * renders), so the first paint is already in the exchange zone; it notifies no one, since the App
 * keys the views by the zone it shows.
 */
export function setExchangeZone(zone: string): void {
  exchange = zone;
}

export function setZoneMode(next: ZoneMode): void {
  if (next === mode) return;
  mode = next;
  try {
    storage()?.setItem(STORAGE_KEY, next);
  } catch {
    // Storage refused: the choice holds for this page only.
  }
  changed();
}

/** The toggle's mode. */
export function zoneMode(): ZoneMode {
  return mode;
}

/**
 * Tells `listener` when the mode changes; returns the unsubscribe (React's useSyncExternalStore
 * takes the pair). No React here: the times' formatting (format.ts) is tested in Node.
 */
export function subscribeZoneMode(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** A zone as a short label: "UTC", "New York". */
export function zoneLabel(zone: string = displayZone()): string {
  return zone === 'UTC' ? 'UTC' : (zone.split('/').pop() ?? zone).replace(/_/g, ' ');
}

export interface WallClock {
  year: number;
  /** 1..12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  /** The instant's offset from UTC in the zone, ms (wall clock - UTC). */
  offsetMs: number;
}

export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** A wall-clock field in two digits: 03, 09. */
export const twoDigits = (n: number) => String(n).padStart(2, '0');

const partFormats = new Map<string, Intl.DateTimeFormat>();
/**
 * Wall-clock times already worked out, per zone. Every time chart labels its axis at the same
 * instants (each trading day's first bar), and Intl's formatToParts is the costly part: on a tab
 * opening on two years of days in New York, the charts' ticks asked it some 6,000 times (20-60 ms
 * of the main thread before the first chart).
 */
const known = new Map<string, Map<number, WallClock>>();
const KNOWN_PER_ZONE = 50_000;

/** The wall-clock time of an instant in `zone` (default: the display zone). Shared: not to be changed. */
export function wallClock(epochMs: number, zone: string = displayZone()): WallClock {
  if (zone === 'UTC') {
    const d = new Date(epochMs);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), offsetMs: 0 };
  }
  let cache = known.get(zone);
  if (!cache) known.set(zone, (cache = new Map()));
  const kept = cache.get(epochMs);
  if (kept) return kept;
  let f = partFormats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    partFormats.set(zone, f);
  }
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(epochMs)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(parts['year']!, parts['month']! - 1, parts['day']!, parts['hour']!, parts['minute']!, parts['second']!);
  const whole = Math.floor(epochMs / 1000) * 1000;
  const clock = { year: parts['year']!, month: parts['month']!, day: parts['day']!, hour: parts['hour']!, minute: parts['minute']!, offsetMs: asUtc - whole };
  if (cache.size >= KNOWN_PER_ZONE) cache.clear();
  cache.set(epochMs, clock);
  return clock;
}
