// Issue 6 fault injection: admission, simultaneous creates, startup failure, lifetime cap,
// WebSockets to sessions that are not ready, leftovers of a previous control server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import type { SessionStateEvent } from '../../shared/http-api.js';
import { LocalProcessRuntime } from '../../server/control/runtime/local-process-runtime.js';
import { runsSessionEntry, sessionEntry } from '../../server/control/runtime/session-entry.js';
import { CONTROL_ENV, findOrphans } from '../../server/control/runtime/orphans.js';
import { SessionManager } from '../../server/control/session-manager.js';
import type { DatasetCatalog } from '../../server/control/dataset-catalog.js';
import { SESSION_BASE_BYTES, checkMemoryBudget, defaultSessionMemory } from '../../server/control/memory-budget.js';
import { parseSize } from '../../server/os/memory.js';
import { RUNTIMES, eventually, processAlive, sessionProcessesOf, startTestServer } from '../support/control-server.js';
import { ApiCaller, createSession, defaultCaller } from '../support/session-client.js';
import { copyFile } from 'node:fs/promises';
import { prepareDataset } from '../../server/prepare/prepare.js';
import type { SessionAssignment } from '../../server/session/contract.js';
import { testStoreDir, tinyDataset } from '../support/datasets.js';

/** Live session processes started by this test process (their control identity names this pid). */
function ourSessionProcesses(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const env = readFileSync(`/proc/${name}/environ`, 'utf8');
      if (runsSessionEntry(argv) && env.includes(`${CONTROL_ENV}=${process.pid}:`) && processAlive(Number(name))) {
        pids.push(Number(name));
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

test('30 simultaneous creates against a limit of 10 and no queue: exactly 10 sessions, 20 clean 503s, no leaked process', async () => {
  // No queue (--queue-length 0): a request that finds every slot taken is refused at once.
  // (With a queue they wait for a slot: test/integration/burst.test.ts.)
  const server = await startTestServer({ poolSize: 2, limits: { maxSessions: 10, queueLength: 0 } });
  try {
    await server.datasets.whenReady('tiny');
    // One browser (one owner cookie), its 30 tabs at once.
    const browser = defaultCaller(server.url);
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => browser.postSession({ key: `crowd-${i}` })));
    const ok = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 503);
    assert.equal(ok.length, 10);
    assert.equal(refused.length, 20);
    for (const response of refused) {
      assert.equal(response.headers.get('retry-after'), '5');
      const body = (await response.json()) as { message: string };
      assert.match(body.message, /all 10 session slots are in use/);
    }
    const live = await defaultCaller(server.url).listSessions();
    assert.equal(live.filter((s) => s.status === 'ready').length, 10);
    // The warm pool counts toward the limit: with every slot taken, no idle process is kept.
    assert.ok(await eventually(() => ourSessionProcesses().length === 10), `processes: ${ourSessionProcesses().length}`);
  } finally {
    await server.close();
  }
  assert.deepEqual(ourSessionProcesses(), [], 'no session process outlives the server');
});

for (const runtime of RUNTIMES) test(`simultaneous requests with one key spawn exactly one process (${runtime} runtime)`, async () => {
  const server = await startTestServer({ runtimeKind: runtime, poolSize: 0 });
  try {
    const replies = await Promise.all(Array.from({ length: 8 }, () => createSession(server.url, { key: 'shared-key' })));
    assert.equal(new Set(replies.map((r) => r.id)).size, 1);
    assert.equal(replies.filter((r) => r.spawned).length, 1);
    assert.equal(runtime === 'local' ? ourSessionProcesses().length : sessionProcessesOf(process.pid).length, 1);
  } finally {
    await server.close();
  }
});

