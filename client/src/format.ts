// Number formatting for the charts and the status line.
const compactUsd = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  notation: 'compact',
  maximumSignificantDigits: 3,
});
const fullUsd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });
const smallUsd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 2 });
const integer = new Intl.NumberFormat('en-US');

/** Axis ticks: $1.25M, -$340K, $12. */
export function dollarsCompact(v: number): string {
  return compactUsd.format(v);
}

/** Legend values: $1,234,567 (cents only for small amounts). */
export function dollars(v: number): string {
  return Math.abs(v) < 100 ? smallUsd.format(v) : fullUsd.format(v);
}

export function count(n: number): string {
  return integer.format(n);
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function ms(n: number): string {
  return n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`;
}

const dateTime = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC',
  year: 'numeric',
  month: 'short',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
});

/** Epoch ms -> "03 Jan 2023, 14:35 UTC". */
export function utcDateTime(epochMs: number): string {
  return `${dateTime.format(epochMs)} UTC`;
}
