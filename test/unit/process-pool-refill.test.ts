// The warm pool's replacement for a taken process starts `refillDelayMs` later while another stays
// warm (the local runtime's LOCAL_REFILL_DELAY_MS: its start would otherwise share the cores with
// the tab's own), and at once when none does; the session manager's new warm limit, set right after
// a take, does not start it early.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessPool, type PooledProcess } from '../../server/control/runtime/process-pool.js';
import type { ProcessExit } from '../../server/control/runtime/types.js';

/** A process that is warm at once and exits when terminated. */
function fakeProcess(pid: number): PooledProcess {
  let exit!: (value: ProcessExit) => void;
  const exited = new Promise<ProcessExit>((resolve) => (exit = resolve));
  return {
    pid,
    lastHeardAt: Date.now(),
    exited,
    warm: Promise.resolve(),
    preopen: () => undefined,
    assign: () => Promise.resolve({ storePreopened: false }),
    handOff: () => undefined,
    terminate: () => exit({ code: 0, signal: null }),
    rssBytes: () => null,
    on: () => undefined,
  };
}

/** Runs `body` on a pool of two whose starts are counted, once it has filled; closes it after. */
async function withPoolOfTwo(refillDelayMs: number, body: (pool: ProcessPool, starts: () => number) => Promise<void>): Promise<void> {
  let started = 0;
  const pool = new ProcessPool({ poolSize: 2, warmTimeoutMs: 5000, refillDelayMs }, () => fakeProcess(++started));
  try {
    await settle();
    assert.equal(pool.warmCount, 2, 'the pool fills at once when it starts');
    await body(pool, () => started);
  } finally {
    await pool.close();
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

test('a take with another process still warm starts its replacement after the delay, not at once', () =>
  withPoolOfTwo(150, async (pool, starts) => {
    await pool.acquire();
    // What the session manager does right after a take: it must not start the replacement early.
    pool.setWarmLimit(2);
    await settle();
    assert.equal(starts(), 2, 'no replacement started within the delay');
    assert.equal(pool.warmCount, 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(starts(), 3, 'one replacement after the delay');
    assert.equal(pool.warmCount, 2);
  }));

test('two takes within the delay: the second, which empties the pool, refills it at once', () =>
  withPoolOfTwo(10_000, async (pool, starts) => {
    await pool.acquire();
    await settle();
    assert.equal(starts(), 2);
    await pool.acquire();
    await settle();
    assert.equal(starts(), 4, 'both replacements started without waiting for the delay');
    assert.equal(pool.warmCount, 2);
  }));

test('a delay of 0 refills at once, as the pool did before', () =>
  withPoolOfTwo(0, async (pool, starts) => {
    await pool.acquire();
    await settle();
    assert.equal(starts(), 3);
  }));
