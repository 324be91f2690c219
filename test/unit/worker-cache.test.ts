// The worker's answer cache in Node: a byte budget, least recently used out first, and the
// family index that previews are cut from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnswerCache, familyKey, type Entry } from '../../client/src/worker/cache.js';
import { specKey } from '../../client/src/spec-key.js';
import type { Spec } from '../../client/src/worker/types.js';

function entry(spec: Spec, bytes: number, range: { from: number; to: number } = { from: 0, to: 1 }): Entry {
  return {
    key: specKey(spec),
    family: familyKey(spec),
    spec,
    data: { length: 0, columns: {} },
    meta: { approximate: false, total: null, notes: [], rows: 0, bytes: 0, timings: null, source: 'test' },
    bytes,
    ...range,
  };
}

const summary = (from: number): Spec => ({ query: 'summary', params: { from } });
const equity = (from: number, to: number): Spec => ({ query: 'equity', params: { width: 100, from, to } });

test('the cache keeps to its byte budget, evicting the least recently used first', () => {
  const cache = new AnswerCache(1000);
  for (const from of [1, 2, 3, 4, 5]) cache.set(entry(summary(from), 200));
  assert.equal(cache.bytes, 1000);
  assert.equal(cache.size, 5);
  assert.ok(cache.get(specKey(summary(1))), 'a read makes 1 the most recently used');
  cache.set(entry(summary(6), 200));
  assert.equal(cache.bytes, 1000);
  assert.equal(cache.has(specKey(summary(2))), false, '2 was the least recently used');
  assert.equal(cache.has(specKey(summary(1))), true);
  cache.set(entry(summary(7), 250));
  assert.equal(cache.has(specKey(summary(3))), false);
  assert.equal(cache.has(specKey(summary(4))), false, 'as many go as the budget needs');
  assert.ok(cache.bytes <= 1000, `${cache.bytes} bytes`);
});

test('one answer larger than a quarter of the budget is not cached (it would flush the rest)', () => {
  const cache = new AnswerCache(1000);
  cache.set(entry(summary(1), 100));
  cache.set(entry(summary(2), 251));
  assert.equal(cache.has(specKey(summary(2))), false);
  assert.equal(cache.bytes, 100);
});

test('replacing an entry counts its bytes once', () => {
  const cache = new AnswerCache(1000);
  cache.set(entry(summary(1), 100));
  cache.set(entry(summary(1), 150));
  assert.equal(cache.size, 1);
  assert.equal(cache.bytes, 150);
});

test('a family lists the cached ranges covering a zoom, the narrowest first, and forgets evicted ones', () => {
  const cache = new AnswerCache(1000);
  cache.set(entry(equity(0, 100), 200, { from: 0, to: 100 }));
  cache.set(entry(equity(10, 50), 200, { from: 10, to: 50 }));
  cache.set(entry(equity(60, 90), 200, { from: 60, to: 90 }));
  const family = familyKey(equity(20, 30))!;
  assert.deepEqual(
    cache.covering(family, 20, 30).map((e) => [e.from, e.to]),
    [
      [10, 50],
      [0, 100],
    ],
  );
  for (const from of [1, 2, 3, 4]) cache.set(entry(summary(from), 200)); // evicts the two oldest
  assert.deepEqual(
    cache.covering(family, 20, 30).map((e) => [e.from, e.to]),
    [],
  );
  assert.deepEqual(
    cache.covering(family, 70, 80).map((e) => [e.from, e.to]),
    [[60, 90]],
  );
  cache.clear();
  assert.deepEqual([cache.size, cache.bytes, cache.covering(family, 70, 80).length], [0, 0, 0]);
});

test('spec keys ignore the order of params and undefined values', () => {
  const a: Spec = { query: 'trades', params: { offset: 0, limit: 10, filters: { sides: ['long'], tags: ['a'] } } };
  const b: Spec = { query: 'trades', params: { filters: { tags: ['a'], sides: ['long'] }, limit: 10, offset: 0, from: undefined } };
  assert.equal(specKey(a), specKey(b));
  assert.notEqual(specKey(a), specKey({ ...a, params: { ...a.params, offset: 10 } } as Spec));
  assert.equal(specKey(null), '');
  assert.equal(familyKey(equity(0, 10)), familyKey({ query: 'equity', params: { width: 800 } }), 'range and width aside');
  assert.equal(familyKey(summary(1)), null, 'only time series have families');
});
