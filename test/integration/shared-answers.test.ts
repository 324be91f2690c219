// The answers the sessions of a store share, through the real control server and session
// processes: a second tab's session answers a request the first tab's computed from the store's
// answer folder (done.cached), with the same rows; a server started without it leaves no folder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ControlServer } from '../../server/control/app.js';
import { ANSWERS_FOLDER } from '../../server/store/format.js';
import { tinyDataset } from '../support/datasets.js';
import { eventually, startTestServer } from '../support/control-server.js';
import { SessionClient, createSession, rowsOf } from '../support/session-client.js';

let tmp = '';
const servers: ControlServer[] = [];
const clients: SessionClient[] = [];

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-shared-answers-'));
});
after(async () => {
  for (const client of clients) await client.close();
  for (const server of servers) await server.close();
  await rm(tmp, { recursive: true, force: true });
});

async function tab(server: ControlServer, key: string): Promise<SessionClient> {
  const { wsUrl } = await createSession(server.url, { key });
  const client = await SessionClient.connect(server.url, wsUrl);
  clients.push(client);
  return client;
}

async function answerFiles(storeDir: string): Promise<string[]> {
  const dir = path.join(storeDir, ANSWERS_FOLDER);
  const files: string[] = [];
  for (const folder of await readdir(dir).catch(() => [])) for (const name of await readdir(path.join(dir, folder))) files.push(name);
  return files;
}

test("a second tab's session reads the answer the first tab's computed, exactly", async () => {
  const storeDir = path.join(tmp, 'on');
  const server = await startTestServer({ storeDir, answerCache: { minCostMs: 0 }, datasets: [{ id: 'tiny', input: await tinyDataset() }] });
  servers.push(server);
  const first = await tab(server, 'first');
  const ask = { query: 'breakdown', params: { by: 'symbol', sort: { column: 'pnl', descending: true }, limit: 20 } } as const;
  const computed = await first.request(ask);
  assert.equal(computed.done?.cached, undefined, JSON.stringify(computed.error));
  assert.ok(await eventually(async () => (await answerFiles(storeDir)).length >= 1), 'the answer was written');

  const second = await tab(server, 'second');
  assert.notEqual(second.hello.sessionId, first.hello.sessionId);
  // The same request with its parameters in another order.
  const read = await second.request({ query: 'breakdown', params: { limit: 20, sort: { descending: true, column: 'pnl' }, by: 'symbol' } });
  assert.equal(read.done?.cached, true);
  assert.equal(read.done?.rows, computed.done?.rows);
  assert.equal(read.done?.total, computed.done?.total);
  assert.deepEqual(rowsOf(read), rowsOf(computed));
  assert.ok(rowsOf(read).length > 0);
  // Another request is computed.
  const other = await second.request({ query: 'breakdown', params: { by: 'sector', limit: 20 } });
  assert.equal(other.done?.cached, undefined);
});

test('a server started without the shared answers writes none and reads none', async () => {
  const storeDir = path.join(tmp, 'off');
  const server = await startTestServer({ storeDir, datasets: [{ id: 'tiny', input: await tinyDataset() }] });
  servers.push(server);
  const first = await tab(server, 'off-first');
  const ask = { query: 'summary', params: {} } as const;
  assert.equal((await first.request(ask)).done?.cached, undefined);
  const second = await tab(server, 'off-second');
  assert.equal((await second.request(ask)).done?.cached, undefined);
  assert.deepEqual(await readdir(path.join(storeDir, ANSWERS_FOLDER)).catch((error: NodeJS.ErrnoException) => error.code), 'ENOENT');
});
