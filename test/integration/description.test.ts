// The dataset description (tickscope.json beside the data) is read by every command: prepare (API
// and CLI), serve (the control server's on-demand preparation, and the CLI's flags), inspect;
// --mapping FILE overrides it. The store is reused for the same inputs and description and built
// again when the description changes; the store's meta table records it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DatasetInfo } from '../../shared/http-api.js';
import { DatasetCatalog } from '../../server/control/dataset-catalog.js';
import { inspectDataset } from '../../server/prepare/inspect.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { mem, withDb } from '../support/duckdb.js';
import { CLI_ENTRY as CLI } from '../support/cli.js';

const run = promisify(execFile);

let tmp = '';
/** Bars whose time and symbol columns go by names no alias knows: When, Code. */
let renamed = '';

const DESCRIPTION = { bars: { ts: 'When', symbol: 'Code' } };

async function parquet(file: string, select: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await mem((q) => q(`COPY (${select}) TO '${file}' (FORMAT parquet)`));
}

async function renamedDataset(dir: string): Promise<string> {
  await parquet(
    path.join(dir, 'bars.parquet'),
    `SELECT TIMESTAMP '2024-03-01 09:00:00' + to_minutes((5 * i)::INTEGER) AS "When", 'AAA' AS "Code", 10.0 + i AS close,
       2.0 AS shares, 0.25 * i AS profit FROM range(6) t(i)`,
  );
  return dir;
}

