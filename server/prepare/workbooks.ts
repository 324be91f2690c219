// Excel workbooks among the inputs (.xlsx, .xlsm). TradingView exports its strategy report as one
// (a "List of trades" sheet beside its performance sheets), MetaTrader 5 saves its tester report
// as one, and pandas users write their frames with `to_excel`. Each sheet is written out as CSV
// into the preparation's unpack folder, as an HTML report's tables are (report-tables.ts), and
// read as a file lying where the workbook does (inputs/):
//   - a sheet whose first row is a header (two or more names, none a number) is one table, named
//     after the workbook when it is the only sheet (trades.xlsx is trades.csv), else after the
//     sheet (a sheet "trades" is trades.csv, "List of trades" is List of trades.csv);
//   - any other sheet is read as a report (a title, a heading of labels and values, lists):
//     report-tables.ts finds its tables.
// Cells are written as Excel stored them: numbers as the text in the file (the shortest that reads
// back the same double), a number in a date or time format as ISO text to the millisecond (Excel
// keeps no zone: the time is the wall clock it showed), text from the shared strings or inline,
// booleans as true/false, and an error (#N/A, #DIV/0!) as an empty cell.
//
// A workbook is a zip of XML parts (ECMA-376). yauzl reads the zip; the parts are machine-written,
// so elements are found by their tags, not by a DOM, and each sheet is streamed a row at a time:
// a sheet of a million rows is never held whole.
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import yauzl from 'yauzl';
import { errorMessage } from '../../shared/errors.js';
import { unpackFolderOf, type UnpackedMember } from './archives/index.js';
import { PrepareError } from './errors.js';
import { csvLine, memberName, NUMBER, reportTables, writeTables } from './report-tables.js';

/** Whether a path is an Excel workbook we read, by its name (not Excel's lock file `~$name.xlsx`). */
export function isWorkbook(file: string): boolean {
  return /\.xls[xm]$/i.test(file) && !path.basename(file).startsWith('~$');
}

/** A table written out of a workbook, and how it was found: a sheet headed by its column names, or a table among a report's rows. */
export interface WorkbookMember extends UnpackedMember {
  layout: 'sheet' | 'report';
}

export interface WorkbookTables {
  /** How many sheets the workbook has (a workbook of one sheet is named after itself). */
  sheets: number;
  members: WorkbookMember[];
}

/** A sheet as the workbook lists it. */
interface SheetPart {
  name: string;
  part: string;
}

/** What reading a sheet's cells needs from the workbook's other parts. */
interface CellContext {
  strings: string[];
  /** Per cell style (`s`), the kind of value its number format shows, when a date or time. */
  dateStyles: Map<number, 'date' | 'datetime'>;
  date1904: boolean;
}

/**
 * The sheets of a workbook, written as CSV files into `into`/<workbook name>/ (see the header):
 * each as a member (`<workbook>!<name>.csv`) with its path there.
 */
