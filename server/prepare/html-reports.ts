// HTML reports among the inputs. MetaTrader writes its Strategy Tester report and its account
// statements as HTML (MetaTrader 5 in UTF-16): what a user has after a backtest, with the list of
// deals or positions as a table among the report's other tables. Each table of a report is
// written out as a CSV file into a folder the caller owns for the preparation's life, and read as
// a loose file (inputs/): a format adapter may claim it (formats/metatrader*.ts); one nobody
// claims (the report's summary, its orders) is left out. How tables are found among the rows is
// report-tables.ts's.
//
// Cells are the text of their markup, colspans counted, entities decoded, non-breaking spaces as
// spaces (MetaTrader writes "10 000.00"). Rows are found by their tags, not by a DOM: the reports
// are machine-written, and one table may hold several lists.
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../../shared/errors.js';
import type { UnpackedMember } from './archives/index.js';
import { PrepareError } from './errors.js';
import { reportTables, writeTables, type ReportTable } from './report-tables.js';

/** Whether a path is an HTML report, by its name. */
export function isHtmlReport(file: string): boolean {
  return /\.html?$/i.test(file);
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

/**
 * The tables of an HTML report, written as CSV files into `into`/<report name>/: each as a member
 * (`<report>!<table name>.csv`) with its path there.
 */
export async function reportMembers(report: string, into: string): Promise<UnpackedMember[]> {
  let tables: ReportTable[];
  try {
    tables = reportTables(reportRows(decodeReport(await readFile(report))));
  } catch (err) {
    throw new PrepareError(`input ${report} cannot be read as an HTML report: ${errorMessage(err)}`, { cause: err });
  }
  return writeTables(report, tables, into);
}
