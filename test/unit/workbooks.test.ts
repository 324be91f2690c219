// Excel workbooks read by server/prepare/workbooks.ts, from parts written by hand the ways other
// writers lay them out (Excel, openpyxl, .NET's Open XML SDK with its `x:` prefix): cell types,
// number formats that show dates, the 1904 date system, sparse rows, a sheet long enough to be
// streamed in many chunks, a sheet laid out as a report, and what is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeZip } from '../../fixtures/formats/zip.js';
import { formatKind, isWorkbook, serialDate, workbookMembers, xmlText } from '../../server/prepare/workbooks.js';

test('number formats: which show a date, a date and time, or neither', () => {
  assert.equal(formatKind('yyyy-mm-dd'), 'date');
  assert.equal(formatKind('m/d/yyyy'), 'date');
  assert.equal(formatKind('yyyy\\-mm\\-dd\\ hh:mm:ss'), 'datetime');
  assert.equal(formatKind('[$-409]m/d/yy h:mm AM/PM;@'), 'datetime');
  assert.equal(formatKind('[h]:mm:ss'), 'datetime');
  assert.equal(formatKind('General'), null);
  assert.equal(formatKind('0.00%'), null);
  assert.equal(formatKind('#,##0.00 "USD"'), null, 'letters in quotes are text');
  assert.equal(formatKind('[Red]#,##0.00;[Blue]-#,##0.00'), null, 'colours are not days');
  assert.equal(formatKind('0.00E+00'), null);
  assert.equal(formatKind('"Day "0'), null);
});

test('date serials: to the millisecond, in both date systems, Excel’s 29 February 1900 counted', () => {
  assert.equal(serialDate(45293, 'date', false), '2024-01-02');
  assert.equal(serialDate(45293.645833333336, 'datetime', false), '2024-01-02 15:30:00');
  assert.equal(serialDate(45293.64583333333, 'datetime', false), '2024-01-02 15:30:00', 'a serial a hair below the minute (as other writers store 15:30) rounds to it');
  assert.equal(serialDate(45293.645833333336, 'date', false), '2024-01-02 15:30:00', 'a time kept even where the format shows none');
  assert.equal(serialDate(45293 + 0.5 + 0.123 / 86400, 'datetime', false), '2024-01-02 12:00:00.123');
  assert.equal(serialDate(45293 - 1462, 'date', true), '2024-01-02', 'the 1904 system');
  assert.equal(serialDate(61, 'date', false), '1900-03-01');
  assert.equal(serialDate(59, 'date', false), '1900-02-28');
  assert.equal(serialDate(0.5, 'datetime', false), '12:00:00', 'a time of day alone');
  assert.equal(serialDate(25569, 'datetime', false), '1970-01-01 00:00:00');
});

test('xml text: entities and OOXML’s _xHHHH_ escapes', () => {
  assert.equal(xmlText('a &amp; b &lt;c&gt; &#233;&#x20AC; _x000D_'), 'a & b <c> é€ \r');
  assert.equal(isWorkbook('/d/Trades.XLSX'), true);
  assert.equal(isWorkbook('/d/book.xlsm'), true);
  assert.equal(isWorkbook('/d/~$trades.xlsx'), false, "Excel's lock file");
  assert.equal(isWorkbook('/d/old.xls'), false);
});

const CT = '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>';
const WS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet';

interface Part {
  name: string;
  data: string;
}

/** A workbook of `sheets` (name, sheetData XML) with the given shared strings and styles; `prefix` writes every element as `x:name`. */
function workbookParts(sheets: { name: string; data: string }[], options: { strings?: string; styles?: string; date1904?: boolean; prefix?: string } = {}): Part[] {
  const p = options.prefix ? `${options.prefix}:` : '';
  const ns = options.prefix ? `xmlns:${options.prefix}` : 'xmlns';
  return [
    { name: '[Content_Types].xml', data: CT },
    {
      name: 'xl/workbook.xml',
      // The sheets listed in an order of their own, their parts named otherwise: the list decides.
      data: `<${p}workbook ${ns}="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><${p}workbookPr${options.date1904 ? ' date1904="1"' : ''}/><${p}sheets>${sheets.map((s, i) => `<${p}sheet name="${s.name}" sheetId="${i + 1}" r:id="rId${sheets.length - i}"/>`).join('')}</${p}sheets></${p}workbook>`,
    },
    {
      name: 'xl/_rels/workbook.xml.rels',
      data: `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${sheets.map((_, i) => `<Relationship Id="rId${sheets.length - i}" Type="${WS}" Target="${i === 0 ? '/xl/worksheets/sheet9.xml' : `worksheets/sheet${i}.xml`}"/>`).join('')}</Relationships>`,
    },
    ...(options.strings ? [{ name: 'xl/sharedStrings.xml', data: `<${p}sst ${ns}="http://schemas.openxmlformats.org/spreadsheetml/2006/main">${options.strings}</${p}sst>` }] : []),
    ...(options.styles ? [{ name: 'xl/styles.xml', data: `<${p}styleSheet ${ns}="http://schemas.openxmlformats.org/spreadsheetml/2006/main">${options.styles}</${p}styleSheet>` }] : []),
    ...sheets.map((s, i) => ({
      name: i === 0 ? 'xl/worksheets/sheet9.xml' : `xl/worksheets/sheet${i}.xml`,
      data: `<${p}worksheet ${ns}="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><${p}dimension ref="A1"/><${p}sheetData>${s.data}</${p}sheetData></${p}worksheet>`,
    })),
  ];
}