export async function workbookMembers(workbook: string, into: string): Promise<WorkbookTables> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(workbook, { lazyEntries: true, autoClose: false });
  } catch (err) {
    throw new PrepareError(
      `input ${workbook} cannot be read as an Excel workbook: ${errorMessage(err)} (a workbook saved with a password, or in Excel 97-2003's .xls format, is not a zip: save it as .xlsx without a password, or as CSV)`,
      { cause: err },
    );
  }
  try {
    const entries = new Map<string, yauzl.Entry>();
    for await (const entry of zip.eachEntry()) entries.set(entry.fileName.replace(/^\//, ''), entry);
    const text = async (part: string) => {
      const entry = entries.get(part);
      return entry ? streamText(await zip.openReadStreamPromise(entry)) : null;
    };
    const book = await text('xl/workbook.xml');
    if (book === null) throw new Error('it has no xl/workbook.xml part');
    const sheets = sheetParts(book, (await text('xl/_rels/workbook.xml.rels')) ?? '');
    const context: CellContext = {
      strings: sharedStrings((await text('xl/sharedStrings.xml')) ?? ''),
      dateStyles: dateStyles((await text('xl/styles.xml')) ?? ''),
      date1904: /<(?:\w+:)?workbookPr\b[^>]*\bdate1904="(?:1|true)"/.test(book),
    };
    const taken = new Set<string>();
    const members: WorkbookMember[] = [];
    const folder = unpackFolderOf(into, workbook);
    for (const sheet of sheets) {
      const entry = entries.get(sheet.part);
      if (!entry) throw new Error(`its sheet '${sheet.name}' has no part ${sheet.part}`);
      const title = sheets.length === 1 ? path.basename(workbook).replace(/\.[^.]+$/, '') : sheet.name;
      const read = await readSheet(zip, entry, sheet.name, context, () => memberName(title, taken), folder);
      if (read.layout === 'sheet') members.push({ member: { archive: workbook, member: read.name }, unpacked: read.unpacked, layout: 'sheet' });
      else {
        // A sheet stores no cell past a row's last value; an HTML report's rows all span its table.
        // (A reduce, not Math.max(...rows): a spread of a long sheet's rows overflows the stack.)
        const width = read.rows.reduce((w, r) => Math.max(w, r.length), 0);
        const rows = read.rows.map((r) => (r.length < width ? [...r, ...Array<string>(width - r.length).fill('')] : r));
        const tables = reportTables(rows).map((t) => ({ ...t, name: sheets.length === 1 ? t.name : `${sheet.name} - ${t.name}` }));
        members.push(...(await writeTables(workbook, tables, into, taken)).map((m) => ({ ...m, layout: 'report' as const })));
      }
    }
    return { sheets: sheets.length, members };
  } catch (err) {
    if (err instanceof PrepareError) throw err;
    throw new PrepareError(`input ${workbook} cannot be read as an Excel workbook: ${errorMessage(err)}`, { cause: err });
  } finally {
    zip.close();
  }
}

async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  stream.setEncoding('utf8');
  let out = '';
  for await (const chunk of stream) out += chunk as string;
  return out;
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Text of XML: entities, and OOXML's `_xHHHH_` escapes of characters XML cannot hold. */
export function xmlText(s: string): string {
  if (!s.includes('&') && !s.includes('_x')) return s;
  return s
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] === '#') return String.fromCodePoint(name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10));
      return XML_ENTITIES[name] ?? whole;
    })
    .replace(/_x([0-9a-f]{4})_/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

// The patterns below, made once per name: a sheet asks for them on every row and cell.
const attrPatterns = new Map<string, RegExp>();
const elementPatterns = new Map<string, RegExp>();

/** An attribute's value in a tag's attribute text, prefixed or not (`r:id`, `name`). */
function attr(attrs: string, name: string): string | null {
  let re = attrPatterns.get(name);
  if (!re) attrPatterns.set(name, (re = new RegExp(`(?:^|\\s)${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`)));
  const m = re.exec(attrs);
  return m ? xmlText(m[1] ?? m[2]!) : null;
}

/** Every element `tag` (any namespace prefix): its attribute text and its content ('' when empty). */
function elements(xml: string, tag: string): { attrs: string; body: string }[] {
  let re = elementPatterns.get(tag);
  if (!re) elementPatterns.set(tag, (re = new RegExp(`<(?:\\w+:)?${tag}\\b([^>]*?)(?:/>|>([\\s\\S]*?)</(?:\\w+:)?${tag}>)`, 'g')));
  return [...xml.matchAll(re)].map((m) => ({ attrs: m[1]!, body: m[2] ?? '' }));
}

/** The text runs of a string item (`<si>`, `<is>`), phonetic guides (`<rPh>`) left out. */
function runText(body: string): string {
  return elements(body.replace(/<(?:\w+:)?rPh\b[\s\S]*?<\/(?:\w+:)?rPh>/g, ''), 't')
    .map((t) => xmlText(t.body))
    .join('');
}

/** The worksheets in the workbook's order, with their parts (charts and macro sheets left out). */
function sheetParts(book: string, rels: string): SheetPart[] {
  const targets = new Map<string, string>();
  for (const r of elements(rels, 'Relationship')) {
    const id = attr(r.attrs, 'Id');
    const target = attr(r.attrs, 'Target');
    if (id && target && /\/worksheet$/.test(attr(r.attrs, 'Type') ?? '')) {
      targets.set(id, target.startsWith('/') ? target.slice(1) : path.posix.normalize(`xl/${target}`));
    }
  }
  const out: SheetPart[] = [];
  for (const s of elements(book, 'sheet')) {
    const part = targets.get(attr(s.attrs, 'r:id') ?? attr(s.attrs, '\\w+:id') ?? '');
    if (part) out.push({ name: attr(s.attrs, 'name') ?? `sheet ${out.length + 1}`, part });
  }
  if (out.length === 0) throw new Error('it lists no worksheet');
  return out;
}

function sharedStrings(xml: string): string[] {
  return elements(xml, 'si').map((si) => runText(si.body));
}

/** Excel's built-in number formats that show a date (14-17), a date and time (22), a time (18-21, 45-47). */
const BUILTIN_DATE_FORMATS = new Map<number, 'date' | 'datetime'>([
  [14, 'date'], [15, 'date'], [16, 'date'], [17, 'date'], [22, 'datetime'],
  [18, 'datetime'], [19, 'datetime'], [20, 'datetime'], [21, 'datetime'], [45, 'datetime'], [46, 'datetime'], [47, 'datetime'],
]);

/** Whether a format code shows a date or a time, and which: its tokens outside quotes, escapes and brackets (colours, locales). */
export function formatKind(code: string): 'date' | 'datetime' | null {
  // Only the first section (positive numbers) says how a date shows.
  const bare = code
    .replace(/"[^"]*"/g, '')
    .replace(/\\./g, '')
    .replace(/[_*]./g, '')
    .replace(/\[(?![hms]+\])[^\]]*\]/gi, '')
    .split(';')[0]!;
  if (!/[dmyhs]/i.test(bare) || /^general$/i.test(bare.trim())) return null;
  return /[hs]/i.test(bare) ? 'datetime' : 'date';
}

