// The tables of an HTML report (server/prepare/html-reports.ts), without a database: rows by their
// tags with colspans counted, text as a browser shows it, tables by their header and title.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeReport, reportRows } from '../../server/prepare/html-reports.js';
import { reportTables, tableCsv } from '../../server/prepare/report-tables.js';

test('rows: colspans counted, entities and non-breaking spaces decoded, closing tags optional', () => {
  const rows = reportRows(
    '<table><TR align=right><td colspan="3">Deposit</td><td>10&nbsp;000.00</td></tr>' +
      '<tr><td><b>A &amp; B</b><td>&#x2212;1 &lt;2&gt;<td>\u00a0x\u00a0\u00a0y </table><p>after</p>',
  );
  assert.deepEqual(rows, [
    ['Deposit', '', '', '10 000.00'],
    ['A & B', '\u22121 <2>', 'x y'],
  ]);
});

test('tables: a header of five names, its rows, the title row before it; totals and blank rows kept apart; the heading as label and value', () => {
  const tables = reportTables([
    ['Strategy Tester Report', '', '', '', '', ''],
    ['Total Net Profit:', '', '1 234.00', 'Profit Factor:', '1.2', ''],
    ['Deals', '', '', '', '', ''],
    ['Time', 'Deal', 'Symbol', 'Type', 'Profit', 'Balance'],
    ['2024.01.02 00:00:00', '1', '', 'balance', '10 000.00', '10 000.00'],
    ['', '', '', '', '', ''],
    ['2024.01.02 09:35:00', '2', 'EURUSD', 'buy', '0.00', '10 000.00'],
    ['', '', '', '', '22.00', '10 022.00'],
    ['Orders', '', '', '', '', ''],
    ['Open Time', 'Order', 'Symbol', 'Type', 'State', ''],
    ['2024.01.02 09:35:00', '2', 'EURUSD', 'buy', 'filled', ''],
    ['a line of another shape', 'x'],
    ['2024.01.02 09:36:00', '3', 'EURUSD', 'sell', 'filled', ''],
  ]);
  assert.deepEqual(
    tables.map((t) => [t.name, t.header.length, t.rows.length]),
    [
      ['Deals', 6, 3],
      ['Orders', 6, 1],
      ['Summary', 2, 3],
    ],
  );
  assert.deepEqual(tables[2]!.rows, [
    ['Total Net Profit', '1 234.00'],
    ['Profit Factor', '1.2'],
    ['a line of another shape', 'x'],
  ], "the heading's labels and values");
  assert.deepEqual(tables[0]!.rows.at(-1), ['', '', '', '', '22.00', '10 022.00'], 'the totals line is a row of the table (the adapter leaves it out)');
  assert.equal(tableCsv({ name: 't', header: ['a', 'b'], rows: [['1,5', 'say "hi"']] }), 'a,b\n"1,5","say ""hi"""\n');
});

test('decoding: UTF-16 with its byte-order mark (MetaTrader 5), UTF-8, and Latin-1 when the bytes are not UTF-8', () => {
  const text = '<td>Profit €</td>';
  assert.equal(decodeReport(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])), text);
  assert.equal(decodeReport(Buffer.from(text, 'utf8')), text);
  assert.equal(decodeReport(Buffer.from([0x3c, 0x74, 0x64, 0x3e, 0xe9, 0x3c])), '<td>é<');
});
