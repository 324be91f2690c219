// The answers the sessions of a store share (server/session/answer-cache.ts): a request answered
// by one runner is read back by another, byte for byte, without DuckDB; a damaged file is a miss
// and is replaced; the folder follows the store's identity; the budget evicts the least recently
// used; a folder that cannot be made turns the cache off instead of failing the session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import { AnswerCache, answerFolder, answerKey, decodeAnswer, encodeAnswer, type AnswerCacheOptions } from '../../server/session/answer-cache.js';
import { CancelledError } from '../../server/session/cancelled.js';
import type { QueryOutcome } from '../../server/session/query-outcome.js';
import { QueryRunner } from '../../server/session/query-runner.js';
import type { Planner } from '../../server/session/queries/plan.js';

let tmp = '';
let storePath = '';
let instance: DuckDBInstance;
const logged: { level: string; message: string }[] = [];
const log: AnswerCacheOptions['log'] = (level, message) => void logged.push({ level, message });

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-answers-'));
  storePath = path.join(tmp, '0123456789abcdef.duckdb');
  await writeFile(storePath, 'a store');
  instance = await DuckDBInstance.create(':memory:');
});
after(async () => {
  instance.closeSync();
  await rm(tmp, { recursive: true, force: true });
});

/** A planner whose answer is `n` rows, counting how often it was planned (a hit plans nothing). */
function counted(n: number): { planner: Planner; plans: () => number } {
  let plans = 0;
  return {
    planner: async () => {
      plans++;
      return { statements: [{ sql: `SELECT range AS i, (range * 0.5)::DOUBLE AS x FROM range(${n})`, params: {} }], source: 'range', notes: ['a note'], total: n };
    },
    plans: () => plans,
  };
}

async function answer(runner: QueryRunner, planner: Planner, cacheKey: string, signal = new AbortController().signal): Promise<{ outcome: QueryOutcome; batches: Uint8Array[] }> {
  const batches: Uint8Array[] = [];
  const outcome = await runner.run({ planner, cacheKey, signal, batchRows: 1000, onBatch: async (ipc) => void batches.push(ipc) });
  return { outcome, batches };
}

/** The whole answers under `dir`: a write in progress (a temporary name, renamed when done) is not one yet. */
async function answerFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const folder of await readdir(dir).catch(() => [])) {
    for (const name of await readdir(path.join(dir, folder))) if (!name.includes('.tmp-')) out.push(path.join(dir, folder, name));
  }
  return out;
}

async function until(predicate: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200 && !(await predicate()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(await predicate(), `${what}: not so within 2 s`);
}

test('the key is the query and its parameters, whatever their order; the id is not part of it', () => {
  const a = answerKey({ query: 'summary', params: { from: 1, to: 2, filters: { sectors: ['X'], sides: ['long'] } } } as never);
  const b = answerKey({ query: 'summary', params: { filters: { sides: ['long'], sectors: ['X'] }, to: 2, from: 1 } } as never);
  assert.equal(a, b);
  assert.notEqual(a, answerKey({ query: 'summary', params: { from: 1, to: 3 } } as never));
  assert.notEqual(a, answerKey({ query: 'equity', params: { from: 1, to: 2, filters: { sectors: ['X'], sides: ['long'] } } } as never));
  // Run order is kept: it is the order of the answer's rows.
  assert.notEqual(answerKey({ query: 'summary', params: { runs: ['a', 'b'] } } as never), answerKey({ query: 'summary', params: { runs: ['b', 'a'] } } as never));
});

test('a file holds its key, outcome and batches; damaged bytes say what is wrong', () => {
  const outcome = { rows: 3, batches: 2, bytes: 7, timings: { planMs: 1, executeMs: 2, encodeMs: 3 }, source: 's', notes: [], approximate: false };
  const batches = [Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5, 6, 7)];
  const bytes = encodeAnswer('k', { outcome, batches });
  const back = decodeAnswer(bytes, 'k');
  assert.ok(typeof back !== 'string', String(back));
  assert.deepEqual(back.outcome, outcome);
  assert.deepEqual(back.batches.map((b) => [...b]), [[1, 2, 3], [4, 5, 6, 7]]);
  assert.match(decodeAnswer(bytes, 'other') as string, /another request/);
  assert.match(decodeAnswer(bytes.subarray(0, bytes.byteLength - 1), 'k') as string, /batch 1 runs past the end/);
  assert.match(decodeAnswer(Buffer.concat([bytes, Buffer.of(0)]), 'k') as string, /1 bytes follow the last batch/);
  assert.match(decodeAnswer(Buffer.from('garbage'), 'k') as string, /not an answer file/);
});

