// HTML reports among the inputs. MetaTrader writes its Strategy Tester report and its account
// statements as HTML (MetaTrader 5 in UTF-16): what a user has after a backtest, with the list of
// deals or positions as a table among the report's other tables. Each table of a report is
// written out as a CSV file into a folder the caller owns for the preparation's life, and read as
// a loose file (inputs.ts): a format adapter may claim it (formats/metatrader*.ts); one nobody
// claims (the report's summary, its orders) is left out.
//
// A table here is a header row (five or more names, none a number) and the rows after it with as
// many cells, colspans counted, until a row with another count. A row of one cell before a header
// (MetaTrader's "Deals", "Positions") names the table; empty rows are skipped. The report's
// heading, rows of labels and their values ("Symbol", "EURUSD (Euro vs US Dollar)"), is one more
// table, `Summary` (label, value). Cells are the text of their markup, entities decoded, non-breaking spaces as spaces
// (MetaTrader writes "10 000.00"). Rows are found by their tags, not by a DOM: the reports are
// machine-written, and one table may hold several lists.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import { PrepareError } from './errors.js';
import { unpackFolderOf, type ArchiveMember } from './archives.js';

/** Whether a path is an HTML report, by its name. */
export function isHtmlReport(file: string): boolean {
  return /\.html?$/i.test(file);
}

/** One table of a report: its name, its header and its rows of text. */
export interface ReportTable {
  name: string;
  header: string[];
  rows: string[][];
}

/** The text of a file: UTF-16 when its byte-order mark says so (MetaTrader 5), else UTF-8, else Latin-1. */
export function decodeReport(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // MetaTrader 4 writes its statements in the terminal's Windows code page.
    return new TextDecoder('latin1').decode(bytes);
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** A cell's markup as text: tags dropped, entities decoded, runs of white space (non-breaking too) one space. */
function cellText(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] === '#') return String.fromCodePoint(name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10));
      return ENTITIES[name.toLowerCase()] ?? whole;
    })
    .replace(/[\s\u00a0]+/g, ' ')
    .trim();
}

/** The rows of a document, each its cells' text with a cell of colspan n repeated as n cells (the first with the text). */
export function reportRows(html: string): string[][] {
  const rows: string[][] = [];
  // A row runs from its <tr> to the next <tr> or the end of its table: closing tags are optional.
  for (const row of html.split(/<tr\b[^>]*>/i).slice(1)) {
    const body = row.split(/<\/table>/i)[0]!;
    const cells: string[] = [];
    for (const cell of body.split(/(?=<t[dh]\b)/i)) {
      const open = /^<t[dh]\b([^>]*)>/i.exec(cell);
      if (!open) continue;
      const span = Number(/colspan\s*=\s*["']?(\d+)/i.exec(open[1]!)?.[1] ?? 1);
      cells.push(cellText(cell.slice(open[0].length).replace(/<\/t[dh]>[\s\S]*$/i, '')));
      for (let i = 1; i < Math.min(span, 1000); i++) cells.push('');
    }
    if (cells.length) rows.push(cells);
  }
  return rows;
}

const NUMBER = /^[-+−]?[\d\s.,]+%?$/;

/** Five or more names, none a number; empty cells only where a name's colspan left them. */
function isHeader(cells: readonly string[]): boolean {
  const names = cells.filter((c) => c !== '');
  return cells[0] !== '' && names.length >= 5 && names.every((c) => !NUMBER.test(c));
}

/** The tables of a document's rows (see the header). */
export function reportTables(rows: readonly string[][]): ReportTable[] {
  const tables: ReportTable[] = [];
  const summary: ReportTable = { name: SUMMARY_TABLE, header: ['label', 'value'], rows: [] };
  let title: string | null = null;
  let current: ReportTable | null = null;
  for (const cells of rows) {
    const filled = cells.filter((c) => c !== '');
    if (filled.length === 0) continue;
    // A row of one text is a title, never a list's row (a deal or position fills many cells).
    if (current && cells.length === current.header.length && filled.length > 1 && !isHeader(cells)) {
      current.rows.push(cells);
      continue;
    }
    current = null;
    if (isHeader(cells)) {
      current = { name: title ?? `table ${tables.length + 1}`, header: [...cells], rows: [] };
      tables.push(current);
      title = null;
    } else if (filled.length === 1) title = filled[0]!;
    else if (filled.length % 2 === 0) summary.rows.push(...labelledValues(filled));
  }
  return [...tables, summary].filter((t) => t.rows.length > 0);
}

/** The report's heading, label by label ("Symbol", "EURUSD (Euro vs US Dollar)"): a table of its own, `Summary`. */
export const SUMMARY_TABLE = 'Summary';

/** A heading row's cells as label/value pairs, when they alternate a text and its value. */
function labelledValues(filled: readonly string[]): string[][] {
  const pairs: string[][] = [];
  for (let i = 0; i < filled.length; i += 2) {
    const label = filled[i]!.replace(/:$/, '').trim();
    if (label === '' || NUMBER.test(label)) return [];
    pairs.push([label, filled[i + 1]!]);
  }
  return pairs;
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** A table as CSV text. */
export function tableCsv(t: ReportTable): string {
  return [t.header, ...t.rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

/**
 * The tables of an HTML report, written as CSV files into `into`/<report name>/ when `into` is
 * given: each as an archive member (`<report>!<table name>.csv`) with its path there, else null.
 */
export async function reportMembers(report: string, into: string | null): Promise<{ member: ArchiveMember; unpacked: string | null }[]> {
  let tables: ReportTable[];
  try {
    tables = reportTables(reportRows(decodeReport(await readFile(report))));
  } catch (err) {
    throw new PrepareError(`input ${report} cannot be read as an HTML report: ${errorMessage(err)}`, { cause: err });
  }
  const folder = into === null ? null : unpackFolderOf(into, report);
  const out: { member: ArchiveMember; unpacked: string | null }[] = [];
  const names = new Set<string>();
  for (const t of tables) {
    // A table's file is named after its title, made safe and unique ("Deals.csv", "table 3.csv").
    const base = t.name.replace(/[^\w .-]+/g, '_').slice(0, 76) || 'table';
    let name = base;
    for (let i = 2; names.has(name.toLowerCase()); i++) name = `${base} ${i}`;
    names.add(name.toLowerCase());
    let unpacked: string | null = null;
    if (folder !== null) {
      await mkdir(folder, { recursive: true });
      unpacked = path.join(folder, `${name}.csv`);
      await writeFile(unpacked, tableCsv(t));
    }
    out.push({ member: { archive: report, member: `${name}.csv` }, unpacked });
  }
  return out;
}