test('a session whose store cannot be opened ends as startup-failed, with the reason', async () => {
  const runtime = new LocalProcessRuntime({ poolSize: 0, warmTimeoutMs: 15_000 });
  const missing = path.join(tmpdir(), 'tickscope-no-such-dir', 'store.duckdb');
  const catalog = {
    resolve: () => 'broken',
    whenReadyAt: async () => ({ storePath: missing, revision: 0 }),
    revision: () => 0,
    onRunsAdded: () => undefined,
  } as unknown as DatasetCatalog;
  const events: string[] = [];
  const manager = new SessionManager(
    runtime,
    catalog,
    {
      maxSessions: 2,
      idleTimeoutMs: 60_000,
      lifetimeMs: 0,
      startupTimeoutMs: 15_000,
      terminateGraceMs: 1000,
      memoryLimit: '128MB',
      threads: 1,
      memoryBudgetBytes: 2 ** 30,
    },
    (event) => events.push(event),
  );
  const { session } = manager.getOrCreate({ owner: 'browser:test', key: 'broken-tab' });
  await assert.rejects(session.ready, (error: Error) => error.message.includes(missing));
  assert.ok(await eventually(() => session.state === 'terminated'));
  assert.equal(session.reason, 'startup-failed');
  const last = session.history.at(-1)!;
  assert.equal(last.state, 'terminated');
  assert.match(last.message ?? '', /cannot open prepared store/);
  assert.ok(events.includes('session.startup-failed'));
  await manager.shutdown();
});

test('pooled processes open the store of the last session ahead; another store or a failed open still works', async () => {
  const { storePath } = await prepareDataset({ input: await tinyDataset(), storeDir: testStoreDir() });
  const dir = await mkdtemp(path.join(tmpdir(), 'tickscope-preopen-'));
  const otherStore = path.join(dir, 'other.duckdb');
  await copyFile(storePath, otherStore);
  const runtime = new LocalProcessRuntime({ poolSize: 1, warmTimeoutMs: 15_000 });
  const assignment = (store: string, n: number): SessionAssignment => ({
    sessionId: `preopen-${n}`,
    datasetId: 'tiny',
    storePath: store,
    memoryLimit: '128MB',
    threads: 1,
    drainMs: 500,
  });
  let n = 0;
  /** Assigns `store` to processes from the pool until one had it open ahead (or `tries` run out). */
  const assignFromPool = async (store: string, tries: number) => {
    let outcome = { storePreopened: false };
    for (let i = 0; i < tries && !outcome.storePreopened; i++) {
      // The pooled process needs a moment to load DuckDB and open the store.
      await new Promise((resolve) => setTimeout(resolve, 700));
      const process = await runtime.acquire();
      outcome = await process.assign(assignment(store, n++), 15_000);
      process.terminate(500);
    }
    return outcome;
  };
  try {
    // The first session: nothing was expected, so its store was opened on assignment.
    const first = await runtime.acquire();
    assert.equal((await first.assign(assignment(storePath, n++), 15_000)).storePreopened, false);
    first.terminate(500);
    // The next one for the same store finds it open.
    assert.equal((await assignFromPool(storePath, 10)).storePreopened, true, 'a pooled process had the store open ahead');
    // Another store: the pooled process (holding the first one open) closes it and opens this one.
    assert.equal((await assignFromPool(otherStore, 1)).storePreopened, false);
    assert.equal((await assignFromPool(otherStore, 10)).storePreopened, true, 'the pool follows the store in use');
    // A store that cannot be opened: its assignment fails with the reason, the pool keeps the
    // last store that opened, and the next assignment still works.
    const missing = path.join(dir, 'missing.duckdb');
    const broken = await runtime.acquire();
    await assert.rejects(broken.assign(assignment(missing, n++), 15_000), /cannot open prepared store/);
    assert.equal((await assignFromPool(otherStore, 10)).storePreopened, true, 'a failed store is not opened ahead');
    assert.equal((await assignFromPool(storePath, 1)).storePreopened, false);
  } finally {
    await runtime.close();
    await rm(dir, { recursive: true, force: true });
  }
});