test('an answer computed by one runner is read by another: same bytes, cached, no planning', async () => {
  const dir = path.join(tmp, 'shared');
  const cacheA = await AnswerCache.open({ dir, storePath, log, minCostMs: 0 });
  const cacheB = await AnswerCache.open({ dir, storePath, log, minCostMs: 0 });
  assert.ok(cacheA && cacheB);
  assert.equal(cacheA.folder, cacheB.folder);
  const first = new QueryRunner(instance, 1, { answers: cacheA });
  const second = new QueryRunner(instance, 1, { answers: cacheB });
  try {
    const key = answerKey({ query: 'summary', params: { limit: 2500 } } as never);
    const a = counted(2500);
    const computed = await answer(first, a.planner, key);
    assert.equal(computed.outcome.cached, undefined);
    assert.ok(computed.batches.length >= 2, `${computed.batches.length} batches`);
    await until(async () => (await answerFiles(dir)).length === 1, 'the first answer written');
    const b = counted(2500);
    const read = await answer(second, b.planner, key);
    assert.equal(b.plans(), 0, 'the second runner planned nothing');
    assert.equal(read.outcome.cached, true);
    assert.deepEqual(read.batches.map((x) => Buffer.from(x)), computed.batches.map((x) => Buffer.from(x)));
    const last = tableFromIPC(read.batches.at(-1)!);
    assert.equal(last.getChild('x')!.get(last.numRows - 1), 2499 * 0.5);
    const { timings, cached, ...same } = read.outcome;
    const { timings: _, ...original } = computed.outcome;
    assert.deepEqual(same, original);
    assert.ok(cached && timings.planMs === 0 && timings.encodeMs === 0);
    assert.equal(second.stats.answerHits, 1);
    assert.equal(first.stats.answersKept, 1);
    // Another request is not answered from it.
    const c = counted(10);
    assert.equal((await answer(second, c.planner, answerKey({ query: 'summary', params: { limit: 10 } } as never))).outcome.cached, undefined);
    assert.equal(c.plans(), 1);
    // A request cancelled before its kept answer is sent gets nothing.
    const controller = new AbortController();
    controller.abort('gone');
    await assert.rejects(answer(second, counted(2500).planner, key, controller.signal), CancelledError);
    // Without a key (a download, a look-up of the runner's own) nothing is read.
    const d = counted(2500);
    const batches: Uint8Array[] = [];
    assert.equal((await second.run({ planner: d.planner, signal: new AbortController().signal, onBatch: async (ipc) => void batches.push(ipc) })).cached, undefined);
    assert.equal(d.plans(), 1);
  } finally {
    first.close();
    second.close();
  }
});

test('a cheap answer is not kept; a damaged file is a miss, logged, and replaced by a whole one', async () => {
  const dir = path.join(tmp, 'damaged');
  const cheap = await AnswerCache.open({ dir, storePath, log, minCostMs: 60_000 });
  const runner = new QueryRunner(instance, 1, { answers: cheap });
  await answer(runner, counted(5).planner, 'cheap');
  runner.close();
  assert.equal((await answerFiles(dir)).length, 0, 'an answer cheaper than the threshold is not written');

  const cache = (await AnswerCache.open({ dir, storePath, log, minCostMs: 0 }))!;
  const writer = new QueryRunner(instance, 1, { answers: cache });
  try {
    const first = await answer(writer, counted(100).planner, 'k');
    await until(async () => (await answerFiles(dir)).length === 1, 'the answer written');
    const [file] = await answerFiles(dir);
    await truncate(file!, 30);
    logged.length = 0;
    const again = counted(100);
    const recomputed = await answer(writer, again.planner, 'k');
    assert.equal(again.plans(), 1);
    assert.equal(recomputed.outcome.cached, undefined);
    assert.ok(logged.some((l) => l.level === 'warn' && /damaged/.test(l.message)), JSON.stringify(logged));
    await until(async () => (await readFile(file!).catch(() => Buffer.alloc(0))).byteLength > 30, 'the damaged file replaced');
    const whole = decodeAnswer(await readFile(file!), 'k');
    assert.ok(typeof whole !== 'string', String(whole));
    assert.deepEqual(whole.batches.map((b) => Buffer.from(b)), first.batches.map((b) => Buffer.from(b)));
  } finally {
    writer.close();
  }
});

