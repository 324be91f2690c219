// Keep-alive, idle countdown and the no-orphans guarantee, against real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SessionInfo } from '../../shared/http-api.js';
import { eventually, processAlive, startTestServer } from '../support/control-server.js';
import { tinyDataset } from '../support/datasets.js';
import { SessionClient, createSession, defaultCaller } from '../support/session-client.js';

// The CLI of the build this test belongs to (bin/tickscope.js runs dist/, which this may not be).
const CLI = fileURLToPath(new URL('../../server/cli/main.js', import.meta.url));

/** A session of this test's browser (the owner cookie createSession and SessionClient use). */
async function sessionInfo(baseUrl: string, id: string): Promise<SessionInfo | undefined> {
  return (await defaultCaller(baseUrl).listSessions()).find((s) => s.id === id);
}

test('a reload within the idle window reattaches; after it, the session ends as idle', async () => {
  const server = await startTestServer({ limits: { idleTimeoutMs: 800 } });
  try {
    const first = await createSession(server.url, { key: 'reloading-tab' });
    const tab = await SessionClient.connect(server.url, first.wsUrl);
    await tab.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // "Reload": same key, within the window -> same process, and the countdown stops.
    const reload = await createSession(server.url, { key: 'reloading-tab' });
    assert.equal(reload.id, first.id);
    assert.equal(reload.spawned, false);
    const again = await SessionClient.connect(server.url, reload.wsUrl);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal((await sessionInfo(server.url, first.id))?.status, 'ready', 'a connected session never idles out');
    const pid = (await sessionInfo(server.url, first.id))!.pid!;
    await again.close();
    assert.ok(
      await eventually(async () => {
        const info = await sessionInfo(server.url, first.id);
        return info?.status === 'terminated' && info.reason === 'idle';
      }, 5000),
    );
    assert.ok(await eventually(() => !processAlive(pid)));
    const later = await createSession(server.url, { key: 'reloading-tab' });
    assert.notEqual(later.id, first.id);
  } finally {
    await server.close();
  }
});

/** Starts `tickscope serve` on the tiny fixture and a free port; resolves with its URL. */
async function startCli() {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--data', await tinyDataset(), '--port', '0', '--pool-size', '1', '--session-threads', '1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /running at (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
  });
  return { child, url };
}

async function livePids(url: string): Promise<number[]> {
  const sessions = await Promise.all(['x1', 'x2'].map((key) => createSession(url, { key })));
  const infos = await Promise.all(sessions.map((s) => sessionInfo(url, s.id)));
  return infos.map((info) => info!.pid!);
}

test('SIGTERM to the server ends every session process it started', async () => {
  const { child, url } = await startCli();
  const pids = await livePids(url);
  assert.ok(pids.every(processAlive));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.ok(await eventually(() => pids.every((pid) => !processAlive(pid)), 2000), 'no session outlives the server');
});

test('SIGKILL to the server: its session processes exit on their own within 2 s', async () => {
  const { child, url } = await startCli();
  const pids = await livePids(url);
  child.kill('SIGKILL');
  assert.ok(await eventually(() => pids.every((pid) => !processAlive(pid)), 2000), 'orphans left behind');
});