for (const runtime of RUNTIMES) test(`the lifetime cap ends a session even while a tab is connected, with reason lifetime (${runtime} runtime)`, async () => {
  const server = await startTestServer({ runtimeKind: runtime, limits: { lifetimeMs: 1500 } });
  try {
    const created = await createSession(server.url, { key: 'short-lived' });
    const socket = new WebSocket(new URL(created.wsUrl, server.url.replace(/^http/, 'ws')), {
      headers: { cookie: defaultCaller(server.url).cookieHeader()! },
    });
    await new Promise((resolve) => socket.once('message', resolve));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    const stream = await (await defaultCaller(server.url).fetch(`/api/sessions/${created.id}/status`)).text();
    const events = [...stream.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as SessionStateEvent);
    assert.deepEqual(events.map((e) => e.state), ['starting', 'ready', 'draining', 'terminated']);
    assert.equal(events.at(-1)!.reason, 'lifetime');
    assert.equal(await closed, 1001);
  } finally {
    await server.close();
  }
});

test('a WebSocket to a session that is not ready yet is refused cleanly', async () => {
  const storeDir = await mkdtemp(path.join(tmpdir(), 'tickscope-stores-'));
  // A fresh store folder: the dataset has to be prepared, so the session stays `starting` a while.
  const server = await startTestServer({ storeDir });
  try {
    // The tab's own request (its owner cookie), still waiting for the store.
    const tab = new ApiCaller(server.url);
    const created = tab.createSession({ key: 'early' });
    assert.ok(await eventually(() => server.sessions.list({ owner: null, admin: true }).some((s) => s.key === 'early')));
    const session = server.sessions.get(server.sessions.list({ owner: null, admin: true }).find((s) => s.key === 'early')!.id)!;
    assert.equal(session.state, 'starting');
    const status = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws/${session.id}?token=${session.token}`, {
        headers: { cookie: tab.cookieHeader()! },
      });
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.once('open', () => reject(new Error('a starting session accepted a WebSocket')));
      // ws also emits an error for the refused upgrade; the status above is what is checked.
      socket.once('error', () => undefined);
    });
    assert.equal(status, 409);
    await session.ready;
    await created;
  } finally {
    await server.close();
    await rm(storeDir, { recursive: true, force: true });
  }
});

test('a control server that starts ends session processes left by a dead one', async () => {
  // Stands in for a stuck session process whose control server died: the entry script on its
  // command line, and the identity of a control server that no longer exists.
  const leftover = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', sessionEntry().path], {
    env: { ...process.env, [CONTROL_ENV]: '999999:0' },
    stdio: 'ignore',
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => leftover.once('exit', (_code, signal) => resolve(signal)));
  assert.ok(findOrphans().some((orphan) => orphan.pid === leftover.pid));
  const server = await startTestServer({ poolSize: 0 });
  try {
    assert.equal(await exited, 'SIGKILL');
  } finally {
    await server.close();
  }
});

test('sessions that could not all fit in memory refuse to start, saying what to change', () => {
  assert.doesNotThrow(() => checkMemoryBudget(20, '256MB', 16 * 2 ** 30));
  assert.throws(
    () => checkMemoryBudget(20, '4GB', 16 * 2 ** 30),
    /20 sessions x \(4GB DuckDB memory .*more than the memory budget of 16\.0 GiB; lower --max-sessions or --session-memory/,
  );
});

test('the default session memory shares the budget, between 64 MiB and 1 GiB, and always fits it when it can', () => {
  const base = SESSION_BASE_BYTES / 2 ** 20;
  assert.equal(defaultSessionMemory(20, 18 * 2 ** 30), `${Math.floor((18 * 2 ** 30) / 20 / 2 ** 20 - base)}MiB`);
  assert.equal(defaultSessionMemory(2, 64 * 2 ** 30), '1024MiB');
  assert.equal(defaultSessionMemory(20, 4 * 2 ** 30), '64MiB');
  for (const budget of [6, 8, 12, 18, 24].map((g) => g * 2 ** 30)) {
    const memory = defaultSessionMemory(20, budget);
    assert.doesNotThrow(() => checkMemoryBudget(20, memory, budget), `budget ${budget}`);
    assert.ok(parseSize(memory) + SESSION_BASE_BYTES <= budget / 20, `budget ${budget}: ${memory}`);
  }
});
