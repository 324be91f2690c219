// Every file of ../shared/testdata (files written by other implementations, damaged and fuzzed
// ones included, and the READMEs and licences beside them) is either read correctly or refused
// with a message that names it, in a preparation child that does not crash, and nothing any of
// them makes the pipeline say (errors, progress phases) carries a raw control character.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import { repoRoot } from '../../fixtures/generate.js';
import { readArrowSchema, stageArrowFiles } from '../../server/prepare/arrow-ipc/index.js';
import { sniffFormat } from '../../server/prepare/inputs/index.js';
import { prepareDataset } from '../../server/prepare/prepare.js';
import { prepareInChild } from '../../server/prepare/run-in-child.js';
import { errorMessage } from '../../shared/errors.js';
import { isPrintable } from '../../shared/printable.js';
import { tinyDataset } from '../support/datasets.js';
import { mem } from '../support/duckdb.js';
import { MANIFEST_SUFFIX } from '../../server/store/segments.js';

/** Beside the repository root, as in CI (a fresh clone with shared/ copied next to it). */
const TESTDATA = path.resolve(repoRoot(), '..', 'shared', 'testdata');

let tmp = '';
let bars = '';

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'tickscope-corpus-'));
  bars = path.join(await tinyDataset(), 'bars');
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function everyFile(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await everyFile(p)));
    else out.push(p);
  }
  return out.sort();
}

/**
 * The column to read as `symbol` and the values it holds, by the test's own reading (apache-arrow
 * or DuckDB straight on the file); null when this file has none or the test cannot read it.
 */
async function expectedSymbols(file: string): Promise<{ column: string; values: Set<string> } | null> {
  try {
    const format = await sniffFormat(file);
    if (format === 'parquet') {
      const cols = await mem((q) => q(`DESCRIBE SELECT * FROM '${file}'`));
      const column = cols.find((c) => /^(VARCHAR|BLOB|U?(TINY|SMALL|BIG)?INT(EGER)?)$/.test(String(c['column_type'])))?.['column_name'] as string | undefined;
      if (!column) return null;
      const rows = await mem((q) => q(`SELECT DISTINCT "${column}"::VARCHAR AS v FROM '${file}' WHERE "${column}" IS NOT NULL`));
      return { column, values: new Set(rows.map((r) => String(r['v']))) };
    }
    if (format) {
      const schema = await readArrowSchema({ path: file, format, hive: {}, size: 0, mtimeMs: 0 });
      const column = schema.find((c) => /^(VARCHAR|U?(TINY|SMALL|BIG)?INT(EGER)?)$/.test(c.type))?.name;
      if (!column) return null;
      const table = tableFromIPC(await readFile(file));
      return { column, values: new Set([...table.getChild(column)!].filter((v) => v !== null && v !== undefined).map((v) => String(v))) };
    }
  } catch {
    // unreadable here too: the preparation must say so, by name
  }
  return null;
}

test('every file of ../shared/testdata is read (value for value) or refused by name, printably, without a crash', async () => {
  assert.ok(existsSync(TESTDATA), `${TESTDATA} (shared/ beside the repository root)`);
  const files = await everyFile(TESTDATA);
  assert.ok(files.length >= 35, `found ${files.length} files`);
  assert.ok(files.some((f) => path.basename(f).startsWith('clusterfuzz-')) && files.some((f) => f.endsWith('README.md')));
  const storeDir = path.join(tmp, 'stores');
  const outcomes = new Map<string, string>();
  const tryFile = async (file: string, i: number) => {
    // As the symbols table of a good dataset (bars from the tiny fixture), its first string or
    // integer column mapped to `symbol`, so the data is read, not only the footer or schema. A file
    // is taken for the symbols table by its name; the format is sniffed from its bytes.
    const expected = await expectedSymbols(file);
    const target = path.join(tmp, 'as-symbols', `symbols-${i}-${path.basename(file)}`);
    await mkdir(path.dirname(target), { recursive: true });
    await copyFile(file, target);
    const phases: string[] = [];
    try {
      const r = await prepareInChild({
        input: [bars, target],
        storeDir,
        threads: 1,
        description: { symbols: { symbol: expected?.column ?? 'symbol' } },
        onProgress: (p) => phases.push(p.phase, p.source ?? ''),
      });
      assert.ok(expected, `${file} was prepared but the test could not read it`);
      const got = await mem(async (q) => {
        await q(`ATTACH '${r.storePath}' AS s (READ_ONLY)`);
        return new Set((await q(`SELECT symbol FROM s.symbols WHERE symbol NOT LIKE 'S0%'`)).map((x) => String(x['symbol'])));
      });
      assert.deepEqual([...got].sort(), [...expected.values].sort(), `${file}: symbols read`);
      outcomes.set(file, `read: ${got.size} values of ${expected.column}`);
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      const msg = errorMessage(e);
      assert.ok(msg.includes(target), `the error for ${file} does not name it: ${msg}`);
      assert.ok(!/crashed/.test(msg), `the preparation process crashed on ${file}: ${msg}`);
      assert.ok(!/Cannot read properties|is not a function|undefined \(reading/.test(msg), `a JavaScript error leaked for ${file}: ${msg}`);
      // Line breaks are the message's own (PrepareError's lines); each line is printable.
      assert.ok(msg.split('\n').every(isPrintable), `raw control characters in the error for ${file}: ${JSON.stringify(msg)}`);
      outcomes.set(file, `refused: ${msg.replace(target, '<file>').slice(0, 160)}`);
    } finally {
      await rm(target);
    }
    for (const text of phases) assert.ok(isPrintable(text), `raw control characters in a progress phase for ${file}: ${JSON.stringify(text)}`);
  };
  // Two preparation children at a time, one per core: each is mostly a child's start and the tiny
  // bars' preparation, and one after the other they took most of a minute.
  const next = files.entries();
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      for (let n = next.next(); !n.done; n = next.next()) await tryFile(n.value[1], n.value[0]);
    }),
  );
  console.log([...outcomes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([f, o]) => `${path.relative(TESTDATA, f)}: ${o}`).join('\n'));

  const outcome = (name: string) => [...outcomes].find(([f]) => path.basename(f) === name)?.[1] ?? '(missing)';
  // The legacy 0.14.1 stream (no continuation marker) is sniffed as a stream and read.
  assert.equal(await sniffFormat(path.join(TESTDATA, 'arrow-testing', 'legacy-0.14.1-generated_primitive.stream')), 'arrow-stream');
  assert.match(outcome('legacy-0.14.1-generated_primitive.stream'), /^read: \d+ values/);
  // The fuzzed streams are refused by name as damaged, not with a JavaScript error.
  for (const [name, outcomeText] of outcomes) {
    if (path.basename(name).startsWith('clusterfuzz-')) assert.match(outcomeText, /^refused: Arrow IPC input <file> cannot be read: its schema is malformed/, name);
  }
  // None of these is a backtest: nothing else was published (a store and its segment manifest,
  // server/store/segments.ts), and no temporaries are left.
  assert.deepEqual((await readdir(storeDir)).filter((f) => !f.endsWith('.duckdb') && !f.endsWith(MANIFEST_SUFFIX)), []);
});

