// Numbers as finance people read them: thousands separators, explicit signs on P&L and
// returns, a real minus sign, percentages, compact axes; and the times of the data, in the
// display zone (the exchange's by default).
import { MONTHS, twoDigits, wallClock, zoneLabel, type WallClock } from './display-zone.js';

const MINUS = '\u2212';

/**
 * A formatter made on its first use, then kept: an Intl format costs a millisecond or more to make,
 * and made at import they all delayed the tab's first chart, which shows none of them.
 */
function made<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

const compactUsd = made(() => new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  notation: 'compact',
  maximumSignificantDigits: 3,
}));
const fullUsd = made(() => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 }));
const smallUsd = made(() => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 }));
const integer = made(() => new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }));
const decimal2 = made(() => new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
const price4 = made(() => new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 4 }));

const DASH = '–';

function finite(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function withMinus(s: string): string {
  return s.replace('-', MINUS);
}

/** Axis ticks: $1.25M, −$340K, $12. */
export function dollarsCompact(v: number): string {
  return withMinus(compactUsd().format(v));
}

/** $1,234,567 (cents only for small amounts); −$1,234. */
export function dollars(v: number | null | undefined): string {
  if (!finite(v)) return DASH;
  return withMinus(Math.abs(v) < 100 ? smallUsd().format(v) : fullUsd().format(v));
}

/** P&L: always signed, +$1,234 / −$1,234 / $0. */
export function pnl(v: number | null | undefined): string {
  if (!finite(v)) return DASH;
  const s = Math.abs(v) < 100 ? smallUsd().format(Math.abs(v)) : fullUsd().format(Math.abs(v));
  if (v > 0 && s !== '$0' && s !== '$0.00') return `+${s}`;
  if (v < 0 && s !== '$0' && s !== '$0.00') return `${MINUS}${s}`;
  return s;
}

/** Compact signed P&L for tight cells: +$1.2M. */
export function pnlCompact(v: number | null | undefined): string {
  if (!finite(v)) return DASH;
  const s = compactUsd().format(Math.abs(v));
  return v > 0 ? `+${s}` : v < 0 ? `${MINUS}${s}` : s;
}

const fixed = new Map<number, Intl.NumberFormat>();
function fixedFormat(digits: number): Intl.NumberFormat {
  let f = fixed.get(digits);
  if (!f) fixed.set(digits, (f = new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })));
  return f;
}

/** A fraction as a percentage: 0.1234 -> 12.34%; signed when asked (returns). */
export function percent(v: number | null | undefined, { signed = false, digits = 2 } = {}): string {
  if (!finite(v)) return DASH;
  const p = v * 100;
  const s = fixedFormat(digits).format(Math.abs(p));
  const zero = Math.abs(p) < 0.5 * 10 ** -digits;
  const sign = p < 0 && !zero ? MINUS : signed && p > 0 && !zero ? '+' : '';
  return `${sign}${s}%`;
}

/** Ratios (Sharpe, profit factor): 1.23, −0.45. */
export function ratio(v: number | null | undefined): string {
  if (!finite(v)) return DASH;
  return withMinus(decimal2().format(v));
}

const compactInt = made(() => new Intl.NumberFormat('en-US', { notation: 'compact', maximumSignificantDigits: 3 }));

/** Axis ticks of counts: 12K, −3.4M. */
export function compactCount(n: number): string {
  return withMinus(compactInt().format(n));
}

export function count(n: number | null | undefined): string {
  if (!finite(n)) return DASH;
  return withMinus(integer().format(n));
}

export function price(v: number | null | undefined): string {
  if (!finite(v)) return DASH;
  return withMinus(price4().format(v));
}

/** Quantity with sign: +1,200 / −300. */
export function signedCount(v: number | null | undefined): string {
  if (!finite(v)) return DASH;
  const s = integer().format(Math.abs(v));
  return v > 0 ? `+${s}` : v < 0 ? `${MINUS}${s}` : s;
}

/** CSS class for a signed value: pos / neg / flat. */
export function tone(v: number | null | undefined): 'pos' | 'neg' | 'flat' {
  if (!finite(v) || v === 0) return 'flat';
  return v > 0 ? 'pos' : 'neg';
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function ms(n: number): string {
  return n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`;
}

/** A holding time: 45m, 3h 20m, 2d 4h. */
export function duration(msValue: number | null | undefined): string {
  if (!finite(msValue)) return DASH;
  const minutes = Math.round(msValue / 60_000);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours}h ${minutes % 60}m` : `${hours}h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days}d ${hours % 24}h` : `${days}d`;
}

// Times in the display zone (display-zone.ts: the exchange's, or UTC by the header's toggle),
// written from the zone's wall clock rather than by Intl.DateTimeFormat: making one of those cost
// 5-7 ms on the tab's first render, and the wall clock of each instant is kept anyway.
/** "03 Jan 2023" (or "03 Jan 23"), with ", 09:35" when `withTime`. */
function clockText(d: WallClock, { shortYear = false, withTime = true } = {}): string {
  const date = `${twoDigits(d.day)} ${MONTHS[d.month - 1]} ${shortYear ? twoDigits(d.year % 100) : d.year}`;
  return withTime ? `${date}, ${twoDigits(d.hour)}:${twoDigits(d.minute)}` : date;
}

/** Epoch ms -> "03 Jan 2023, 09:35 New York" (the display zone named). */
export function dateTimeText(epochMs: number): string {
  return `${clockText(wallClock(epochMs))} ${zoneLabel()}`;
}

/** Epoch ms -> "03 Jan 2023". Dates are the UTC dates of the data (docs/metrics.md): a day is one. */
export function dateText(epochMs: number | null | undefined): string {
  if (!finite(epochMs)) return DASH;
  return clockText(wallClock(epochMs, 'UTC'), { withTime: false });
}

/** Epoch ms -> "03 Jan 24, 09:35" in the display zone (table cells; the header names the zone). */
export function dateTimeShort(epochMs: number | null | undefined): string {
  if (!finite(epochMs)) return DASH;
  return clockText(wallClock(epochMs), { shortYear: true });
}

/** A range for humans: "03 Jan 2023, 09:35 – 10 Jan 2023, 16:00 New York". */
export function rangeText(from: number, to: number): string {
  return `${clockText(wallClock(from))} – ${clockText(wallClock(to))} ${zoneLabel()}`;
}
