import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import { ArrowBatchEncoder } from '../../server/session/arrow-encoder.js';

async function encode(sql: string, batchRows = Infinity): Promise<Uint8Array[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const result = await connection.stream(sql);
    const encoder = new ArrowBatchEncoder(result.columnNames(), result.columnTypes());
    const out: Uint8Array[] = [];
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
      encoder.append(chunk);
      if (encoder.rows >= batchRows) out.push(encoder.flush());
    }
    if (encoder.rows > 0 || out.length === 0) out.push(encoder.flush());
    return out;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

test('fixed-width columns, nulls and strings survive the trip across several chunks', async () => {
  const [ipc] = await encode(`
    SELECT i::DOUBLE / 4 AS x,
           CASE WHEN i % 3 = 0 THEN NULL ELSE i END::BIGINT AS maybe,
           i::INTEGER AS n,
           i % 2 = 0 AS even,
           'sym' || (i % 7) AS label,
           (DATE '2024-01-01' + i::INTEGER) AS day,
           make_timestamp(1700000000000000 + i * 1000000) AS ts
    FROM range(5000) t(i)`);
  const table = tableFromIPC(ipc!);
  assert.equal(table.numRows, 5000);
  assert.deepEqual(table.schema.fields.map((f) => f.name), ['x', 'maybe', 'n', 'even', 'label', 'day', 'ts']);
  for (const i of [0, 1, 2047, 2048, 2049, 4095, 4999]) {
    const row = table.get(i)!.toJSON();
    assert.equal(row.x, i / 4, `x at ${i}`);
    assert.equal(row.maybe, i % 3 === 0 ? null : BigInt(i), `maybe at ${i}`);
    assert.equal(row.n, i);
    assert.equal(row.even, i % 2 === 0);
    assert.equal(row.label, `sym${i % 7}`);
    assert.equal(row.day, Date.UTC(2024, 0, 1) + i * 86_400_000);
    assert.equal(row.ts, 1_700_000_000_000 + i * 1000);
  }
  assert.equal(table.getChild('maybe')!.nullCount, Math.ceil(5000 / 3));
  assert.equal(table.getChild('x')!.nullCount, 0);
});

test('a large answer is split into self-contained batches; an empty one still carries its schema', async () => {
  const batches = await encode('SELECT i::DOUBLE AS v FROM range(10000) t(i)', 4096);
  assert.ok(batches.length >= 2);
  const values = batches.flatMap((ipc) => Array.from(tableFromIPC(ipc).getChild('v')!.toArray() as Float64Array));
  assert.equal(values.length, 10000);
  assert.equal(values[9999], 9999);

  const [empty] = await encode('SELECT i::DOUBLE AS v, i::VARCHAR AS s FROM range(10) t(i) WHERE false');
  const table = tableFromIPC(empty!);
  assert.equal(table.numRows, 0);
  assert.deepEqual(table.schema.fields.map((f) => f.name), ['v', 's']);
});

test('a column type the encoder cannot carry is named in the error', async () => {
  await assert.rejects(encode(`SELECT [1, 2] AS list_col`), /column "list_col" has DuckDB type INTEGER\[\]/);
});

test('strings are copied from DuckDB without JS strings: inline, long (through the pointer), unicode, nulls', async () => {
  const [ipc] = await encode(`
    SELECT CASE WHEN i % 5 = 0 THEN NULL
                WHEN i % 5 = 1 THEN 'S' || i
                WHEN i % 5 = 2 THEN repeat('long string ', 1 + i % 4) || i
                WHEN i % 5 = 3 THEN 'é' || i || '€'
                ELSE '' END AS s
    FROM range(6000) t(i)`);
  const column = tableFromIPC(ipc!).getChild('s')!;
  assert.equal(column.length, 6000);
  for (let i = 0; i < 6000; i++) {
    const want =
      i % 5 === 0 ? null : i % 5 === 1 ? `S${i}` : i % 5 === 2 ? `${'long string '.repeat(1 + (i % 4))}${i}` : i % 5 === 3 ? `é${i}€` : '';
    assert.equal(column.get(i), want, `row ${i}`);
  }
  assert.equal(column.nullCount, 1200);
});

