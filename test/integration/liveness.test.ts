// Issue 13, item 3: a session process that stops (SIGSTOP: no crash, no exit, its sockets stay
// open) used to stay `ready` forever while its tab waited with no word. Now it is ended as
// `unresponsive` once its IPC heartbeat has been missing for the heartbeat timeout, its tab is
// told why, and the tab's next request for its key gets a new session. A browser that stops
// answering WebSocket pings is dropped, so it stops holding its session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import type { SessionStateEvent } from '../../shared/http-api.js';
import { RUNTIMES, eventually, processAlive, sessionProcessesOf, startTestServer } from '../support/control-server.js';
import { ApiCaller, SessionClient } from '../support/session-client.js';

const HEARTBEAT_TIMEOUT_MS = 2500;

/** Resumes a process this test stopped, if it still exists (so nothing is left stopped). */
function resume(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

for (const runtime of RUNTIMES) test(`a stopped session process is ended as unresponsive, its tab is told, and its key gets a new session (${runtime} runtime)`, { timeout: 60_000 }, async () => {
  const server = await startTestServer({ runtimeKind: runtime, poolSize: 1, limits: { heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS } });
  const tab = new ApiCaller(server.url);
  let pid = 0;
  try {
    const first = await tab.createSession({ key: 'frozen-tab' });
    const client = await SessionClient.connect(server.url, first.wsUrl, {}, tab);
    pid = (await tab.listSessions()).find((s) => s.id === first.id)!.pid!;
    const stoppedAt = Date.now();
    process.kill(pid, 'SIGSTOP');

    // The tab hears why, in a close frame, instead of waiting forever on a silent socket.
    const closed = await client.closed;
    const noticedMs = Date.now() - stoppedAt;
    assert.equal(closed.code, 1011);
    assert.match(closed.reason, /unresponsive: no heartbeat for \d+ s/);
    // Heartbeats come every second and are checked every second: within a second of the timeout.
    assert.ok(noticedMs >= HEARTBEAT_TIMEOUT_MS - 1200 && noticedMs < HEARTBEAT_TIMEOUT_MS + 4000, `noticed after ${noticedMs} ms`);
    assert.ok(await eventually(() => !processAlive(pid), 5000), 'the stopped process is gone (SIGKILL reaches a stopped process)');

    const stream = await (await tab.fetch(`/api/sessions/${first.id}/status`)).text();
    const events = [...stream.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as SessionStateEvent);
    assert.deepEqual(events.map((e) => e.state), ['starting', 'ready', 'draining', 'terminated']);
    assert.equal(events.at(-1)!.reason, 'unresponsive');
    assert.equal(events.at(-1)!.exitSignal, 'SIGKILL');

    // The tab reconnects as the worker does: the same key, a new session that answers.
    const second = await tab.createSession({ key: 'frozen-tab' });
    assert.notEqual(second.id, first.id);
    assert.equal(second.spawned, true);
    const again = await SessionClient.connect(server.url, second.wsUrl, {}, tab);
    const answer = await again.ask('equity', { width: 50 });
    assert.ok(answer.done && answer.done.rows > 0);
    await again.close();
  } finally {
    if (pid) resume(pid);
    await server.close();
  }
});

for (const runtime of RUNTIMES) test(`a stopped process in the warm pool is replaced, and never handed to a tab (${runtime} runtime)`, { timeout: 60_000 }, async () => {
  const server = await startTestServer({ runtimeKind: runtime, poolSize: 1, limits: { heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS } });
  const tab = new ApiCaller(server.url);
  let pooled = 0;
  try {
    await server.datasets.whenReady('tiny');
    assert.ok(await eventually(() => sessionProcessesOf(process.pid).length === 1, 20_000), 'one pool process');
    pooled = sessionProcessesOf(process.pid)[0]!;
    // Stopped while still loading it would be the warm-up timeout's case: wait until it has
    // loaded DuckDB (then it says `warm` and joins the pool), and a heartbeat more.
    assert.ok(await eventually(() => readFileSync(`/proc/${pooled}/maps`, 'utf8').includes('duckdb'), 20_000));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    process.kill(pooled, 'SIGSTOP');
    assert.ok(await eventually(() => !processAlive(pooled), HEARTBEAT_TIMEOUT_MS + 5000), 'the silent pooled process is ended');
    const created = await tab.createSession({ key: 'after-frozen-pool' });
    const info = (await tab.listSessions()).find((s) => s.id === created.id)!;
    assert.equal(info.status, 'ready');
    assert.notEqual(info.pid, pooled);
  } finally {
    if (pooled) resume(pooled);
    await server.close();
  }
});

for (const runtime of RUNTIMES) test(`a browser that stops answering pings is dropped after three; one that answers, even late, stays (${runtime} runtime)`, { timeout: 30_000 }, async () => {
  const PING_MS = 300;
  const server = await startTestServer({ runtimeKind: runtime, limits: { pingIntervalMs: PING_MS, idleTimeoutMs: 60_000 } });
  const tab = new ApiCaller(server.url);
  try {
    const created = await tab.createSession({ key: 'pings' });
    const url = new URL(created.wsUrl, server.url.replace(/^http/, 'ws'));
    const open = (autoPong: boolean) =>
      new Promise<WebSocket>((resolve, reject) => {
        const socket = new WebSocket(url, { headers: { cookie: tab.cookieHeader()! }, autoPong } as WebSocket.ClientOptions);
        socket.once('message', () => resolve(socket)); // the hello
        socket.once('error', reject);
      });
    const answering = await open(true);
    // A peer whose thread is busy (a script's Node client in a long computation) answers late: here
    // every other ping. Under the one-miss rule it was dropped; now it keeps its socket. (Every
    // third ping is the very edge of the rule, but leaves the test's own pong one interval to
    // arrive in, which a loaded CI machine need not grant.)
    const late = await open(false);
    let pings = 0;
    late.on('ping', (data) => {
      if (++pings % 2 === 0) late.pong(data);
    });
    const silentOpenedAt = Date.now();
    const silent = await open(false);
    const silentClosed = new Promise<number>((resolve) => silent.once('close', (code) => resolve(code)));
    const closedEarly: string[] = [];
    answering.once('close', () => closedEarly.push('answering'));
    late.once('close', () => closedEarly.push('late'));
    const code = await silentClosed;
    const silentFor = Date.now() - silentOpenedAt;
    assert.equal(code, 1006, 'terminated without a close handshake: the browser is not listening');
    // Dropped at the tick after its third unanswered ping: at least three intervals after it opened.
    assert.ok(silentFor >= 3 * PING_MS - 50, `a silent socket was dropped after ${silentFor} ms, before three pings went unanswered`);
    await new Promise((resolve) => setTimeout(resolve, 8 * PING_MS));
    assert.ok(pings >= 6, `the late peer saw ${pings} pings`);
    assert.deepEqual(closedEarly, [], 'a browser that answers pings, even only every other one, keeps its socket');
    assert.ok(await eventually(async () => (await tab.listSessions()).find((s) => s.id === created.id)?.connections === 2));
    answering.close();
    late.close();
  } finally {
    await server.close();
  }
});