function dateStyles(xml: string): Map<number, 'date' | 'datetime'> {
  const formats = new Map(BUILTIN_DATE_FORMATS);
  for (const f of elements(xml, 'numFmt')) {
    const id = Number(attr(f.attrs, 'numFmtId'));
    const kind = formatKind(attr(f.attrs, 'formatCode') ?? '');
    if (kind) formats.set(id, kind);
    else formats.delete(id);
  }
  const out = new Map<number, 'date' | 'datetime'>();
  const xfs = elements(xml, 'cellXfs')[0]?.body ?? '';
  elements(xfs, 'xf').forEach((xf, i) => {
    const kind = formats.get(Number(attr(xf.attrs, 'numFmtId') ?? 0));
    if (kind) out.set(i, kind);
  });
  return out;
}

const DAY_MS = 86_400_000;

/** A date serial as ISO text: a date alone when its format shows no time and it has none, to the millisecond otherwise. */
export function serialDate(serial: number, kind: 'date' | 'datetime', date1904: boolean): string {
  // Serial 1 is 1900-01-01 and Excel counts a 29 February 1900 (serial 60) that never was, so from
  // 61 on day 0 is 1899-12-30; the 1904 system counts from 1904-01-01.
  const days = date1904 ? serial + 1462 : serial < 61 ? serial + 1 : serial;
  const ms = Math.round(days * DAY_MS) - 25_569 * DAY_MS;
  const iso = new Date(ms).toISOString();
  if (serial >= 0 && serial < 1 && kind === 'datetime') return iso.slice(11, ms % 1000 === 0 ? 19 : 23);
  if (kind === 'date' && ms % DAY_MS === 0) return iso.slice(0, 10);
  return `${iso.slice(0, 10)} ${iso.slice(11, ms % 1000 === 0 ? 19 : 23)}`;
}

/** A cell's column from its reference (`AB12` is 27), or null without one. */
function columnOf(ref: string | null): number | null {
  const letters = ref && /^[A-Z]+/i.exec(ref)?.[0];
  if (!letters) return null;
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + ch.charCodeAt(0) - 64;
  return n - 1;
}

function columnName(index: number): string {
  let name = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return name;
}

// A sheet's cells, and a cell's value: matched with exec over one pattern each (rowCells runs once
// per row, never re-entered), since building arrays of matches was most of the time a sheet took.
const CELL = /<(?:\w+:)?c\b([^>]*?)(?:\/>|>([\s\S]*?)<\/(?:\w+:)?c>)/g;
const VALUE = /<(?:\w+:)?v(?:\s[^>]*)?>([\s\S]*?)<\/(?:\w+:)?v>/;