test("the folder follows the store's identity: a republished store gets another one", async () => {
  const dir = path.join(tmp, 'identity');
  const before = await answerFolder(dir, storePath);
  assert.equal(await answerFolder(dir, storePath), before);
  assert.match(path.basename(before), /^0123456789abcdef-[0-9a-f]{16}$/);
  const later = new Date(Date.now() + 5000);
  await utimes(storePath, later, later);
  assert.notEqual(await answerFolder(dir, storePath), before);
  // A segment manifest: its text is part of the identity too.
  const manifest = path.join(tmp, 'fedcba9876543210.segments.json');
  await writeFile(manifest, '{"segments":[{"store":"a.duckdb"}]}');
  const one = await answerFolder(dir, manifest);
  await writeFile(manifest, '{"segments":[{"store":"b.duckdb"}]}');
  const fixed = new Date(1_700_000_000_000);
  await utimes(manifest, fixed, fixed);
  const two = await answerFolder(dir, manifest);
  await writeFile(manifest, '{"segments":[{"store":"a.duckdb"}]}');
  await utimes(manifest, fixed, fixed);
  assert.notEqual(await answerFolder(dir, manifest), two, 'same size and time, other segments');
  assert.match(path.basename(one), /^fedcba9876543210-/);
});

test('over its budget the folder loses the least recently used answers first', async () => {
  const dir = path.join(tmp, 'budget');
  const probe = (await AnswerCache.open({ dir: path.join(tmp, 'probe'), storePath, log, minCostMs: 0 }))!;
  const probeRunner = new QueryRunner(instance, 1, { answers: probe });
  await answer(probeRunner, counted(1000).planner, 'size');
  probeRunner.close();
  await until(async () => (await answerFiles(path.join(tmp, 'probe'))).length === 1, 'the probe written');
  const [probeFile] = await answerFiles(path.join(tmp, 'probe'));
  const size = (await readFile(probeFile!)).byteLength;

  // Room for two answers of 1,000 rows, not three.
  const cache = (await AnswerCache.open({ dir, storePath, log, minCostMs: 0, budgetBytes: Math.floor(size * 2.9) }))!;
  const runner = new QueryRunner(instance, 1, { answers: cache });
  try {
    await answer(runner, counted(1000).planner, 'old');
    await answer(runner, counted(1000).planner, 'used');
    await until(async () => (await answerFiles(dir)).length === 2, 'two answers written');
    const past = new Date(Date.now() - 60_000);
    for (const file of await answerFiles(dir)) await utimes(file, past, past);
    // A hit makes 'used' recent; 'old' stays the least recently used.
    assert.equal((await answer(runner, counted(1000).planner, 'used')).outcome.cached, true);
    const fileOf = (key: string) => path.join(cache.folder, `${createHash('sha256').update(key).digest('hex')}.answer`);
    await until(async () => (await stat(fileOf('used'))).mtimeMs > Date.now() - 30_000, 'the hit marked the file used');
    await answer(runner, counted(1000).planner, 'new');
    // The answer is written after it is sent: until then the folder still holds two, the old ones.
    await until(async () => {
      const files = await answerFiles(dir);
      return files.length === 2 && files.includes(fileOf('new'));
    }, 'the eviction done');
    const fresh = counted(1000);
    assert.equal((await answer(runner, fresh.planner, 'used')).outcome.cached, true, 'the recently used answer stayed');
    const old = counted(1000);
    assert.equal((await answer(runner, old.planner, 'old')).outcome.cached, undefined, 'the least recently used answer went');
    assert.equal(old.plans(), 1);
  } finally {
    runner.close();
  }
});

test('a folder that cannot be made turns the cache off, with a warning', async () => {
  const blocked = path.join(tmp, 'a-file');
  await writeFile(blocked, 'not a folder');
  logged.length = 0;
  assert.equal(await AnswerCache.open({ dir: blocked, storePath, log }), null);
  assert.ok(logged.some((l) => l.level === 'warn' && /answer cache is off/.test(l.message)), JSON.stringify(logged));
});