test('Arrow IPC golden files (file format, stream format, the legacy stream) are staged value for value', async () => {
  const dir = path.join(TESTDATA, 'arrow-testing');
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  try {
    const names = (await readdir(dir)).filter((f) => /\.(arrow_file|stream)$/.test(f));
    assert.ok(names.includes('legacy-0.14.1-generated_primitive.stream'));
    for (const name of names) {
      const format = await sniffFormat(path.join(dir, name));
      assert.ok(format === 'arrow-file' || format === 'arrow-stream', `${name} sniffed as ${format}`);
      const file = { path: path.join(dir, name), format, hive: {}, size: 0, mtimeMs: 0 };
      const schema = await readArrowSchema(file);
      const cols = schema.filter((c) => !c.unsupported);
      // Types preparation has no use for (time of day) are refused by name, not misread.
      for (const c of schema.filter((x) => x.unsupported)) assert.match(c.unsupported!, /^Arrow Time/);
      const n = await stageArrowFiles(con, 'staged', [file], { columns: cols.map((c) => c.name), hiveKeys: [] });
      const table = tableFromIPC(await readFile(file.path));
      assert.equal(n, table.numRows, name);
      const sel = cols
        .map((c) => {
          const q = `"${c.name}"`;
          if (c.type.startsWith('TIMESTAMP')) return `epoch_ms(${q})::DOUBLE AS ${q}`;
          if (c.type === 'DATE') return `epoch_ms(${q}::TIMESTAMP)::DOUBLE AS ${q}`;
          if (c.type === 'BLOB') return `hex(${q}) AS ${q}`;
          return q;
        })
        .join(', ');
      const rows = (await con.runAndReadAll(`SELECT ${sel} FROM temp.main.staged`)).getRowObjectsJS();
      let checked = 0;
      for (const c of cols) {
        const v = table.getChild(c.name)!;
        for (let i = 0; i < table.numRows; i++) {
          let want: unknown = v.get(i);
          let got: unknown = rows[i]![c.name];
          if (want instanceof Uint8Array) want = Buffer.from(want).toString('hex').toUpperCase();
          if (typeof want === 'bigint') want = Number(want);
          if (typeof got === 'bigint') got = Number(got);
          // DuckDB keeps the largest 64-bit timestamp for infinity; Arrow's golden data uses it.
          if (c.type.startsWith('TIMESTAMP') && got === null && typeof want === 'number' && Math.abs(want) > 9e12) continue;
          if (typeof want === 'number' && typeof got === 'number') {
            assert.ok(Object.is(want, got) || Math.abs(want - got) <= 1e-6 * Math.max(1, Math.abs(want)), `${name} ${c.name}[${i}]: ${want} vs ${got}`);
          } else assert.deepEqual(got, want, `${name} ${c.name}[${i}]`);
          checked++;
        }
      }
      assert.ok(checked > 0, name);
    }
  } finally {
    con.closeSync();
    inst.closeSync();
  }
});

test('a Spark-written Parquet file mapped onto bars gives back exactly its rows', async () => {
  const plain = path.join(TESTDATA, 'parquet-testing', 'data', 'alltypes_plain.parquet');
  const r = await prepareDataset({
    input: plain,
    storeDir: path.join(tmp, 'stores-plain'),
    threads: 1,
    description: { bars: { ts: 'timestamp_col', symbol: 'id', price: 'double_col', position_qty: 'int_col', pnl: 'float_col' } },
  });
  const want = await mem((q) => q(`SELECT id::VARCHAR AS symbol, timestamp_col::VARCHAR AS ts, double_col AS price, float_col::DOUBLE AS pnl FROM '${plain}' ORDER BY id`));
  const inst = await DuckDBInstance.create(r.storePath, { access_mode: 'READ_ONLY' });
  const con = await inst.connect();
  try {
    const got = (await con.runAndReadAll(`SELECT symbol, ts::VARCHAR AS ts, price, pnl FROM bars ORDER BY symbol::INTEGER`)).getRowObjectsJson();
    assert.deepEqual(got, want);
  } finally {
    con.closeSync();
    inst.closeSync();
  }
});