test('every string length around the inline limit comes out whole, each next to a longer and a shorter one', async () => {
  // Inline strings are written a word at a time, past their own end into the next one's place:
  // lengths 0-17 bytes (12 is DuckDB's inline limit) in every order, with nulls between, across chunks.
  const [ipc] = await encode(`
    SELECT CASE WHEN i % 19 = 18 THEN NULL ELSE substr('abcdefghijklmnopq', 1, ((i * 7) % 19)::INTEGER) END AS s,
           CASE WHEN i % 3 = 0 THEN 'ü' || repeat('z', (i % 13)::INTEGER) ELSE repeat('y', (i % 16)::INTEGER) END AS t
    FROM range(5000) t(i)`);
  const table = tableFromIPC(ipc!);
  const s = table.getChild('s')!;
  const t = table.getChild('t')!;
  for (let i = 0; i < 5000; i++) {
    assert.equal(s.get(i), i % 19 === 18 ? null : 'abcdefghijklmnopq'.slice(0, (i * 7) % 19), `s at row ${i}`);
    assert.equal(t.get(i), i % 3 === 0 ? `ü${'z'.repeat(i % 13)}` : 'y'.repeat(i % 16), `t at row ${i}`);
  }
});

test('schema metadata names the part of a multi-part answer; omitted columns are left out', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const result = await connection.stream(`SELECT 1::DOUBLE AS a, 2::BIGINT AS hidden, 'x' AS b`);
    const encoder = new ArrowBatchEncoder(result.columnNames(), result.columnTypes(), {
      metadata: new Map([['tickscope.part', 'trades']]),
      omit: new Set(['hidden']),
    });
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) encoder.append(chunk);
    const table = tableFromIPC(encoder.flush());
    assert.deepEqual(table.schema.fields.map((f) => f.name), ['a', 'b']);
    assert.equal(table.schema.metadata.get('tickscope.part'), 'trades');
    assert.deepEqual(table.get(0)!.toJSON(), { a: 1, b: 'x' });
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
});

test('batches written one after another into the same buffers stay whole: nulls, booleans and strings in some batches only', async () => {
  // 2,048-row chunks, a batch every 3,000+ rows: batches start mid-chunk-count, the first has no
  // nulls, later ones do, and each batch is decoded only after the next has been written.
  const batches = await encode(
    `SELECT i::BIGINT AS n,
            CASE WHEN i >= 4096 AND i % 7 = 0 THEN NULL ELSE i::DOUBLE END AS maybe,
            i % 3 = 0 AS third,
            CASE WHEN i >= 6144 AND i % 11 = 0 THEN NULL WHEN i % 2 = 0 THEN 'x' || i ELSE repeat('long ', 4) || i END AS s
     FROM range(10000) t(i)`,
    3000,
  );
  assert.ok(batches.length >= 3, `${batches.length} batches`);
  let row = 0;
  for (const ipc of batches) {
    const table = tableFromIPC(ipc);
    const n = table.getChild('n')!;
    const maybe = table.getChild('maybe')!;
    const third = table.getChild('third')!;
    const s = table.getChild('s')!;
    let nulls = 0;
    for (let k = 0; k < table.numRows; k++, row++) {
      assert.equal(n.get(k), BigInt(row), `n at ${row}`);
      const wantMaybe = row >= 4096 && row % 7 === 0 ? null : row;
      if (wantMaybe === null) nulls++;
      assert.equal(maybe.get(k), wantMaybe, `maybe at ${row}`);
      assert.equal(third.get(k), row % 3 === 0, `third at ${row}`);
      assert.equal(s.get(k), row >= 6144 && row % 11 === 0 ? null : row % 2 === 0 ? `x${row}` : `${'long '.repeat(4)}${row}`, `s at ${row}`);
    }
    assert.equal(maybe.nullCount, nulls);
  }
  assert.equal(row, 10000);
  assert.equal(tableFromIPC(batches[0]!).getChild('maybe')!.nullCount, 0);
});
