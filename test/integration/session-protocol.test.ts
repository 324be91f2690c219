// The protocol over a real socket: a control server, a real session process, the Node client.
// Every query answers over the wire exactly what the in-process path answers (queries.test.ts
// checks those against an independent computation); bad input gets an error and the socket stays
// usable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { PROTOCOL_VERSION, QUERY_NAMES } from '../../shared/constants.js';
import type { ControlServer } from '../../server/control/app.js';
import { startTestServer } from '../support/control-server.js';
import { tinyDataset } from '../support/datasets.js';
import { LocalSession, type Ask } from '../support/local-session.js';
import { SessionClient, createSession, rowsOf } from '../support/session-client.js';

let server: ControlServer;
let local: LocalSession;
let client: SessionClient;

before(async () => {
  server = await startTestServer();
  local = await LocalSession.open(await tinyDataset());
  const { wsUrl } = await createSession(server.url, { key: 'protocol-test' });
  client = await SessionClient.connect(server.url, wsUrl);
});

after(async () => {
  await client?.close();
  local?.close();
  await server?.close();
});

test('hello carries the protocol version and the dataset schema with its allow-lists', async () => {
  const { protocol, dataset } = client.hello;
  assert.equal(protocol, PROTOCOL_VERSION);
  assert.deepEqual(dataset.runs.map((r) => r.runId), [...local.store.catalog.runs.keys()]);
  // In the order the runs table lists them (the fixture lists base before alt), not alphabetical.
  const listed = tableFromIPC(await readFile(path.join(await tinyDataset(), 'runs.arrow'))).toArray().map((r) => String(r.run_id));
  assert.deepEqual(dataset.runs.map((r) => r.runId), listed);
  assert.notDeepEqual(listed, [...listed].sort(), 'the fixture lists its runs out of alphabetical order');
  for (const run of dataset.runs) assert.ok(run.capital !== null && run.capital > 0 && run.capitalSource.length > 0);
  assert.deepEqual(dataset.sectors, [...local.store.catalog.sectors]);
  assert.ok(dataset.tags.length > 0 && dataset.dayCount === local.store.catalog.days.length);
  assert.ok(dataset.symbolCount > 0 && dataset.barCount > 0 && dataset.tradeCount > 0 && dataset.range);
});

test('every query, all in flight at once on one socket, answers over the wire what the session computes', async () => {
  const symbol = [...local.store.catalog.symbols.keys()][2]!;
  const days = local.store.catalog.days;
  const range = { from: days[1]!.first + 3_600_000, to: days[6]!.last - 3_600_000 };
  const asks: Ask[] = [
    { query: 'summary', params: { ...range, filters: { sides: ['short'] } } },
    { query: 'equity', params: { width: 300, filters: { sectors: [client.hello.dataset.sectors[0]!] } } },
    { query: 'exposure', params: { ...range, width: 200 } },
    { query: 'breakdown', params: { ...range, by: 'symbol', sort: { column: 'win_rate', descending: true }, offset: 2, limit: 10 } },
    { query: 'series', params: { symbol, width: 120 } },
    { query: 'trades', params: { ...range, sort: { column: 'mfe' }, offset: 5, limit: 25 } },
    { query: 'histogram', params: { field: 'holding_ms', bins: 12 } },
    { query: 'heatmap', params: {} },
    { query: 'rolling', params: { window: 4 } },
    { query: 'export', params: { table: 'trades' } },
    { query: 'episodes', params: { ...range, limit: 5 } },
    { query: 'attribution', params: { ...range, sector: client.hello.dataset.sectors[1]! } },
    { query: 'risk', params: { ...range, riskFreeRate: 0.02 } },
    { query: 'benchmark', params: range },
    { query: 'scatter', params: range },
    { query: 'leaderboard', params: { ...range, sort: { column: 'sharpe', descending: true }, limit: 10 } },
    { query: 'surface', params: { ...range, x: Object.keys(client.hello.dataset.runs[0]!.params)[0]!, metric: 'deflated_sharpe' } },
    { query: 'rundiff', params: { ...range, a: client.hello.dataset.runs[0]!.runId, b: client.hello.dataset.runs[1]!.runId, limit: 20 } },
  ];
  assert.deepEqual(asks.map((a) => a.query).sort(), [...QUERY_NAMES].sort());
  const answers = await Promise.all(asks.map((a) => client.request(a)));
  for (const [i, answer] of answers.entries()) {
    const query = asks[i]!.query;
    assert.equal(answer.error, null, `${query}: ${answer.error?.message}`);
    const want = await local.ask(asks[i]!);
    assert.equal(answer.done!.rows, want.outcome.rows, query);
    assert.equal(answer.done!.total, want.outcome.total, query);
    for (const [part, rows] of want.parts) {
      assert.deepEqual(JSON.stringify(rowsOf(answer, part), bigints), JSON.stringify(rows, bigints), `${query} ${part}`);
    }
    assert.ok(answer.wireBytes >= answer.done!.bytes, `${query}: every byte announced arrived`);
    assert.ok(answer.done!.timings.executeMs >= 0);
  }
});