async function withWorkbook<T>(name: string, parts: Part[], use: (file: string, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-workbook-'));
  try {
    const file = path.join(dir, name);
    await writeZip(file, parts);
    return await use(file, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const STYLES = '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd\\ hh:mm"/></numFmts><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/><xf numFmtId="14"/><xf numFmtId="10"/></cellXfs>';

test('cells: shared, rich and inline text, numbers as written, dates, booleans, errors, gaps; the sheets in the workbook’s order', async () => {
  const strings =
    '<si><t>symbol</t></si><si><t>entry_ts</t></si><si><r><rPr><b/></rPr><t>pn</t></r><r><t xml:space="preserve">l</t></r></si>' +
    '<si><t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh></si><si><t>a,"b"_x000D_</t></si>';
  const trades =
    '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="inlineStr"><is><t>won</t></is></c><c r="E1" t="str"><v>note</v></c></row>' +
    '<row r="2"><c r="A2" t="s"><v>3</v></c><c r="B2" s="1"><v>45293.645833333336</v></c><c r="C2" s="3"><v>-1.2345678901234501E-2</v></c><c r="D2" t="b"><v>1</v></c><c r="E2" t="str"><f>A2&amp;"!"</f><v>東京!</v></c></row>' +
    '<row r="3"/>' +
    '<row r="4"><c r="A4" t="s"><v>4</v></c><c r="C4" t="e"><v>#N/A</v></c><c r="D4" t="b"><v>0</v></c></row>' +
    '<row r="5"><c r="B5" s="2"><v>45294</v></c><c r="C5"><v>7</v></c><c r="F5" s="1"/></row>';
  const notes = '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="B1" t="inlineStr"><is><t>b</t></is></c></row><row r="2"><c r="A2"><v>1</v></c><c r="B2"><v>2</v></c></row>';
  await withWorkbook('book.xlsx', workbookParts([{ name: 'trades', data: trades }, { name: 'notes', data: notes }], { strings, styles: STYLES }), async (file, dir) => {
    const { sheets, members } = await workbookMembers(file, path.join(dir, 'out'));
    assert.equal(sheets, 2);
    assert.deepEqual(members.map((m) => [m.member.member, m.layout]), [['trades.csv', 'sheet'], ['notes.csv', 'sheet']]);
    assert.equal(
      await readFile(members[0]!.unpacked!, 'utf8'),
      'symbol,entry_ts,pnl,won,note\n東京,2024-01-02 15:30:00,-1.2345678901234501E-2,true,東京!\n"a,""b""\r",,,false,\n,2024-01-03,7,,\n',
    );
    assert.equal(await readFile(members[1]!.unpacked!, 'utf8'), 'a,b\n1,2\n');
  });
});

test('a workbook of one sheet is named after itself; the `x:` prefix and the 1904 system read alike', async () => {
  const rows = '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>ts</x:t></x:is></x:c><x:c r="B1" t="inlineStr"><x:is><x:t>pnl</x:t></x:is></x:c></x:row><x:row r="2"><x:c r="A2" s="1"><x:v>43831.5</x:v></x:c><x:c r="B2"><x:v>2.5</x:v></x:c></x:row>';
  await withWorkbook('trades.xlsx', workbookParts([{ name: 'Sheet1', data: rows }], { styles: STYLES.replace(/<(\/?)(\w+)/g, '<$1x:$2'), date1904: true, prefix: 'x' }), async (file, dir) => {
    const { members } = await workbookMembers(file, path.join(dir, 'out'));
    assert.deepEqual(members.map((m) => m.member.member), ['trades.csv']);
    assert.equal(await readFile(members[0]!.unpacked!, 'utf8'), 'ts,pnl\n2024-01-02 12:00:00,2.5\n');
  });
});

test('a long sheet is streamed: every row across the chunk boundaries, none twice', async () => {
  const n = 40_000;
  const rows = ['<row r="1"><c r="A1" t="inlineStr"><is><t>i</t></is></c><c r="B1" t="inlineStr"><is><t>label</t></is></c></row>'];
  for (let i = 1; i <= n; i++) rows.push(`<row r="${i + 1}" spans="1:2"><c r="A${i + 1}"><v>${i}</v></c><c r="B${i + 1}" t="inlineStr"><is><t>row ${i} &amp; more</t></is></c></row>`);
  await withWorkbook('long.xlsx', workbookParts([{ name: 'Sheet1', data: rows.join('') }]), async (file, dir) => {
    const { members } = await workbookMembers(file, path.join(dir, 'out'));
    const lines = (await readFile(members[0]!.unpacked!, 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, n + 1);
    lines.slice(1).forEach((line, i) => assert.equal(line, `${i + 1},row ${i + 1} & more`));
  });
});

test('a sheet laid out as a report: its tables found as in an HTML report, named by sheet and title', async () => {
  const cell = (ref: string, v: string) => `<c r="${ref}" t="inlineStr"><is><t>${v}</t></is></c>`;
  const header = ['Time', 'Deal', 'Symbol', 'Type', 'Direction', 'Volume', 'Price'];
  const report =
    `<row r="1">${cell('A1', 'Strategy Tester Report')}</row>` +
    `<row r="3">${cell('A3', 'Deals')}</row>` +
    `<row r="4">${header.map((h, i) => cell(`${String.fromCharCode(65 + i)}4`, h)).join('')}</row>` +
    `<row r="5"><c r="A5" s="1"><v>45293.5</v></c><c r="B5"><v>1</v></c>${cell('C5', 'EURUSD')}${cell('D5', 'buy')}${cell('E5', 'in')}<c r="F5"><v>0.1</v></c><c r="G5"><v>1.1</v></c></row>`;
  const other = `<row r="1">${cell('A1', 'x')}${cell('B1', 'y')}</row><row r="2"><c r="A2"><v>1</v></c><c r="B2"><v>2</v></c></row>`;
  await withWorkbook('ReportTester.xlsx', workbookParts([{ name: 'Report', data: report }, { name: 'Other', data: other }], { styles: STYLES }), async (file, dir) => {
    const { members } = await workbookMembers(file, path.join(dir, 'out'));
    assert.deepEqual(members.map((m) => [m.member.member, m.layout]), [['Report - Deals.csv', 'report'], ['Other.csv', 'sheet']]);
    assert.equal(await readFile(members[0]!.unpacked!, 'utf8'), `${header.join(',')}\n2024-01-02 12:00:00,1,EURUSD,buy,in,0.1,1.1\n`);
  });
});

test('refused, naming the workbook: not a zip (a password, the .xls format), no workbook part, a sheet’s part missing, a value under no name', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tickscope-workbook-'));
  try {
    const file = path.join(dir, 'book.xlsx');
    await writeFile(file, Buffer.from('d0cf11e0a1b11ae1', 'hex'));
    await assert.rejects(workbookMembers(file, path.join(dir, 'out')), /book\.xlsx cannot be read as an Excel workbook: .*(password|\.xls)/);
    await writeZip(file, [{ name: 'word/document.xml', data: '<w/>' }]);
    await assert.rejects(workbookMembers(file, path.join(dir, 'out')), /book\.xlsx cannot be read as an Excel workbook: it has no xl\/workbook\.xml part/);
    await writeZip(file, workbookParts([{ name: 'Sheet1', data: '' }]).filter((p) => !p.name.startsWith('xl/worksheets')));
    await assert.rejects(workbookMembers(file, path.join(dir, 'out')), /its sheet 'Sheet1' has no part xl\/worksheets\/sheet9\.xml/);
    const rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="B1" t="inlineStr"><is><t>b</t></is></c></row><row r="7"><c r="A7"><v>1</v></c><c r="D7"><v>2</v></c></row>';
    await writeZip(file, workbookParts([{ name: 'Sheet1', data: rows }]));
    await assert.rejects(workbookMembers(file, path.join(dir, 'out')), /book\.xlsx cannot be read as an Excel workbook: sheet 'Sheet1': cell D7 holds a value beyond the last named column \(B\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a long sheet laid out as a report (a title above its list) is read whole', async () => {
  // 150,000 rows: more than a spread into Math.max takes, as the padding to the sheet's width once did.
  const n = 150_000;
  const cell = (ref: string, v: string) => `<c r="${ref}" t="inlineStr"><is><t>${v}</t></is></c>`;
  const rows = [`<row r="1">${cell('A1', 'Backtest')}</row>`, `<row r="2">${['a', 'b', 'c', 'd', 'e'].map((h, i) => cell(`${String.fromCharCode(65 + i)}2`, h)).join('')}</row>`];
  for (let i = 0; i < n; i++) rows.push(`<row r="${i + 3}">${[1, 2, 3, 4, 5].map((v, j) => `<c r="${String.fromCharCode(65 + j)}${i + 3}"><v>${v}</v></c>`).join('')}</row>`);
  await withWorkbook('report.xlsx', workbookParts([{ name: 'Sheet1', data: rows.join('') }]), async (file, dir) => {
    const { members } = await workbookMembers(file, path.join(dir, 'out'));
    assert.deepEqual(members.map((m) => [m.member.member, m.layout]), [['Backtest.csv', 'report']]);
    assert.equal((await readFile(members[0]!.unpacked, 'utf8')).trimEnd().split('\n').length, n + 1);
  });
});
