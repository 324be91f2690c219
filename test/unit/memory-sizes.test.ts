// Memory sizes as DuckDB reads them (server/os/memory.ts): every memory option goes through them.
import assert from 'node:assert/strict';
import test from 'node:test';
import { SESSION_BASE_BYTES, checkMemoryBudget, defaultMaxSessions, defaultSessionMemory } from '../../server/control/memory-budget.js';
import { cgroupMemoryLimit, formatSize, parseSize } from '../../server/os/memory.js';

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

test('the memory limit of a cgroup v2 or v1 path is the lowest on the way to the root', () => {
  const files = (entries: Record<string, string>) => (file: string) => entries[file] ?? null;
  // v2: a slice with a limit above a service without one.
  const v2 = files({
    '/sys/fs/cgroup/memory.max': 'max\n',
    '/sys/fs/cgroup/research.slice/memory.max': '4294967296\n',
    '/sys/fs/cgroup/research.slice/tickscope.service/memory.max': 'max\n',
  });
  assert.equal(cgroupMemoryLimit('0::/research.slice/tickscope.service\n', v2), 4 * 2 ** 30);
  // v1: the job's own limit is lower than its parent's; "no limit" is the largest 63-bit page multiple.
  const v1 = files({
    '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712\n',
    '/sys/fs/cgroup/memory/slurm/memory.limit_in_bytes': '8589934592\n',
    '/sys/fs/cgroup/memory/slurm/job_7/memory.limit_in_bytes': '1073741824\n',
  });
  assert.equal(cgroupMemoryLimit('12:pids:/slurm/job_7\n4:memory:/slurm/job_7\n1:name=systemd:/\n', v1), 2 ** 30);
  // A container's cgroup namespace: the path is "/", its root is the container's own cgroup.
  assert.equal(cgroupMemoryLimit('0::/\n', files({ '/sys/fs/cgroup/memory.max': '2147483648' })), 2 * 2 ** 30);
  assert.equal(cgroupMemoryLimit('0::/\n', files({ '/sys/fs/cgroup/memory.max': 'max' })), null, 'no limit');
  assert.equal(cgroupMemoryLimit('4:memory:/gone\n', files({})), null, 'nothing readable');
  assert.equal(cgroupMemoryLimit('', files({})), null, 'not Linux');
});

test('the default session count is what the budget holds at the least memory each, up to 20', () => {
  const least = SESSION_BASE_BYTES + 64 * 2 ** 20;
  assert.equal(defaultMaxSessions(18 * 2 ** 30), 20);
  assert.equal(defaultMaxSessions(3 * 2 ** 30), Math.floor((3 * 2 ** 30) / least));
  assert.equal(defaultMaxSessions(2 ** 20), 1, 'at least one; the budget check then says why it does not fit');
  for (const budget of [1.5 * 2 ** 30, 3 * 2 ** 30, 6 * 2 ** 30, 24 * 2 ** 30]) {
    const sessions = defaultMaxSessions(budget);
    assert.doesNotThrow(() => checkMemoryBudget(sessions, defaultSessionMemory(sessions, budget), budget), `${budget} bytes: ${sessions} sessions fit`);
  }
  assert.throws(() => checkMemoryBudget(1, defaultSessionMemory(1, 2 ** 20), 2 ** 20), /more than the memory budget/);
});
