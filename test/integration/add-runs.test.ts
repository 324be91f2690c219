// Adding runs to a prepared dataset (server/prepare/add-runs.ts): the new runs' files become a
// delta segment, not a full preparation, and every query answers as from a store prepared from
// all the files at once. Built from the sweep-small fixture rewritten one set of files per run
// (test/support/per-run-dataset.ts); two runs are added one after the other (a base and two
// deltas), the second the alphabetically first run, so it changes which run market_day takes
// each close from, and lands in front of every trade rank.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureFixtures, repoRoot } from '../../fixtures/generate.js';
import { prepareDataset, type PrepareProgress, type PrepareResult } from '../../server/prepare/prepare.js';
import { near } from '../support/checks.js';
import { withDb } from '../support/duckdb.js';
import type { DatasetInfo, SessionInfo } from '../../shared/http-api.js';
import { eventually, startTestServer } from '../support/control-server.js';
import { LocalSession, type Ask } from '../support/local-session.js';
import { SessionClient, createSession, defaultCaller, rowsOf } from '../support/session-client.js';
import { addRunFiles, fixtureRuns, moveRunFiles, writeMoreTrades, writePerRunDataset } from '../support/per-run-dataset.js';

const work = path.join(repoRoot(), '.cache', 'test-add-runs');
const dataset = path.join(work, 'dataset');
let fixture: string;
let runs: string[];
let added: string;
let addedFirst: string;
let grownOnce: PrepareResult;
let grown: PrepareResult;
let segmented: LocalSession;
let whole: LocalSession;

before(async () => {
  fixture = await ensureFixtures('sweep-small', 7);
  runs = await fixtureRuns(fixture);
  added = runs[0]!;
  addedFirst = runs[9]!;
  await rm(work, { recursive: true, force: true });
  await writePerRunDataset(fixture, dataset, runs.filter((r) => r !== added && r !== addedFirst));
  const first = await prepareDataset({ input: dataset, storeDir: path.join(work, 'stores') });
  assert.equal(first.segments, undefined, 'the first preparation is one store');
  // Two runs added one after the other: a base and two deltas.
  await addRunFiles(fixture, dataset, addedFirst);
  grownOnce = await prepareDataset({ input: dataset, storeDir: path.join(work, 'stores') });
  await addRunFiles(fixture, dataset, added);
  grown = await prepareDataset({ input: dataset, storeDir: path.join(work, 'stores') });
  segmented = await LocalSession.open(dataset, 1, { storeDir: path.join(work, 'stores') });
  whole = await LocalSession.open(dataset, 1, { storeDir: path.join(work, 'stores-whole') });
});

after(() => {
  segmented?.close();
  whole?.close();
});

test('the added run is prepared as a delta segment, not the whole dataset again', async () => {
  assert.equal(grownOnce.segments, 2);
  assert.deepEqual(grownOnce.addedRuns, [addedFirst]);
  assert.equal(grown.reused, false);
  assert.equal(grown.segments, 3);
  assert.deepEqual(grown.addedRuns, [added]);
  assert.deepEqual([...segmented.store.catalog.runs.keys()], runs);
  assert.deepEqual(segmented.store.catalog.runs.get(added), whole.store.catalog.runs.get(added));
  assert.equal(segmented.store.catalog.tradeCount, whole.store.catalog.tradeCount);
  // Preparing again finds the segments.
  const again = await prepareDataset({ input: dataset, storeDir: path.join(work, 'stores') });
  assert.equal(again.reused, true);
  assert.equal(again.storePath, grown.storePath);
});

/** Every part of both answers, row by row, numbers to 1e-9 relative (sums over runs in another order). */
async function sameAnswer(ask: Ask, what: string): Promise<void> {
  const [a, b] = await Promise.all([segmented.ask(ask), whole.ask(ask)]);
  assert.deepEqual([...a.parts.keys()], [...b.parts.keys()], `${what}: parts`);
  assert.ok([...b.parts.values()].some((rows) => rows.length > 0), `${what}: the whole store answers rows`);
  for (const [part, want] of b.parts) {
    const got = a.parts.get(part)!;
    assert.equal(got.length, want.length, `${what} ${part}: ${got.length} rows, want ${want.length}`);
    want.forEach((row, i) => {
      assert.deepEqual(Object.keys(got[i]!), Object.keys(row), `${what} ${part} row ${i}: columns`);
      for (const [k, v] of Object.entries(row)) near(typeof got[i]![k] === 'bigint' ? Number(got[i]![k]) : got[i]![k], typeof v === 'bigint' ? Number(v) : v, `${what} ${part} row ${i} ${k}`);
    });
  }
  assert.equal(a.outcome.total, b.outcome.total, `${what}: total`);
}

