// Issue 16, item 1: a session on another host. The remote protocol without a cluster: each
// session is a plain process started by a command (CommandLauncher), which dials the control
// server back, registers with its one-time secret, and gets its tabs through the proxy. The same
// tab-level checks as the local runtime's: answers, a crash told with its reason, no process left
// (the liveness and lifecycle tests run on both runtimes too). The cluster tests
// (test/e2e/cluster.test.ts) run the same protocol on hosts that Slurm places sessions on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import WebSocket from 'ws';
import { sessionCommand } from '../../server/control/runtime/remote/launcher.js';
import { ProxiedSockets } from '../../server/control/runtime/remote/proxied-sockets.js';
import { CONTROL_SILENCE_MS, REMOTE_ENV, SESSION_SECRET_HEADER } from '../../server/session/contract.js';
import { readLines, writeLine } from '../../server/session/json-lines.js';
import { eventually, processAlive, sessionProcessesOf, startTestServer } from '../support/control-server.js';
import { tinyDataset } from '../support/datasets.js';
import { ApiCaller, SessionClient, rowsOf } from '../support/session-client.js';
import { CLI_ENTRY } from '../support/cli.js';

const HEARTBEAT_TIMEOUT_MS = 2500;

const remoteServer = (poolSize = 1) =>
  startTestServer({ runtimeKind: 'remote', poolSize, limits: { heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS } });

test('a tab drills down through the proxy to a remote session, with the answers of a local one', { timeout: 90_000 }, async () => {
  const server = await remoteServer();
  const local = await startTestServer({ poolSize: 0 });
  try {
    const tab = new ApiCaller(server.url);
    const created = await tab.createSession({ key: 'remote-tab' });
    const client = await SessionClient.connect(server.url, created.wsUrl, {}, tab);
    const localTab = new ApiCaller(local.url);
    const localClient = await SessionClient.connect(local.url, (await localTab.createSession({})).wsUrl, {}, localTab);
    assert.equal(client.hello.sessionId, created.id);
    for (const [query, params] of [
      ['equity', { width: 200 }],
      ['breakdown', { by: 'sector', limit: 100 }],
      ['trades', { limit: 500, sort: { column: 'trade_id' } }],
    ] as const) {
      const [remote, expected] = await Promise.all([client.ask(query, params as never), localClient.ask(query, params as never)]);
      assert.equal(remote.error, null, `${query}: ${remote.error?.message}`);
      assert.deepEqual(rowsOf(remote), rowsOf(expected), `${query} through the proxy`);
    }
    const info = (await tab.listSessions()).find((s) => s.id === created.id)!;
    assert.equal(info.status, 'ready');
    assert.equal(info.connections, 1);
    assert.ok(info.pid && processAlive(info.pid));
    assert.ok(await eventually(async () => ((await tab.listSessions()).find((s) => s.id === created.id)?.rssBytes ?? 0) > 0, 5000), 'the session reports its own memory');
    await client.close();
    await localClient.close();
  } finally {
    await server.close();
    await local.close();
  }
});

test('a remote session that dies: its tab is told why, and its key gets a new session elsewhere', { timeout: 90_000 }, async () => {
  const server = await remoteServer();
  try {
    const tab = new ApiCaller(server.url);
    const first = await tab.createSession({ key: 'crash-tab' });
    const client = await SessionClient.connect(server.url, first.wsUrl, {}, tab);
    const pid = (await tab.listSessions()).find((s) => s.id === first.id)!.pid!;
    process.kill(pid, 'SIGKILL');
    const closed = await client.closed;
    assert.equal(closed.code, 1011);
    assert.match(closed.reason, /session process crashed: its control connection from .* closed/);
    const ended = (await tab.listSessions()).find((s) => s.id === first.id);
    assert.equal(ended?.reason, 'crashed');
    const second = await tab.createSession({ key: 'crash-tab' });
    assert.notEqual(second.id, first.id);
    const again = await SessionClient.connect(server.url, second.wsUrl, {}, tab);
    assert.ok((await again.ask('equity', { width: 50 })).done!.rows > 0);
    await again.close();
  } finally {
    await server.close();
  }
});

test("a session's own listener takes only upgrades with its connection secret", { timeout: 60_000 }, async () => {
  // A fake control server: registers the session, welcomes it with a known secret.
  const control = createServer();
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const registered = new Promise<{ socket: Socket; port: number }>((resolve) =>
    control.once('connection', (socket) => readLines(socket, (message) => {
      const m = message as { type: string; port: number };
      if (m.type === 'register') {
        writeLine(socket, { type: 'welcome', connectionSecret: 'right-secret' });
        resolve({ socket, port: m.port });
      }
    })),
  );
  const [command, ...args] = sessionCommand();
  const child = spawn(command!, args, {
    env: { ...process.env, [REMOTE_ENV.control]: `127.0.0.1:${(control.address() as { port: number }).port}`, [REMOTE_ENV.secret]: 'one-time', [REMOTE_ENV.listenHost]: '127.0.0.1' },
    stdio: 'ignore',
  });
  try {
    const { socket, port } = await registered;
    const heartbeat = setInterval(() => writeLine(socket, { type: 'heartbeat' }), 500);
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers });
        ws.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        ws.once('open', () => (ws.close(), resolve(101)));
        ws.once('error', () => resolve(-1));
      });
    assert.equal(await status({}), 403, 'no secret');
    assert.equal(await status({ [SESSION_SECRET_HEADER]: 'wrong-secret', 'x-tickscope-connection': '1' }), 403, 'a wrong secret');
    assert.equal(await status({ [SESSION_SECRET_HEADER]: 'right-secreT', 'x-tickscope-connection': '1' }), 403, 'a near miss');
    clearInterval(heartbeat);
    // Its control server falls silent (no close: a cut-off network): it ends itself.
    const silentAt = Date.now();
    const exited = new Promise<number>((resolve) => child.once('exit', () => resolve(Date.now() - silentAt)));
    const afterMs = await exited;
    assert.ok(afterMs >= CONTROL_SILENCE_MS - 1000 && afterMs < CONTROL_SILENCE_MS + 3000, `ended ${afterMs} ms after the control server fell silent`);
  } finally {
    child.kill('SIGKILL');
    control.close();
  }
});