const bigints = (_key: string, value: unknown) => (typeof value === 'bigint' ? Number(value) : value);

test('bad input over the wire: an error with the id and a reason, the socket and the process stay', async () => {
  const bad = await client.sendRaw(JSON.stringify({ type: 'request', id: 500, query: 'trades', params: { limit: 100_000_000 } }), 500)!;
  assert.equal(bad.error?.code, 'bad-message');
  assert.match(bad.error!.message, /limit/);
  const unknown = await client.sendRaw(JSON.stringify({ type: 'request', id: 501, query: 'breakdown', params: { by: 'sector', limit: 5, sort: { column: 'secret' } } }), 501)!;
  assert.match(unknown.error!.message, /column/);
  const huge = await client.sendRaw(JSON.stringify({ type: 'request', id: 502, query: 'summary', params: {}, pad: 'x'.repeat(2 * 1024 * 1024) }), 502)!;
  assert.equal(huge.error?.code, 'bad-message');
  assert.match(huge.error!.message, /larger than/);
  client.sendRaw('definitely not json');
  const after = await client.request({ query: 'summary', params: {} });
  assert.ok(after.done, 'the socket is still usable');
  assert.ok(client.errorsWithoutRequest.some((e) => /not JSON/.test(e.message)));
});

test('cancel over the wire stops the request: cancelled before it could have completed, nothing after, the session free', async () => {
  // The whole answer first: what a cancel must cut short.
  const full = await client.request({ query: 'export', params: { table: 'bars' } });
  assert.ok(full.done && full.done.rows > 0 && full.tables.length > 0, JSON.stringify(full.error));
  const id = client.peekId();
  const pending = client.request({ query: 'export', params: { table: 'bars' } });
  client.cancel(id);
  const answer = await pending;
  assert.equal(answer.done, null, 'a cancelled request never answers done');
  assert.equal(answer.error?.code, 'cancelled', JSON.stringify(answer.error));
  assert.ok(answer.elapsedMs < full.elapsedMs, `cancelled after ${answer.elapsedMs} ms; the whole answer took ${full.elapsedMs} ms`);
  const rows = answer.tables.reduce((n, table) => n + table.numRows, 0);
  assert.ok(answer.tables.length < full.tables.length && rows < full.done.rows, `${answer.tables.length} batches, ${rows} rows arrived`);
  // The session is free at once (its DuckDB connection was given back, not left streaming) ...
  const next = await client.request({ query: 'summary', params: {} });
  assert.ok(next.done, JSON.stringify(next.error));
  assert.ok(next.elapsedMs < full.elapsedMs, `the next request took ${next.elapsedMs} ms`);
  // ... and the cancelled query sends nothing more, however long the whole answer would have taken.
  await new Promise((resolve) => setTimeout(resolve, full.elapsedMs));
  assert.equal(client.arrivedAfterAnswer(id), 0, 'frames of the cancelled request after its error');
});