function scopes(): [string, Record<string, unknown>][] {
  const days = whole.store.catalog.days;
  const mid = Math.floor(days.length / 2);
  return [
    ['everything', {}],
    ['the added runs and another', { runs: [added, addedFirst, runs[5]!] }],
    ['a range', { from: days[3]!.first, to: days[mid]!.last }],
    ['a sector', { filters: { sectors: [[...whole.store.catalog.sectors][1]!] } }],
  ];
}

test('summary, equity, breakdown, episodes, attribution, risk, benchmark and leaderboard answer as one store does', async () => {
  for (const [name, scope] of scopes()) {
    await sameAnswer({ query: 'summary', params: scope } as Ask, `summary ${name}`);
    await sameAnswer({ query: 'equity', params: { ...scope, width: 200 } } as Ask, `equity ${name}`);
    await sameAnswer({ query: 'breakdown', params: { ...scope, by: 'symbol', limit: 1000 } } as Ask, `breakdown by symbol ${name}`);
    await sameAnswer({ query: 'breakdown', params: { ...scope, by: 'sector', limit: 100 } } as Ask, `breakdown by sector ${name}`);
    await sameAnswer({ query: 'episodes', params: { ...scope, limit: 50 } } as Ask, `episodes ${name}`);
    await sameAnswer({ query: 'attribution', params: scope } as Ask, `attribution ${name}`);
    await sameAnswer({ query: 'risk', params: scope } as Ask, `risk ${name}`);
    await sameAnswer({ query: 'benchmark', params: scope } as Ask, `benchmark ${name}`);
    await sameAnswer({ query: 'leaderboard', params: { ...scope, limit: 100, sort: { column: 'sharpe', descending: true } } } as Ask, `leaderboard ${name}`);
  }
});

test('trade windows (sorted, at several offsets) and the scatter answer as one store does', async () => {
  const total = whole.store.catalog.tradeCount;
  for (const [name, scope] of scopes()) {
    for (const column of ['entry_ts', 'pnl', 'ret', 'symbol', 'run_id']) {
      for (const descending of [false, true]) {
        for (const offset of [0, 37, Math.floor(total / 2)]) {
          const ask = { query: 'trades', params: { ...scope, sort: { column, descending }, offset, limit: 25 } } as Ask;
          const [a, b] = await Promise.all([segmented.ask(ask), whole.ask(ask)]);
          assert.equal(a.outcome.total, b.outcome.total, `trades ${name} ${column} ${offset}: total`);
          assert.deepEqual(a.rows.map((r) => [r['run_id'], r['trade_id']]), b.rows.map((r) => [r['run_id'], r['trade_id']]), `trades ${name} by ${column}${descending ? ' desc' : ''} at ${offset}`);
        }
      }
    }
    await sameAnswer({ query: 'scatter', params: scope } as Ask, `scatter ${name}`);
  }
});

async function prepareLog(storeDir: string): Promise<{ result: PrepareResult; phases: string[] }> {
  const phases: string[] = [];
  const result = await prepareDataset({ input: dataset, storeDir, onProgress: (p: PrepareProgress) => phases.push(p.phase) });
  return { result, phases };
}

test('a changed old file, or a new file of a run the dataset has, prepares the whole dataset again', async () => {
  const storeDir = path.join(work, 'stores');
  // A new trades file for an existing run.
  const extra = path.join(dataset, 'trades', `${runs[3]!}-more.parquet`);
  await writeMoreTrades(dataset, runs[3]!, extra);
  const existing = await prepareLog(storeDir);
  assert.equal(existing.result.segments, undefined, 'a full preparation');
  assert.ok(existing.phases.some((p) => p.includes(`run ${runs[3]!}, which the dataset already has`)), existing.phases.join('\n'));
  // The deltas the full preparation replaced are gone; the refused delta left nothing behind.
  assert.deepEqual((await readdir(storeDir)).filter((n) => n.includes('.delta.duckdb')), []);
  await rm(extra);
  assert.equal((await prepareLog(storeDir)).result.segments, undefined, 'a file gone: a full preparation');
  // An old file rewritten (its time changes).
  const old = path.join(dataset, 'runs', `${runs[4]!}.parquet`);
  const later = new Date(Date.now() + 5_000);
  await utimes(old, later, later);
  const changed = await prepareLog(storeDir);
  assert.equal(changed.result.segments, undefined, 'a full preparation');
  assert.ok(changed.phases.some((p) => p.includes(`runs/${runs[4]!}.parquet changed since it was prepared`)), changed.phases.join('\n'));
});

