// The control server and real session processes over real HTTP and WebSocket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { ControlServer } from '../../server/control/app.js';
import type { SessionInfo, SessionStateEvent } from '../../shared/http-api.js';
import { eventually, processAlive, startTestServer } from '../support/control-server.js';
import { tinyDataset } from '../support/datasets.js';
import { SessionClient, createSession, defaultCaller, postSession } from '../support/session-client.js';

let server: ControlServer;

before(async () => {
  server = await startTestServer({ limits: { idleTimeoutMs: 60_000 } });
});

after(async () => {
  await server.close();
});

/** The sessions of this test's browser (the owner cookie createSession and SessionClient use). */
async function listSessions(): Promise<SessionInfo[]> {
  return defaultCaller(server.url).listSessions();
}

/** Portfolio P&L per bar from the raw fixture files, summed in plain TypeScript. */
async function referenceEquity(): Promise<Map<string, { t: number; equity: number }[]>> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const reader = await connection.runAndReadAll(
    `SELECT run_id, epoch_ms(ts)::DOUBLE AS t, pnl FROM read_parquet('${await tinyDataset()}/bars/**/*.parquet', hive_partitioning = true)`,
  );
  connection.closeSync();
  instance.closeSync();
  const perBar = new Map<string, Map<number, number>>();
  for (const [run, t, pnl] of reader.getRows() as [string, number, number][]) {
    const bars = perBar.get(run) ?? perBar.set(run, new Map()).get(run)!;
    bars.set(t, (bars.get(t) ?? 0) + pnl);
  }
  const curves = new Map<string, { t: number; equity: number }[]>();
  for (const [run, bars] of perBar) {
    let equity = 0;
    curves.set(run, [...bars.entries()].sort((a, b) => a[0] - b[0]).map(([t, pnl]) => ({ t, equity: (equity += pnl) })));
  }
  return curves;
}

test('a session is created, listed with its process, and reattached by key', async () => {
  const created = await createSession(server.url, { key: 'tab-a' });
  assert.equal(created.status, 'ready');
  assert.equal(created.spawned, true);
  assert.match(created.wsUrl, /^\/ws\/[0-9a-f-]{36}\?token=[0-9a-f]{64}$/);
  const again = await createSession(server.url, { key: 'tab-a' });
  assert.equal(again.id, created.id);
  assert.equal(again.spawned, false);

  const listed = (await listSessions()).find((s) => s.id === created.id)!;
  assert.equal(listed.status, 'ready');
  assert.equal(listed.dataset, 'tiny');
  assert.ok(listed.pid && processAlive(listed.pid));
  assert.ok(listed.rssBytes && listed.rssBytes > 10 * 2 ** 20, `rss ${listed.rssBytes}`);
  assert.equal(listed.outOfMemoryRetries, 0, 'no request had to run again alone');
});

test('two keys get two processes; the equity answer is Arrow and matches the raw rows', async () => {
  const a = await createSession(server.url, { key: 'tab-b1' });
  const b = await createSession(server.url, { key: 'tab-b2' });
  const sessions = await listSessions();
  const pidA = sessions.find((s) => s.id === a.id)!.pid;
  const pidB = sessions.find((s) => s.id === b.id)!.pid;
  assert.ok(pidA && pidB && pidA !== pidB);

  const client = await SessionClient.connect(server.url, a.wsUrl);
  assert.equal(client.hello.sessionId, a.id);
  assert.deepEqual(client.hello.dataset.runs.map((r) => r.runId).sort(), ['alt', 'base']);
  assert.ok(await eventually(async () => (await listSessions()).find((s) => s.id === a.id)!.connections === 1));

  const reference = await referenceEquity();
  // Pixel columns narrower than a bar keep every bar: the answer must equal the reference.
  const answer = await client.request({ query: 'equity', params: { width: 16_384 } });
  assert.equal(answer.error, null);
  assert.ok(answer.done && answer.done.rows > 0 && answer.done.bytes > 0);
  const table = answer.tables[0]!;
  assert.deepEqual(table.schema.fields.map((f) => f.name), ['run_id', 'ts', 'equity', 'drawdown']);
  for (const [run, curve] of reference) {
    const got: { t: number; equity: number }[] = [];
    for (const row of table) if (row.run_id === run) got.push({ t: row.ts, equity: row.equity });
    assert.equal(got.length, curve.length, `run ${run}`);
    got.forEach((point, i) => {
      assert.equal(point.t, curve[i]!.t);
      assert.ok(Math.abs(point.equity - curve[i]!.equity) < 1e-6 * Math.max(1, Math.abs(curve[i]!.equity)));
    });
  }

  // Downsampled to 100 pixels: at most 6 points per column per run (first, last, and the extremes
  // of equity and of drawdown).
  const small = await client.request({ query: 'equity', params: { width: 100 } });
  assert.ok(small.done!.rows <= 100 * 6 * 2 && small.done!.rows >= 100);
  await client.close();
});

