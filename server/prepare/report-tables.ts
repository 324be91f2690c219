// Tables found in a report's rows: MetaTrader's HTML reports (html-reports.ts) and a sheet of a
// workbook laid out as a report (workbooks.ts) hold their lists among titles, a heading of labels
// and values, and totals. Each table found is written out as a CSV file into the preparation's
// unpack folder and read as a loose file (inputs/): a format adapter may claim it; one nobody
// claims is left out.
//
// A table here is a header row (five or more names, none a number) and the rows after it with as
// many cells, colspans counted, until a row with another count. A row of one cell before a header
// (MetaTrader's "Deals", "Positions") names the table; empty rows are skipped. The report's
// heading, rows of labels and their values ("Symbol", "EURUSD (Euro vs US Dollar)"), is one more
// table, `Summary` (label, value).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { unpackFolderOf, type UnpackedMember } from './archives/index.js';

/** One table of a report: its name, its header and its rows of text. */
export interface ReportTable {
  name: string;
  header: string[];
  rows: string[][];
}

/** A cell that reads as a number (`1 102,00`, `12.5%`): never a header's name. */
export const NUMBER = /^[-+−]?[\d\s.,]+%?$/;

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

/** One row as a line of CSV (no line end). */
export function csvLine(cells: readonly string[]): string {
  return cells.map(csvField).join(',');
}

/** A table as CSV text. */
export function tableCsv(t: ReportTable): string {
  return [t.header, ...t.rows].map(csvLine).join('\n') + '\n';
}

/** A table's file name in its source's folder: its title made safe, unique among `taken` ("Deals.csv", "table 3.csv"). */
export function memberName(title: string, taken: Set<string>): string {
  const base = title.replace(/[^\w .-]+/g, '_').slice(0, 76) || 'table';
  let name = base;
  for (let i = 2; taken.has(name.toLowerCase()); i++) name = `${base} ${i}`;
  taken.add(name.toLowerCase());
  return `${name}.csv`;
}

/**
 * The tables of `source` (a report), written as CSV files into `into`/<source name>/: each as a
 * member (`<source>!<table name>.csv`) with its path there.
 */
export async function writeTables(source: string, tables: readonly ReportTable[], into: string, taken = new Set<string>()): Promise<UnpackedMember[]> {
  const folder = unpackFolderOf(into, source);
  const out: UnpackedMember[] = [];
  for (const t of tables) {
    const name = memberName(t.name, taken);
    const unpacked = path.join(folder, name);
    await mkdir(folder, { recursive: true });
    await writeFile(unpacked, tableCsv(t));
    out.push({ member: { archive: source, member: name }, unpacked });
  }
  return out;
}
