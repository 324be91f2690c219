// Keep-alive, idle countdown and the no-orphans guarantee, against real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { SessionInfo } from '../../shared/http-api.js';
import { eventually, processAlive, startTestServer } from '../support/control-server.js';
import { tinyDataset } from '../support/datasets.js';
import { SessionClient, createSession, defaultCaller } from '../support/session-client.js';
import { CLI_ENTRY as CLI } from '../support/cli.js';

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

/**
 * Starts `tickscope serve` on the tiny fixture and a free port; resolves with its URL and what it
 * has printed so far (`output()`). `detached`: in a process group of its own, as a terminal's
 * foreground job, so that a test can send the group a Ctrl-C.
 */
async function startCli(options: { args?: string[]; detached?: boolean } = {}) {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--data', await tinyDataset(), '--port', '0', '--pool-size', '1', '--session-threads', '1', ...(options.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false },
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
  return { child, url, output: () => output };
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

test('SIGTERM as soon as the server says where it runs still ends it cleanly', async () => {
  // The handlers used to be installed after a listing of the store folder that follows that line:
  // a signal meanwhile killed the server outright, leaving its pool's processes to notice alone.
  const { child, output } = await startCli();
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, output());
  assert.match(output(), /Tickscope stopped \(SIGTERM\): every session ended\./);
});

test('SIGKILL to the server: its session processes exit on their own within 2 s', async () => {
  const { child, url } = await startCli();
  const pids = await livePids(url);
  child.kill('SIGKILL');
  assert.ok(await eventually(() => pids.every((pid) => !processAlive(pid)), 2000), 'orphans left behind');
});

test('Ctrl-C at a terminal (SIGINT to the process group): sessions end in order, one line says so', async () => {
  const { child, url, output } = await startCli({ detached: true, args: ['--log-format', 'pretty'] });
  try {
    const pids = await livePids(url);
    const before = output().length;
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    process.kill(-child.pid!, 'SIGINT');
    assert.equal(await exited, 0);
    const after = output().slice(before).trim().split('\n').filter((line) => line.trim() !== '');
    assert.deepEqual(after, ['Tickscope stopped (SIGINT): every session ended.'], `printed on Ctrl-C:\n${after.join('\n')}`);
    assert.ok(await eventually(() => pids.every((pid) => !processAlive(pid)), 2000), 'no session outlives the server');
    // Pretty logs: one short human line per event, no JSON objects, no per-request lines at info.
    const lines = output().slice(0, before).split('\n').filter((line) => /\d\d:\d\d:\d\d/.test(line));
    assert.ok(lines.some((line) => line.includes('dataset.ready')), output());
    assert.ok(lines.every((line) => !line.trimStart().startsWith('{') && !/GET \/api/.test(line)), output());
  } finally {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  }
});