test('bad messages get an error naming the request, and the socket stays usable', async () => {
  const { wsUrl } = await createSession(server.url, { key: 'tab-c' });
  const client = await SessionClient.connect(server.url, wsUrl);
  const bad = await client.sendRaw('{"type":"request","id":5,"query":"equity","params":{"width":0}}', 5)!;
  assert.equal(bad.error?.code, 'bad-message');
  assert.match(bad.error!.message, /width/);
  const unknownRun = await client.request({ query: 'equity', params: { width: 10, runs: ['nope'] } });
  assert.equal(unknownRun.error?.code, 'bad-params');
  assert.match(unknownRun.error!.message, /unknown run "nope"/);
  client.sendRaw('not json');
  assert.ok(await eventually(() => client.errorsWithoutRequest.some((e) => /not JSON/.test(e.message))));
  const good = await client.request({ query: 'equity', params: { width: 50 } });
  assert.ok(good.done);
  await client.close();
});

test('a wrong, foreign or missing token and a foreign Origin are refused before the session', async () => {
  const mine = await createSession(server.url, { key: 'tab-d1' });
  const other = await createSession(server.url, { key: 'tab-d2' });
  const otherToken = new URL(other.wsUrl, server.url).searchParams.get('token')!;
  const path = new URL(mine.wsUrl, server.url).pathname;
  await assert.rejects(SessionClient.connect(server.url, `${path}?token=${'0'.repeat(64)}`), /401/);
  await assert.rejects(SessionClient.connect(server.url, `${path}?token=${otherToken}`), /401/);
  await assert.rejects(SessionClient.connect(server.url, path), /401/);
  await assert.rejects(SessionClient.connect(server.url, mine.wsUrl, { origin: 'http://evil.example' }), /403/);
  const sameOrigin = await SessionClient.connect(server.url, mine.wsUrl, { origin: server.url });
  await sameOrigin.close();
});

test('DELETE ends a session: its status stream replays every state and ends with terminated', async () => {
  const created = await createSession(server.url, { key: 'tab-e' });
  const pid = (await listSessions()).find((s) => s.id === created.id)!.pid!;
  const client = await SessionClient.connect(server.url, created.wsUrl);
  const response = await defaultCaller(server.url).fetch(`/api/sessions/${created.id}`, { method: 'DELETE' });
  assert.equal(response.status, 204);
  const closed = await client.closed;
  assert.equal(closed.code, 1001);
  const stream = await (await defaultCaller(server.url).fetch(`/api/sessions/${created.id}/status`)).text();
  const events = [...stream.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as SessionStateEvent);
  assert.deepEqual(events.map((e) => e.state), ['starting', 'ready', 'draining', 'terminated']);
  assert.equal(events.at(-1)!.reason, 'deleted');
  assert.equal(events.at(-1)!.exitCode, 0);
  assert.ok(await eventually(() => !processAlive(pid)));
  // The key is free again: a new request spawns a new process.
  const fresh = await createSession(server.url, { key: 'tab-e' });
  assert.notEqual(fresh.id, created.id);
  assert.equal(fresh.spawned, true);
});

test('a session process killed mid-stream: crashed with its signal, its client closed with the reason', async () => {
  const created = await createSession(server.url, { key: 'tab-f' });
  const pid = (await listSessions()).find((s) => s.id === created.id)!.pid!;
  const client = await SessionClient.connect(server.url, created.wsUrl);
  const inFlight = client.request({ query: 'equity', params: { width: 16_384 } });
  process.kill(pid, 'SIGKILL');
  const closed = await client.closed;
  assert.equal(closed.code, 1011);
  assert.equal(closed.reason, 'session process crashed (signal SIGKILL)');
  void inFlight;
  assert.ok(
    await eventually(async () => {
      const info = (await listSessions()).find((s) => s.id === created.id)!;
      return info.status === 'terminated' && info.reason === 'crashed' && info.exitSignal === 'SIGKILL';
    }),
  );
  const next = await createSession(server.url, { key: 'tab-f' });
  assert.equal(next.spawned, true);
});

