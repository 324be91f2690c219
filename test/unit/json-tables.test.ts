// json-tables.ts and json-lines.ts without a database: which top-level arrays of a document are
// tables, the quick look that decides whether a document is parsed at all, and the JSON Lines they
// are written as (a column with any fraction keeps its floats).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { namedTables, opensNamedTable } from '../../server/prepare/json-tables.js';
import { jsonLinesText } from '../../server/prepare/json-lines.js';

const namesTable = (key: string) => ['trades', 'symbols'].includes(key);

test('a document of named tables: the arrays of records under keys that name a table, nothing else', () => {
  const doc = { trades: [{ a: 1 }, { a: 2 }], symbols: [{ s: 'X' }], params: [{ p: 1 }], considering_timeframes: ['1h'] };
  const tables = namedTables(JSON.stringify(doc), namesTable);
  assert.deepEqual([...(tables?.keys() ?? [])], ['trades', 'symbols']);
  assert.deepEqual(tables?.get('trades'), doc.trades);
  for (const other of ['[{"a": 1}]', '{"trades": []}', '{"trades": [1, 2]}', '{"trades": [{"a": 1}, 2]}', '{"strategy": {"x": {"trades": [{"a": 1}]}}}', 'not json {', '"trades"']) {
    assert.equal(namedTables(other, namesTable), null, other);
  }
});

test('the quick look finds a table key opening records across the chunks it reads, and nothing in a document of another shape', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'tickscope-json-look-'));
  try {
    const tables = path.join(dir, 'session.json');
    // Multi-byte text before the key, so chunks split characters as well as the key and its bracket.
    await writeFile(tables, `{"notes": "${'é€'.repeat(40)}", "params": {"fast": 10},\n  "trades": [\n    {"a": 1}\n  ]\n}`);
    const other = path.join(dir, 'result.json');
    // A Lean result's shape: records under keys that name no table, a table's name opening an object.
    await writeFile(other, JSON.stringify({ totalPerformance: { closedTrades: [{ symbol: { value: 'SPY' } }] }, orders: { '1': { symbol: { value: 'SPY' } } }, trades: 3 }));
    for (const chunkBytes of [5, 7, 13, 64, 2 ** 20]) {
      assert.equal(await opensNamedTable(tables, namesTable, chunkBytes), true, `chunks of ${chunkBytes}`);
      assert.equal(await opensNamedTable(other, namesTable, chunkBytes), false, `chunks of ${chunkBytes}`);
    }
    await assert.rejects(opensNamedTable(path.join(dir, 'missing.json'), namesTable), /ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('JSON Lines: whole numbers in a column with a fraction are written as floats, other columns as they are', () => {
  const text = jsonLinesText([
    { qty: 1, price: 100, note: 'a', at: 1609459200000, nested: { x: 1 } },
    { qty: 2.5, price: 101, note: null, at: 1609459260000, nested: [1] },
    { qty: 3, price: 1e21, note: 'c', at: 1609459320000 },
  ]);
  assert.equal(
    text,
    '{"qty":1.0,"price":100,"note":"a","at":1609459200000,"nested":{"x":1}}\n' +
      '{"qty":2.5,"price":101,"note":null,"at":1609459260000,"nested":[1]}\n' +
      '{"qty":3.0,"price":1e+21,"note":"c","at":1609459320000}\n',
  );
  for (const line of text.trim().split('\n')) JSON.parse(line);
});
