// Memory sizes as DuckDB reads them (server/os/memory.ts): every memory option goes through them.
import assert from 'node:assert/strict';
import test from 'node:test';
import { formatSize, parseSize } from '../../server/os/memory.js';

test('sizes mean what they mean to DuckDB: KB, MB, GB in thousands, KiB, MiB, GiB in 1024s', () => {
  assert.equal(parseSize('256MB'), 256e6);
  assert.equal(parseSize('512 mb'), 512e6);
  assert.equal(parseSize('1.5GiB'), 1.5 * 2 ** 30);
  assert.equal(parseSize('663MiB'), 663 * 2 ** 20);
  assert.equal(parseSize('4KiB'), 4096);
  assert.equal(parseSize('2TB'), 2e12);
  assert.equal(parseSize('2048'), 2048, 'no unit: bytes');
  assert.equal(parseSize('10B'), 10);
});

test('a size that is not one says which option it came from and what it was', () => {
  assert.throws(() => parseSize('lots', '--memory-budget'), /^Error: --memory-budget: "lots" is not a size such as 256MB or 2GiB$/);
  for (const text of ['', '-1GB', '1 2GB', '1PB', '1GBs', 'GB', '1e9']) {
    assert.throws(() => parseSize(text, 'TICKSCOPE_PREPARE_MEMORY'), /TICKSCOPE_PREPARE_MEMORY: ".*" is not a size/, text);
  }
});

test('formatted sizes read back as DuckDB sizes', () => {
  assert.equal(formatSize(663 * 2 ** 20), '663MiB');
  assert.equal(formatSize(3 * 2 ** 30), '3.0GiB');
  assert.equal(parseSize(formatSize(3 * 2 ** 30)), 3 * 2 ** 30);
  assert.equal(parseSize(formatSize(663 * 2 ** 20)), 663 * 2 ** 20);
});
