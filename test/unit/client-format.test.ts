// Times as the client writes them (client/src/format.ts): from the display zone's wall clock
// (display-zone.ts), which is worked out once per instant and zone, not by Intl.DateTimeFormat.
// The texts must be what Intl's en-GB formats wrote before, in any zone, across a DST change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setExchangeZone, wallClock, zoneLabel } from '../../client/src/display-zone.js';
import { dateText, dateTimeShort, dateTimeText, rangeText } from '../../client/src/format.js';

/** What Intl writes (en-GB, the formats the client used), with September as "Sep" either way. */
function intl(epochMs: number, zone: string, options: Intl.DateTimeFormatOptions): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, ...options }).format(epochMs).replace('Sept', 'Sep');
}
const time = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' } as const;

// Instants around New York's DST changes (10 Mar and 3 Nov 2024), a leap day, midnights, September.
const INSTANTS = [
  Date.UTC(2024, 2, 10, 6, 59), Date.UTC(2024, 2, 10, 7, 0), Date.UTC(2024, 2, 10, 7, 1),
  Date.UTC(2024, 10, 3, 5, 59), Date.UTC(2024, 10, 3, 6, 0), Date.UTC(2024, 10, 3, 6, 30),
  Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 0, 1), Date.UTC(2023, 8, 15, 14, 35), Date.UTC(1999, 11, 31, 23, 0),
];

test('dates and times read as Intl en-GB writes them, in UTC and in exchange zones', () => {
  for (const zone of ['UTC', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe']) {
    setExchangeZone(zone);
    for (const at of INSTANTS) {
      const what = `${zone} ${new Date(at).toISOString()}`;
      assert.equal(dateTimeText(at), `${intl(at, zone, { year: 'numeric', month: 'short', day: '2-digit', ...time })} ${zoneLabel(zone)}`, what);
      assert.equal(dateTimeShort(at), intl(at, zone, { year: '2-digit', month: 'short', day: '2-digit', ...time }), what);
      // Dates of the data are UTC dates whatever the display zone.
      assert.equal(dateText(at), intl(at, 'UTC', { year: 'numeric', month: 'short', day: '2-digit' }), what);
    }
  }
  setExchangeZone('America/New_York');
  assert.equal(rangeText(Date.UTC(2024, 2, 8, 14, 30), Date.UTC(2024, 2, 11, 20, 0)), '08 Mar 2024, 09:30 – 11 Mar 2024, 16:00 New York');
  assert.equal(dateText(null), '–');
  setExchangeZone('UTC');
});

test('a wall clock is worked out once per instant and zone, and is the same object after', () => {
  const at = Date.UTC(2024, 5, 3, 13, 30);
  const first = wallClock(at, 'Europe/London');
  assert.deepEqual(first, { year: 2024, month: 6, day: 3, hour: 14, minute: 30, offsetMs: 3_600_000 });
  assert.equal(wallClock(at, 'Europe/London'), first);
  assert.deepEqual(wallClock(at, 'Asia/Tokyo'), { year: 2024, month: 6, day: 3, hour: 22, minute: 30, offsetMs: 9 * 3_600_000 });
});