async function meta(storePath: string): Promise<Record<string, string>> {
  return withDb(storePath, async (q) => Object.fromEntries((await q(`SELECT key, value FROM meta`)).map((r) => [String(r['key']), String(r['value'])])));
}

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-description-'));
  renamed = await renamedDataset(path.join(tmp, 'renamed'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('prepare reads tickscope.json beside the data; same description reuses the store, another rebuilds it', async () => {
  const storeDir = path.join(tmp, 'stores');
  const beside = path.join(renamed, 'tickscope.json');
  // Without a description: the error says what to write, and where.
  await assert.rejects(prepareDataset({ input: renamed, storeDir }), (e: Error) => {
    // Both missing columns in one problem, with one entry to write for both.
    assert.match(e.message, /required columns 'ts', 'symbol' are missing/);
    assert.ok(e.message.includes(`"bars": { "ts": "<your column>", "symbol": "<your column>" }`), e.message);
    assert.ok(e.message.includes(`the dataset description is ${beside}, not written yet`), e.message);
    return true;
  });
  await writeFile(beside, JSON.stringify(DESCRIPTION));
  const first = await prepareDataset({ input: renamed, storeDir });
  assert.equal(first.reused, false);
  assert.equal(first.descriptionPath, beside);
  const m = await meta(first.storePath);
  assert.deepEqual(JSON.parse(m['description']!), DESCRIPTION);
  assert.equal(m['description_path'], beside);
  await withDb(first.storePath, async (q) => assert.equal((await q(`SELECT min(ts)::VARCHAR AS t FROM bars`))[0]!['t'], '2024-03-01 09:00:00'));

  // The same description written differently (key order, spacing) is the same description.
  await writeFile(beside, JSON.stringify({ bars: { symbol: 'Code', ts: 'When' } }, null, 2));
  const second = await prepareDataset({ input: renamed, storeDir });
  assert.equal(second.reused, true);
  assert.equal(second.storePath, first.storePath);

  // Another description: another store.
  await writeFile(beside, JSON.stringify({ ...DESCRIPTION, timezone: 'America/New_York' }));
  const third = await prepareDataset({ input: renamed, storeDir });
  assert.equal(third.reused, false);
  assert.notEqual(third.fingerprint, first.fingerprint);
  await withDb(third.storePath, async (q) => assert.equal((await q(`SELECT min(ts)::VARCHAR AS t FROM bars`))[0]!['t'], '2024-03-01 14:00:00'));
  await writeFile(beside, JSON.stringify(DESCRIPTION));
});

test('--mapping FILE overrides tickscope.json (which is then not read at all)', async () => {
  const dir = await renamedDataset(path.join(tmp, 'overridden'));
  await writeFile(path.join(dir, 'tickscope.json'), '{ "colour": "red" }');
  await assert.rejects(prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-o') }), /dataset description .*tickscope\.json: unknown key 'colour'/);
  const mappingFile = path.join(tmp, 'elsewhere.json');
  await writeFile(mappingFile, JSON.stringify({ ...DESCRIPTION, capital: 50_000 }));
  const r = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-o'), mappingFile });
  assert.equal(r.descriptionPath, mappingFile);
  const m = await meta(r.storePath);
  assert.equal(m['description_path'], mappingFile);
  assert.equal(JSON.parse(m['description']!).capital, 50_000);
  // The CLI's --on-bad-rows is part of the description too.
  const dropping = await prepareDataset({ input: dir, storeDir: path.join(tmp, 'stores-o'), mappingFile, onBadRows: 'drop' });
  assert.notEqual(dropping.fingerprint, r.fingerprint);
});

test('CLI: prepare and inspect read tickscope.json; --mapping overrides it', async () => {
  const out = path.join(tmp, 'stores-cli');
  const { stdout } = await run(process.execPath, [CLI, 'prepare', renamed, '--out', out]);
  assert.match(stdout, /prepared in .*\.duckdb/);
  const again = await run(process.execPath, [CLI, 'prepare', renamed, '--out', out]);
  assert.match(again.stdout, /already prepared/);

  const inspected = JSON.parse((await run(process.execPath, [CLI, 'inspect', renamed, '--json'])).stdout) as Awaited<ReturnType<typeof inspectDataset>>;
  assert.equal(inspected.description.found, true);
  const bars = inspected.tables.find((t) => t.table === 'bars')!;
  assert.deepEqual(
    bars.columns.filter((c) => c.from === 'description').map((c) => [c.canonical, c.column]),
    [['ts', 'When'], ['symbol', 'Code']],
  );
  assert.equal(inspected.ready, true);

  const wrong = path.join(tmp, 'wrong.json');
  await writeFile(wrong, JSON.stringify({ bars: { ts: 'Whenever' } }));
  const overridden = JSON.parse((await run(process.execPath, [CLI, 'inspect', renamed, '--json', '--mapping', wrong])).stdout) as Awaited<ReturnType<typeof inspectDataset>>;
  assert.equal(overridden.description.path, wrong);
  assert.equal(overridden.ready, false);
  assert.match(overridden.tables[0]!.problems.join('\n'), /mapped column 'Whenever' \(for bars\.ts\) is missing/);
});

test('serve: the control server prepares with tickscope.json, or with --mapping and --on-bad-rows', async () => {
  const storeDir = path.join(tmp, 'stores-serve');
  const mappingFile = path.join(tmp, 'serve-mapping.json');
  await writeFile(mappingFile, JSON.stringify({ ...DESCRIPTION, riskFreeRate: 0.01 }));
  const catalog = new DatasetCatalog(
    [
      { id: 'beside', input: renamed },
      { id: 'mapped', input: renamed, mappingFile, onBadRows: 'drop' },
    ],
    storeDir,
    () => {},
  );
  const besideStore = await catalog.whenReady('beside');
  const mappedStore = await catalog.whenReady('mapped');
  assert.notEqual(besideStore, mappedStore);
  assert.deepEqual(JSON.parse((await meta(mappedStore))['description']!), { ...DESCRIPTION, riskFreeRate: 0.01, onBadRows: 'drop' });
  const list = catalog.list();
  assert.equal(list.find((d) => d.id === 'beside')!.descriptionPath, path.join(renamed, 'tickscope.json'));
  assert.equal(list.find((d) => d.id === 'mapped')!.descriptionPath, mappingFile);

  // The CLI's serve passes --mapping and --on-bad-rows to the catalog.
  const serve = spawn(process.execPath, [CLI, 'serve', '--data', renamed, '--mapping', mappingFile, '--on-bad-rows', 'drop', '--port', '0', '--pool-size', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      serve.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const m = /running at (http:\/\/\S+)/.exec(text);
        if (m) resolve(m[1]!);
      });
      serve.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${text}`)));
    });
    let info: DatasetInfo | undefined;
    for (let i = 0; i < 200 && info?.state !== 'ready' && info?.state !== 'failed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      info = ((await (await fetch(`${url}/api/datasets`)).json()) as DatasetInfo[])[0];
    }
    assert.equal(info?.state, 'ready', info?.error ?? 'not ready');
    assert.equal(info?.descriptionPath, mappingFile);
  } finally {
    serve.kill('SIGTERM');
    await new Promise((resolve) => serve.once('exit', resolve));
  }
});
