// A request that runs out of DuckDB's memory beside the tab's other requests runs once more alone
// (query-runner.ts, compute/alone): after the others end, before any newer one starts. Not again
// when it was alone, when it already sent a batch, or for any other error; and a request out of
// memory alone too says what to change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { QueryRunner, isOutOfMemory, type RunQueryOptions } from '../../server/session/query-runner.js';
import type { Planner } from '../../server/session/queries/plan.js';

const OOM = 'Out of Memory Error: failed to pin block of size 256.0 KiB (67.3 MiB/67.0 MiB used)';
const answer = { statements: [{ sql: 'SELECT 42 AS answer', params: {} }], source: 'test', notes: [] };

function request(planner: Planner, onBatch: RunQueryOptions['onBatch'] = async () => undefined): RunQueryOptions {
  return { planner, signal: new AbortController().signal, onBatch };
}

/** A promise and its resolve, for holding a request where the test wants it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * A request on a connection of `runner`, held there (its batch not taken) until `release()`;
 * resolves once it holds it. `done` settles when it has ended; `onEnd` runs as it ends.
 */
async function holdConnection(runner: QueryRunner, onEnd?: () => void): Promise<{ release: () => void; done: Promise<unknown> }> {
  const hold = gate();
  const streaming = gate();
  const done = runner.run(
    request(
      async () => answer,
      async () => {
        streaming.open();
        await hold.opened;
        onEnd?.();
      },
    ),
  );
  await streaming.opened;
  return { release: hold.open, done };
}

async function withRunner(fn: (runner: QueryRunner) => Promise<void>): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const runner = new QueryRunner(instance, 4);
  try {
    await fn(runner);
  } finally {
    runner.close();
    instance.closeSync();
  }
}

test('isOutOfMemory: DuckDB out of its memory_limit, nothing else', () => {
  assert.equal(isOutOfMemory(new Error(OOM)), true);
  assert.equal(isOutOfMemory(new Error('Invalid Input Error: Out of Memory Error')), false);
  assert.equal(isOutOfMemory(OOM), false);
});

test('out of memory beside another request: run again alone, after it, and before a newer one', async () => {
  await withRunner(async (runner) => {
    const events: string[] = [];
    const a = await holdConnection(runner, () => events.push('A done'));
    // B: out of memory on its first try, with A on a connection.
    let tries = 0;
    const bFailed = gate();
    const b = runner.run(
      request(async () => {
        tries++;
        if (tries === 1) {
          bFailed.open();
          throw new Error(OOM);
        }
        events.push(`B runs again with ${runner.stats.open - runner.stats.idle} connection(s) in use`);
        return answer;
      }),
    );
    await bFailed.opened;
    await new Promise((resolve) => setTimeout(resolve, 20));
    // C comes while B waits to run alone: it waits for B.
    const c = runner.run(
      request(async () => {
        events.push('C runs');
        return answer;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(events, [], 'B waits for A, C for B');
    a.release();
    const [, bOutcome] = await Promise.all([a.done, b, c]);
    assert.equal(tries, 2);
    assert.equal(bOutcome.rows, 1);
    assert.equal(runner.stats.outOfMemoryRetries, 1, 'the session counts the retry');
    assert.deepEqual(events, ['A done', 'B runs again with 1 connection(s) in use', 'C runs']);
  });
});

test('not run again: alone the first time, a batch already sent, or another error', async () => {
  await withRunner(async (runner) => {
    let tries = 0;
    await assert.rejects(
      runner.run(
        request(async () => {
          tries++;
          throw new Error(OOM);
        }),
      ),
      (error: Error) => error.message === OOM,
    );
    assert.equal(tries, 1, 'alone: the same error, once');

    // Beside a held request: a batch went out, so the answer cannot start over.
    const held = await holdConnection(runner);
    tries = 0;
    await assert.rejects(
      runner.run(
        request(
          async () => {
            tries++;
            return {
              statements: [
                ...answer.statements,
                {
                  sql: 'SELECT 1 AS one',
                  params: {},
                  compute: () => {
                    throw new Error(OOM);
                  },
                },
              ],
              source: 'test',
              notes: [],
            } as never;
          },
        ),
      ),
      (error: Error) => error.message === OOM,
    );
    assert.equal(tries, 1, 'a batch sent: the same error, once');
    tries = 0;
    await assert.rejects(
      runner.run(
        request(async () => {
          tries++;
          throw new Error('Binder Error: no such column');
        }),
      ),
      /Binder Error/,
    );
    assert.equal(tries, 1, 'another error: once');
    assert.equal(runner.stats.outOfMemoryRetries, 0, 'none of these was run again');
    held.release();
    await held.done;
  });
});

test('out of memory again alone: the error says the answer needs a larger --session-memory', async () => {
  const instance = await DuckDBInstance.create(':memory:', { memory_limit: '32MB', threads: '1' });
  const runner = new QueryRunner(instance, 2);
  try {
    const held = await holdConnection(runner);
    // A list aggregate cannot spill: this needs more than 32 MB however it runs.
    const huge = { statements: [{ sql: "SELECT sum(len(l)) AS n FROM (SELECT list(i::VARCHAR || 'xxxxxxxxxxxxxxxxxxxx') AS l FROM range(5000000) t(i) GROUP BY i % 3)", params: {} }], source: 'test', notes: [] };
    const failing = runner.run(request(async () => huge));
    setTimeout(held.release, 50);
    await assert.rejects(failing, /^Error: Out of Memory Error: failed to allocate .* \(the request ran out of the session's DuckDB memory_limit beside the tab's other requests, and again alone: its answer needs a larger --session-memory\)$/);
    await held.done;
  } finally {
    runner.close();
    instance.closeSync();
  }
});

test('a request cancelled while it waits to run alone ends at once, and those queued behind it run beside the others', async () => {
  await withRunner(async (runner) => {
    const held = await holdConnection(runner);
    const controller = new AbortController();
    const failed = gate();
    const b = runner.run({
      planner: async () => {
        failed.open();
        throw new Error(OOM);
      },
      signal: controller.signal,
      onBatch: async () => undefined,
    });
    await failed.opened;
    await new Promise((resolve) => setTimeout(resolve, 20));
    let cRan = false;
    const c = runner.run(
      request(async () => {
        cRan = true;
        return answer;
      }),
    );
    controller.abort('superseded by a newer equity request');
    await assert.rejects(b, { name: 'CancelledError', message: 'superseded by a newer equity request' });
    // Nobody runs alone any more: C runs beside the held request, as before B's failure.
    assert.equal((await c).rows, 1);
    assert.equal(cRan, true);
    assert.equal(runner.stats.waiting, 0);
    held.release();
    await held.done;
  });
});