test('the control server notices a new run in a served folder and offers it to an open tab, without a restart', async () => {
  const served = path.join(work, 'served');
  const newRun = runs[1]!;
  await writePerRunDataset(fixture, served, runs.filter((r) => r !== newRun));
  const server = await startTestServer({ datasets: [{ id: 'sweep', input: served }], storeDir: path.join(work, 'stores-served'), newRunsPollMs: 200 });
  try {
    const created = await createSession(server.url, { key: 'sweep-tab', dataset: 'sweep' });
    const tab = await SessionClient.connect(server.url, created.wsUrl);
    assert.ok(!tab.hello.dataset.runs.some((r) => r.runId === newRun));
    // The tab's status stream: its states, then the runs added after its store was opened.
    const status = await defaultCaller(server.url).fetch(`/api/sessions/${created.id}/status`);
    const offered = readEvent(status, 'runs');
    const staging = path.join(work, 'staging');
    await writePerRunDataset(fixture, staging, [newRun]);
    await moveRunFiles(staging, served, newRun);
    const offer = JSON.parse(await offered) as { revision: number; runs: string[] };
    assert.deepEqual(offer, { revision: 1, runs: [newRun] });
    const [info] = (await (await defaultCaller(server.url).fetch('/api/datasets')).json()) as DatasetInfo[];
    assert.equal(info!.revision, 1);
    assert.deepEqual(info!.addedRuns, [newRun]);
    // A reload (the same key) opens the new store; the old session ends as dataset-grown.
    const reloaded = await createSession(server.url, { key: 'sweep-tab', dataset: 'sweep' });
    assert.notEqual(reloaded.id, created.id);
    const fresh = await SessionClient.connect(server.url, reloaded.wsUrl);
    assert.deepEqual(fresh.hello.dataset.runs.map((r) => r.runId), runs);
    const summary = await fresh.request({ query: 'summary', params: { runs: [newRun] } });
    assert.equal(summary.error, null);
    assert.ok(rowsOf(summary).length > 0);
    const listed = (await (await defaultCaller(server.url).fetch('/api/sessions')).json()) as SessionInfo[];
    assert.equal(listed.find((s) => s.id === created.id)?.reason, 'dataset-grown');
    tab.socket.close();
    fresh.socket.close();
  } finally {
    await server.close();
  }
});

test('a new file that fails is tried once, not at every poll, until the folder changes; the store keeps serving', async () => {
  const served = path.join(work, 'served-corrupt');
  await writePerRunDataset(fixture, served, runs.slice(0, 3));
  const events: string[] = [];
  const server = await startTestServer({
    datasets: [{ id: 'sweep', input: served }],
    storeDir: path.join(work, 'stores-corrupt'),
    newRunsPollMs: 100,
    logger: { level: 'info', stream: { write: (line) => void events.push(String(JSON.parse(line).event)) } },
  });
  const count = (event: string) => events.filter((e) => e === event).length;
  const thirtyPolls = () => new Promise((resolve) => setTimeout(resolve, 3000));
  try {
    const ready = async () => ((await (await defaultCaller(server.url).fetch('/api/datasets')).json()) as DatasetInfo[])[0]!.state === 'ready';
    assert.ok(await eventually(ready, 120_000), 'the dataset was prepared');
    // A file that is not Parquet: the listing itself fails, said once.
    const broken = path.join(served, 'trades', 'broken.parquet');
    await writeFile(broken, 'not a parquet file');
    assert.ok(await eventually(() => count('dataset.grow-failed') === 1, 60_000), 'the broken file was reported');
    await thirtyPolls();
    assert.equal(count('dataset.grow-failed'), 1, events.join(' '));
    // Parquet without a trade's columns: listed, prepared once, failed once, not prepared again.
    // Written beside the folder and moved in, so that no poll sees a half-written file (which is
    // a change of its own, tried again once complete).
    const staged = path.join(work, 'staged-foo.parquet');
    await withDb(':memory:', async (q) => void (await q(`COPY (SELECT 1 AS foo) TO '${staged}' (FORMAT parquet)`)));
    await rename(staged, broken);
    assert.ok(await eventually(() => count('dataset.grow-failed') === 2, 60_000), 'the changed folder was tried again');
    await thirtyPolls();
    assert.equal(count('dataset.growing'), 1, events.join(' '));
    assert.equal(count('dataset.grow-failed'), 2, events.join(' '));
    assert.ok(await ready(), 'the prepared store still serves');
  } finally {
    await server.close();
  }
});

/** The data of the first server-sent event named `name` in a streaming response. */
async function readEvent(response: Response, name: string): Promise<string> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the status stream ended without a ${name} event: ${text}`);
    text += decoder.decode(value, { stream: true });
    const match = new RegExp(`^event: ${name}\\ndata: (.*)$`, 'm').exec(text);
    if (match) {
      await reader.cancel();
      return match[1]!;
    }
  }
}
