// tickscope/client (client/api), as a script uses it, against a real control server and session
// processes: connect, query (an Arrow table equal to the session's answer), download, cancel, a
// bad request refused by name, and a session deleted under the client replaced on the next query.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tableFromIPC } from 'apache-arrow';
import { TickscopeClient, TickscopeError } from '../../client/api/index.js';
import type { ControlServer } from '../../server/control/app.js';
import { eventually, startTestServer } from '../support/control-server.js';
import { SessionClient, createSession, rowsOf } from '../support/session-client.js';

let server: ControlServer;

before(async () => {
  server = await startTestServer({ poolSize: 2 });
});

after(async () => {
  await server?.close();
});

test('connect and query: the dataset from the hello, any query as one Arrow table', async () => {
  const client = await TickscopeClient.open(server.url);
  try {
    assert.equal(client.dataset.id, 'tiny');
    assert.ok(client.dataset.runs.length >= 1 && client.dataset.sectors.length >= 1);
    const sector = client.dataset.sectors[0]!;
    const { table, done } = await client.query('export', { table: 'trades', filters: { sectors: [sector] } });
    assert.equal(table.numRows, done.rows);
    assert.ok(table.numRows > 0);
    assert.ok(table.toArray().every((row) => row.sector === sector));
    // The same as the protocol's own answer (the tests' socket client, another session).
    const { wsUrl } = await createSession(server.url, { key: 'client-api-reference' });
    const reference = await SessionClient.connect(server.url, wsUrl);
    try {
      const expected = rowsOf(await reference.ask('export', { table: 'trades', filters: { sectors: [sector] } }));
      assert.deepEqual(table.toArray().map((r) => `${r.run_id}/${r.trade_id}/${r.pnl}`), expected.map((r) => `${r.run_id}/${r.trade_id}/${r.pnl}`));
    } finally {
      await reference.close();
    }
    // An answer of several parts keeps them apart.
    const series = await client.query('series', { symbol: (await client.query('breakdown', { by: 'symbol', limit: 1 })).table.get(0)!.key as string, width: 200 });
    assert.ok(series.parts.size >= 2, `parts: ${[...series.parts.keys()].join(', ')}`);
  } finally {
    await client.close({ end: true });
  }
});

test('download: a table as a file, and a bad request refused with its code and the reason', async () => {
  const client = await TickscopeClient.open(server.url);
  try {
    const file = await client.download('trades', { filters: { sides: ['short'] }, sort: { column: 'pnl', descending: true }, limit: 1 }, 'arrow');
    const table = tableFromIPC(file.bytes);
    assert.equal(table.numRows, file.rows);
    assert.match(file.name, /^tiny-trades\.arrows$/);
    const pnl = Array.from(table.getChild('pnl')!.toArray() as Float64Array);
    assert.deepEqual(pnl, [...pnl].sort((a, b) => b - a));
    await assert.rejects(client.query('breakdown', { by: 'symbol', limit: 10, runs: ['no-such-run'] }), (error: unknown) => {
      assert.ok(error instanceof TickscopeError);
      assert.equal(error.code, 'bad-params');
      assert.match(error.message, /no-such-run/);
      return true;
    });
  } finally {
    await client.close({ end: true });
  }
});

test('cancel: aborting a request stops it on the server; the client goes on', async () => {
  const client = await TickscopeClient.open(server.url);
  try {
    const whole = await client.query('export', { table: 'bars' });
    const controller = new AbortController();
    const pending = client.query('export', { table: 'bars' }, { signal: controller.signal });
    controller.abort();
    await assert.rejects(pending, (error: unknown) => error instanceof TickscopeError && error.code === 'cancelled');
    const next = await client.query('summary', {});
    assert.equal(next.table.numRows, client.dataset.runs.length);
    assert.ok(whole.table.numRows > 0);
  } finally {
    await client.close({ end: true });
  }
});

test('reconnect: the session deleted under the client is replaced by a new one on the next query', async () => {
  const client = await TickscopeClient.open(server.url);
  try {
    const first = client.sessionId;
    const before = await client.query('summary', {});
    await client.api.deleteSession(first);
    // Once it has ended (a deleted session drains first: answers already asked still come).
    assert.ok(await eventually(async () => (await client.api.listSessions()).find((s) => s.id === first)?.status === 'terminated', 10_000));
    const after = await client.query('summary', {});
    assert.notEqual(client.sessionId, first, 'a new session');
    assert.deepEqual(after.table.toArray().map((r) => r.total_pnl), before.table.toArray().map((r) => r.total_pnl));
  } finally {
    await client.close({ end: true });
  }
});

test("the README's script example runs as written against a server", async () => {
  const { readFile, writeFile, mkdtemp, rm, readdir } = await import('node:fs/promises');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const path = await import('node:path');
  const { repoRoot } = await import('../../fixtures/generate.js');
  const readme = await readFile(path.join(repoRoot(), 'README.md'), 'utf8');
  const example = /```js\n(\/\/ sector-trades\.mjs[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, 'the README has the sector-trades example');
  // Inside the clone (so that `tickscope/client` resolves to this package), against this server.
  const dir = await mkdtemp(path.join(repoRoot(), '.cache', 'readme-example-'));
  try {
    const script = path.join(dir, 'sector-trades.mjs');
    await writeFile(script, example.replace('http://127.0.0.1:8080', server.url));
    const { stdout } = await promisify(execFile)(process.execPath, [script], { cwd: dir });
    assert.match(stdout, /^\d+ trades of .+, P&L -?\d+\.\d\d\nwrote \d+ trades to tiny-trades\.csv\n$/);
    const csv = await readFile(path.join(dir, 'tiny-trades.csv'), 'utf8');
    const rows = Number(/wrote (\d+) trades/.exec(stdout)![1]);
    assert.equal(csv.trim().split('\n').length, rows + 1, 'a header and every trade');
    assert.deepEqual((await readdir(dir)).sort(), ['sector-trades.mjs', 'tiny-trades.csv']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