/** A row's cells as text (see the header), and which of them hold numbers (dates too). */
function rowCells(body: string, ctx: CellContext): { cells: string[]; numbers: boolean[] } {
  const cells: string[] = [];
  const numbers: boolean[] = [];
  CELL.lastIndex = 0;
  for (let c = CELL.exec(body); c; c = CELL.exec(body)) {
    const attrs = c[1]!;
    const inner = c[2] ?? '';
    const col = columnOf(attr(attrs, 'r')) ?? cells.length;
    const type = attr(attrs, 't') ?? 'n';
    const v = VALUE.exec(inner)?.[1];
    let text = '';
    if (type === 'inlineStr') text = runText(elements(inner, 'is')[0]?.body ?? '');
    else if (v === undefined) text = '';
    else if (type === 's') text = ctx.strings[Number(v)] ?? '';
    else if (type === 'str' || type === 'd') text = xmlText(v);
    else if (type === 'b') text = v.trim() === '1' ? 'true' : 'false';
    else if (type === 'e') text = '';
    else {
      const kind = ctx.dateStyles.get(Number(attr(attrs, 's') ?? 0));
      text = kind && Number.isFinite(Number(v)) ? serialDate(Number(v), kind, ctx.date1904) : v.trim();
      numbers[col] = true;
    }
    while (cells.length < col) cells.push('');
    cells[col] = text;
  }
  return { cells, numbers };
}

type SheetRead = { layout: 'sheet'; name: string; unpacked: string } | { layout: 'report'; rows: string[][] };

/**
 * One sheet, streamed a row at a time: written as CSV when its first row is a header, else its
 * rows kept for report-tables.ts (a report is a page, not a million rows).
 */
async function readSheet(zip: yauzl.ZipFile, entry: yauzl.Entry, sheet: string, ctx: CellContext, name: () => string, folder: string): Promise<SheetRead> {
  const stream = await zip.openReadStreamPromise(entry);
  stream.setEncoding('utf8');
  const rowRe = /<(?:\w+:)?row\b([^>]*?)(?:\/>|>([\s\S]*?)<\/(?:\w+:)?row>)/g;
  let header: string[] | null = null;
  let read: SheetRead | null = null;
  let out: FileHandle | null = null;
  const rows: string[][] = [];
  let buffer = '';
  try {
    for await (const chunk of stream) {
      buffer += chunk as string;
      let consumed = 0;
      let lines = '';
      rowRe.lastIndex = 0;
      for (let m = rowRe.exec(buffer); m; m = rowRe.exec(buffer)) {
        consumed = rowRe.lastIndex;
        const { cells, numbers } = rowCells(m[2] ?? '', ctx);
        if (cells.every((c) => c === '')) continue;
        if (read === null) {
          const filled = cells.filter((c) => c !== '');
          if (filled.length >= 2 && cells.every((c, i) => c === '' || (!numbers[i] && !NUMBER.test(c)))) {
            header = cells.slice(0, cells.findLastIndex((c) => c !== '') + 1);
            const file = name();
            const unpacked = path.join(folder, file);
            await mkdir(folder, { recursive: true });
            out = await open(unpacked, 'w');
            read = { layout: 'sheet', name: file, unpacked };
            lines += `${csvLine(header)}\n`;
            continue;
          }
          read = { layout: 'report', rows };
        }
        if (header === null) {
          rows.push(cells);
          continue;
        }
        const beyond = cells.findIndex((c, i) => i >= header!.length && c !== '');
        if (beyond >= 0) {
          throw new Error(
            `sheet '${sheet}': cell ${columnName(beyond)}${attr(m[1]!, 'r') ?? ''} holds a value beyond the last named column (${columnName(header.length - 1)}); name every column in the sheet's first row`,
          );
        }
        while (cells.length < header.length) cells.push('');
        lines += `${csvLine(cells.slice(0, header.length))}\n`;
      }
      buffer = buffer.slice(consumed);
      if (out !== null && lines) await out.write(lines);
    }
  } finally {
    await out?.close();
  }
  return read ?? { layout: 'report', rows };
}
