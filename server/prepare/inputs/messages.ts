// What is said of inputs that give no data: a dataset without bars or trades, the loose files no
// format recognised, and the files that were not read.
import { PrepareError } from '../errors.js';
import { isHtmlReport } from '../html-reports.js';
import { isWorkbook } from '../workbooks.js';
import { isSavedFrames } from './file-kinds.js';
import { TABLE_KINDS, type DataFile, type ResolvedInputs, type Source, type TableKind } from './types.js';

/**
 * A dataset has neither bars nor trades (bars are made of trades when only those exist): what was
 * found, what was there and not read (JSON files no format recognised, with their keys; archives),
 * and where both tables come from.
 */
export function noBarsError(
  resolved: Pick<ResolvedInputs, 'inputs' | 'archives'>,
  sources: Record<TableKind, Source | null>,
  recognised: readonly string[],
  unrecognised: readonly { path: string; keys: readonly string[]; kind: LooseKind }[] = [],
): PrepareError {
  const found = [...recognised, ...TABLE_KINDS.filter((k) => sources[k]).map((k) => `${k} (${sources[k]!.files.length} file(s))`)];
  const lines = [
    `input ${resolved.inputs.join(', ')} has neither bars nor trades: found ${found.join(', ') || 'no data files'}; bars are read from a bars/ folder, a bars.parquet, bars.csv or bars.arrow file, any data file not named after another table, or a format the README lists (e.g. pyfolio's positions and transactions, or a returns series); trades from a trades/ folder or file, or a format the README lists`,
  ];
  for (const file of unrecognised) {
    const keys = file.keys.length > 8 ? `${file.keys.slice(0, 8).join(', ')}, ...` : file.keys.join(', ');
    lines.push(looseFileLine(file.path, file.kind, keys));
  }
  if (resolved.archives?.length) lines.push(unreadArchivesText(resolved.archives));
  return new PrepareError(lines);
}

/**
 * What a loose file (DataFile.loose) is, for messages: a JSON document, a table of an HTML
 * report, a sheet of a workbook (or a table in one), or an archive's data file.
 */
export type LooseKind = 'json' | 'report' | 'workbook' | 'frames' | 'archive';

export function looseKind(f: Pick<DataFile, 'format' | 'archive'>): LooseKind {
  if (f.format === 'json') return 'json';
  if (f.archive && isWorkbook(f.archive.archive)) return 'workbook';
  if (f.archive && isSavedFrames(f.archive.archive)) return 'frames';
  return f.archive && isHtmlReport(f.archive.archive) ? 'report' : 'archive';
}

/** What is said of a loose file no format recognised, by what it is (`keys`: its columns, or a JSON document's top-level keys). */
function looseFileLine(file: string, kind: LooseKind, keys: string): string {
  switch (kind) {
    case 'report':
      return `${file}: a table of an HTML report that no format recognises (columns: ${keys || 'none'}); of HTML reports, MetaTrader's lists of positions and of deals are read, with their English headers`;
    case 'workbook':
      return `${file}: a sheet of a workbook that no format recognises (columns: ${keys || 'none'}); a sheet is read as the table its name says (trades, bars, symbols, runs, benchmark), a workbook's only sheet as a file of the workbook's name, and sheets a format the README lists (TradingView's List of trades, pyfolio's returns, positions and transactions)`;
    case 'frames':
      return `${file}: a pandas frame of a pickle or HDF5 store that no format recognises (columns: ${keys || 'none'}); such a frame is read as the CSV its to_csv would write, lying where the file does: as the table its name or key says (trades.pkl, a store's key trades), or a format the README lists (zipline's perf, pyfolio's returns, positions and transactions)`;
    case 'archive':
      return `${file}: a file of an archive whose name says no table (columns: ${keys || 'none'}); an archive's files are read where their names say which table (trades.csv, bars/), or as a format the README lists`;
    case 'json':
      return `${file}: a JSON document no format recognises (top-level keys: ${keys || 'none'}); JSON is read as a table when it holds rows (an array of records, or a record per line) and its name says which (trades.json, bars/), else as a result format the README lists`;
  }
}

/**
 * What is said of the files among the inputs that were not read (ResolvedInputs.archives): in the
 * error of a dataset without data, and beside a prepared or inspected one, since a `trades.7z` or
 * a `trades.pickle` next to the bars leaves the dataset without trades.
 */
export function unreadArchivesText(archives: readonly string[]): string {
  return `not read: ${archives.join('; ')}`;
}