test('unknown datasets and malformed bodies get clear 4xx answers', async () => {
  const unknown = await postSession(server.url, { dataset: 'nope' });
  assert.equal(unknown.status, 404);
  assert.match(((await unknown.json()) as { message: string }).message, /unknown dataset "nope"; this server has "tiny"/);
  const extra = await postSession(server.url, { key: 'k', admin: true });
  assert.equal(extra.status, 400);
  const badKey = await postSession(server.url, { key: '../../etc' });
  assert.equal(badKey.status, 400);
  const health = (await (await fetch(`${server.url}/api/health`)).json()) as { status: string };
  assert.equal(health.status, 'ok');
  const datasets = (await (await fetch(`${server.url}/api/datasets`)).json()) as { id: string; state: string }[];
  assert.deepEqual(datasets.map((d) => [d.id, d.state]), [['tiny', 'ready']]);
});

test('every byte a client sends reaches its session process (the control server never reads a handed-off socket)', { timeout: 20_000 }, async () => {
  const { wsUrl } = await createSession(server.url, { key: 'tab-g' });
  const client = await SessionClient.connect(server.url, wsUrl);
  // Many small requests written back to back: a reader racing the session process for the
  // socket would swallow some of them, and their answers would never come.
  const answers = await Promise.all(Array.from({ length: 150 }, (_, i) => client.request({ query: 'equity', params: { width: 10 + i } })));
  // Each is answered: done, or refused for the in-flight limit, never lost.
  assert.ok(answers.every((answer) => answer.done !== null || answer.error?.code === 'overloaded'));
  assert.ok(answers.filter((answer) => answer.done !== null).length >= 16);
  await client.close();
});

test("the client's hashed files are cached for good, the page is asked again on every load", async () => {
  const clientDir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-client-'));
  await mkdir(path.join(clientDir, 'assets'));
  await writeFile(path.join(clientDir, 'index.html'), '<script type="module" src="/assets/index-D-T4bk9K.js"></script>');
  await writeFile(path.join(clientDir, 'assets', 'index-D-T4bk9K.js'), 'export {};');
  await writeFile(path.join(clientDir, 'assets', 'index-D-T4bk9K.css'), 'body {}');
  await writeFile(path.join(clientDir, 'assets', 'notes.js'), 'export {};');
  const withClient = await startTestServer({ clientDir, poolSize: 0 });
  try {
    const cacheControl = async (file: string) => {
      const response = await fetch(`${withClient.url}${file}`);
      assert.equal(response.status, 200, file);
      await response.arrayBuffer();
      return response.headers.get('cache-control');
    };
    assert.equal(await cacheControl('/'), 'no-cache');
    assert.equal(await cacheControl('/index.html'), 'no-cache');
    assert.equal(await cacheControl('/assets/index-D-T4bk9K.js'), 'public, max-age=31536000, immutable');
    assert.equal(await cacheControl('/assets/index-D-T4bk9K.css'), 'public, max-age=31536000, immutable');
    // A file whose name carries no content hash may change under it.
    assert.equal(await cacheControl('/assets/notes.js'), 'no-cache');
    // The page is revalidated, not sent again: its ETag answers 304. (Through node:http: Node's
    // fetch() adds `pragma: no-cache` and `cache-control: no-cache` to a conditional request,
    // which asks the server for the whole page.)
    const page = await fetch(`${withClient.url}/`);
    await page.arrayBuffer();
    const status = await new Promise<number | undefined>((resolve, reject) => {
      http
        .get(`${withClient.url}/`, { headers: { 'if-none-match': page.headers.get('etag')! } }, (response) => {
          response.resume();
          resolve(response.statusCode);
        })
        .on('error', reject);
    });
    assert.equal(status, 304);
  } finally {
    await withClient.close();
    await rm(clientDir, { recursive: true, force: true });
  }
});
