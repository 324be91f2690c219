// The SQL text helpers at the string level, and each quoted value read back by an in-memory
// DuckDB: what goes in comes out, whatever characters it holds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { fileReader, sqlIdent, sqlString, sqlStringList } from '../../server/sql/text.js';

let instance: DuckDBInstance;
let connection: DuckDBConnection;

before(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
});

after(() => {
  connection.closeSync();
  instance.closeSync();
});

/** Strings a file path, a column name or a setting may hold. */
const AWKWARD = [
  '',
  'plain',
  "O'Brien",
  "''",
  "x' OR 1=1 --",
  "'; DROP TABLE bars; --",
  'back\\slash\\',
  'two\nlines\r\nand a\ttab',
  'control \u0001\u001f\u007f characters',
  'double "quotes"',
  'unicode: é ü 日本 🚀',
  '$1 ? :name',
];

test('a string literal doubles its quotes and nothing else', () => {
  assert.equal(sqlString('plain'), "'plain'");
  assert.equal(sqlString("O'Brien"), "'O''Brien'");
  assert.equal(sqlString("''"), "''''''");
  assert.equal(sqlString("x' OR 1=1 --"), "'x'' OR 1=1 --'");
  assert.equal(sqlString('back\\slash'), "'back\\slash'");
  assert.equal(sqlString('a\nb\tc'), "'a\nb\tc'");
  assert.equal(sqlString(''), "''");
});

test('every string literal reads back as the string it was made from', async () => {
  for (const value of AWKWARD) {
    const rows = (await connection.runAndReadAll(`SELECT ${sqlString(value)}`)).getRows();
    assert.equal(rows[0]?.[0], value, JSON.stringify(value));
  }
});

test('NUL and lone surrogates are refused, naming the value, not written', () => {
  for (const value of ['a\0b', '\0', 'half \ud83d of an emoji', 'trailing \udc00']) {
    assert.throws(() => sqlString(value), (error: Error) => /cannot be written as SQL text/.test(error.message) && error.message.includes(JSON.stringify(value)));
    assert.throws(() => sqlIdent(value), /cannot be written as SQL text/);
  }
  assert.throws(() => sqlStringList(['fine', 'not\0fine']), /U\+0000/);
});

test('an identifier doubles its double quotes; an empty one is refused', () => {
  assert.equal(sqlIdent('pnl'), '"pnl"');
  assert.equal(sqlIdent('P&L (net)'), '"P&L (net)"');
  assert.equal(sqlIdent('say "hi"'), '"say ""hi"""');
  assert.equal(sqlIdent("it's"), '"it\'s"');
  assert.throws(() => sqlIdent(''), /empty identifier/);
});

test('every identifier names the column it was made from', async () => {
  for (const name of AWKWARD.filter((n) => n !== '')) {
    const reader = await connection.runAndReadAll(`SELECT 1 AS ${sqlIdent(name)}`);
    assert.deepEqual(reader.columnNames(), [name], JSON.stringify(name));
  }
});

test('a string list quotes each element', async () => {
  assert.equal(sqlStringList([]), '[]');
  assert.equal(sqlStringList(['a']), "['a']");
  assert.equal(sqlStringList(["it's", 'b']), "['it''s', 'b']");
  const rows = (await connection.runAndReadAll(`SELECT ${sqlStringList(AWKWARD)}`)).getRowsJson();
  assert.deepEqual(rows[0]?.[0], AWKWARD);
});

test('the Parquet reader: every file listed and quoted, hive partitioning on or off, the options asked for', () => {
  assert.equal(fileReader('parquet', ['/data/bars.parquet'], { hive: false }), "read_parquet(['/data/bars.parquet'], hive_partitioning = false)");
  assert.equal(
    fileReader('parquet', ['/data/run_id=a/x.parquet', "/data/run_id=b/O'Brien.parquet"], { hive: true }),
    "read_parquet(['/data/run_id=a/x.parquet', '/data/run_id=b/O''Brien.parquet'], hive_partitioning = true)",
  );
  assert.equal(
    fileReader('parquet', ['/a.parquet', '/b.parquet'], { hive: false, unionByName: true }),
    "read_parquet(['/a.parquet', '/b.parquet'], hive_partitioning = false, union_by_name = true)",
  );
  assert.equal(
    fileReader('parquet', ['/a.parquet'], { hive: true, unionByName: true, filename: true }),
    "read_parquet(['/a.parquet'], hive_partitioning = true, union_by_name = true, filename = true)",
  );
  assert.equal(fileReader('parquet', ['/a.parquet'], { hive: false, unionByName: false, filename: false }), "read_parquet(['/a.parquet'], hive_partitioning = false)");
});

test('a reader of no files is refused, a path with NUL too', () => {
  assert.throws(() => fileReader('parquet', [], { hive: false }), /read_parquet: no files/);
  assert.throws(() => fileReader('parquet', ['/a\0.parquet'], { hive: false }), /cannot be written as SQL text/);
});

test('DuckDB parses a reader fragment and looks for the very file it names', async () => {
  // No such files: DuckDB gets as far as looking for the first one, by its exact path.
  const fragment = fileReader('parquet', ["/nonexistent/it's here.parquet", '/nonexistent/b.parquet'], { hive: true, unionByName: true, filename: true });
  await assert.rejects(connection.run(`SELECT * FROM ${fragment}`), /No files found that match the pattern "\/nonexistent\/it's here\.parquet"/);
});
