// Numbers and timestamps written as text the way spreadsheets and in-house reports write them
// (server/prepare/expressions.ts), evaluated by DuckDB in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spreadsheetNumberSql } from '../../server/prepare/expressions.js';
import { sqlString } from '../../server/sql/text.js';
import { mem } from '../support/duckdb.js';

async function number(text: string | null, decimalComma = false): Promise<number | null> {
  const value = text === null ? 'NULL::VARCHAR' : sqlString(text);
  return mem(async (q) => {
    const [row] = await q(`SELECT ${spreadsheetNumberSql(value, 'P&L', decimalComma)} AS n`);
    return row!.n === null ? null : Number(row!.n);
  });
}

test('spreadsheet numbers: currency, thousands, accounting negatives, percentages, blanks', async () => {
  const cases: [string | null, number | null][] = [
    ['1234.5', 1234.5],
    ['-0.25', -0.25],
    ['+3', 3],
    ['1e-3', 0.001],
    ['$1,110.00', 1110],
    ['-$1,234,567.89', -1234567.89],
    ['$-12.5', -12.5],
    ['($160.00)', -160],
    ['(1,000)', -1000],
    ['\u221242', -42],
    ['€ 1 234,00'.replace(',', '.'), 1234],
    ['£99', 99],
    ['USD 2,500', 2500],
    ['1.5%', 0.015],
    ['-12.5 %', -0.125],
    ['  7  ', 7],
    ['', null],
    ['   ', null],
    [null, null],
  ];
  for (const [text, want] of cases) assert.equal(await number(text), want, `${JSON.stringify(text)}`);
});

test('spreadsheet numbers: what cannot be read fails and names the value', async () => {
  // A decimal comma (1.234,56) or a comma outside groups of three is ambiguous: refused, not guessed.
  for (const text of ['1.234,56', '12,5', 'n/a', '1,23,456']) {
    await assert.rejects(number(text), (error: Error) => error.message.includes(`column 'P&L': '${text}' is not a number`), `${text} is refused`);
  }
});

test('spreadsheet numbers with a decimal comma (a European locale): dots between thousands', async () => {
  const cases: [string, number][] = [
    ['185,10', 185.1],
    ['1.225,00', 1225],
    ['-1.234.567,89 €', -1234567.89],
    ['(12,5)', -12.5],
    ['12,5 %', 0.125],
    ['7', 7],
  ];
  for (const [text, want] of cases) assert.equal(await number(text, true), want, text);
  await assert.rejects(number('1,234.56', true), /is not a number/, 'a decimal point among decimal commas is refused');
});