test('a remote session ends at once when its control connection closes; the server leaves no process', { timeout: 60_000 }, async () => {
  const server = await remoteServer(2);
  const tab = new ApiCaller(server.url);
  const created = await tab.createSession({ key: 'to-close' });
  const pid = (await tab.listSessions()).find((s) => s.id === created.id)!.pid!;
  assert.ok(await eventually(() => sessionProcessesOf(process.pid).length >= 2, 20_000), 'a pooled process besides the assigned one');
  await server.close();
  assert.ok(await eventually(() => !processAlive(pid), 5000), 'the assigned session ended');
  assert.deepEqual(sessionProcessesOf(process.pid), [], 'no session process left, pooled ones included');
});

test('the proxy passes flow control both ways: a side that does not read holds the other back, nothing is lost', { timeout: 60_000 }, async () => {
  const TOTAL = 64 * 2 ** 20;
  /** Bounded by the sockets' and streams' buffers on the way, far below TOTAL. */
  const HELD_BACK_BELOW = 24 * 2 ** 20;
  const listen = async (server: ReturnType<typeof createServer>) => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  };
  /** Writes TOTAL bytes as fast as `socket` takes them; `queued()` is how many it has been let write so far. */
  const pump = (socket: Socket) => {
    const chunk = Buffer.alloc(2 ** 20, 7);
    let queued = 0;
    const more = () => {
      while (queued < TOTAL) {
        queued += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', more);
      }
    };
    more();
    return { queued: () => queued };
  };
  const received = (socket: Socket, bytes: number) =>
    new Promise<void>((resolve) => {
      let count = 0;
      socket.on('data', (data: Buffer) => {
        count += data.length;
        if (count >= bytes) resolve();
      });
    });

  // The session's listener: reads the proxied upgrade request, then streams.
  const session = createServer();
  let sessionSocket!: Socket;
  let requestHead = '';
  const sessionGotRequest = new Promise<void>((resolve) => {
    session.once('connection', (socket: Socket) => {
      sessionSocket = socket;
      const onData = (data: Buffer) => {
        requestHead += data.toString('latin1');
        if (requestHead.includes('\r\n\r\n')) {
          socket.off('data', onData);
          socket.pause();
          resolve();
        }
      };
      socket.on('data', onData);
    });
  });
  const sessionPort = await listen(session);
  // The tab's TCP connection to the control server: `browser` is the control server's end.
  const front = createServer();
  const frontPort = await listen(front);
  const accepted = new Promise<Socket>((resolve) => front.once('connection', resolve));
  const tab = connect({ host: '127.0.0.1', port: frontPort });
  const browser = await accepted;
  const proxies = new ProxiedSockets(() => undefined);
  const request = { method: 'GET', url: '/ws/x', rawHeaders: ['Host', 'tickscope', 'X-Tickscope-Session-Secret', 'forged'] };
  try {
    proxies.add({ host: '127.0.0.1', port: sessionPort, secret: 'the-secret' }, request as never, browser, Buffer.alloc(0));
    await sessionGotRequest;
    assert.match(requestHead, /^GET \/ws\/x HTTP\/1\.1\r\nHost: tickscope\r\n/);
    assert.match(requestHead, new RegExp(`${SESSION_SECRET_HEADER}: the-secret\r\n`));
    assert.doesNotMatch(requestHead, /forged/, "the tab's own secret header does not get through");

    // Session -> tab, the tab not reading.
    tab.pause();
    const down = pump(sessionSocket);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.ok(down.queued() < HELD_BACK_BELOW, `a tab that does not read held the session back: ${(down.queued() / 2 ** 20).toFixed(0)} MiB let through`);
    const allDown = received(tab, TOTAL);
    tab.resume();
    await allDown;

    // Tab -> session, the session not reading.
    const up = pump(tab);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.ok(up.queued() < HELD_BACK_BELOW, `a session that does not read held the tab back: ${(up.queued() / 2 ** 20).toFixed(0)} MiB let through`);
    const allUp = received(sessionSocket, TOTAL);
    sessionSocket.resume();
    await allUp;
  } finally {
    tab.destroy();
    sessionSocket?.destroy();
    session.close();
    front.close();
  }
});

test('serve --runtime slurm refuses an address the nodes cannot dial back to, saying which flag to give', async () => {
  const data = await tinyDataset();
  const serve = (...args: string[]) => spawnSync(process.execPath, [CLI_ENTRY, 'serve', '--data', data, '--port', '0', ...args], { encoding: 'utf8', timeout: 60_000 });
  const loopback = serve('--runtime', 'slurm');
  assert.equal(loopback.status, 1);
  assert.match(loopback.stderr, /--runtime slurm: the nodes cannot dial back to 127\.0\.0\.1; give --cluster-address/);
  const badPort = serve('--runtime', 'slurm', '--cluster-address', '10.1.2.3:99999');
  assert.equal(badPort.status, 1);
  assert.match(badPort.stderr, /--cluster-address 10\.1\.2\.3:99999: the port must be 1-65535/);
});
