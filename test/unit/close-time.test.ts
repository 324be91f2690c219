// The close hour and weekday filters' toggles and names (client/src/close-time.ts), as the time
// charts and the filter chip use them. (The URL parameters, route.ts, need the DOM: the browser
// test test/e2e/time-of-day.test.ts walks them.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hourSpan, toggled, weekdayName, weekdayNumber } from '../../client/src/close-time.js';

test('a bar click toggles its hour or weekday; names say what the filter means', () => {
  assert.deepEqual(toggled(undefined, 14), [14]);
  assert.deepEqual(toggled([14], 9), [9, 14]);
  assert.deepEqual(toggled([9, 14], 14), [9]);
  assert.equal(toggled([14], 14), undefined);
  assert.equal(hourSpan(9), '09:00–09:59');
  assert.equal(weekdayName(1), 'Mon');
  assert.equal(weekdayName(7), 'Sun');
  assert.equal(weekdayNumber('Fri'), 5);
  assert.equal(weekdayNumber('Someday'), 0);
});
