// A dataset of several backtests laid out one per folder (results/fast/, results/slow/): each
// folder's files are one run.
import path from 'node:path';
import { placeOf } from './containers.js';
import { TABLE_KINDS, type DataFile, type TableKind } from './types.js';

/**
 * One backtest per folder: an input folder whose bars and trades all lie in two or more folders
 * directly inside it, each holding the same tables (results/fast/trades.csv, results/slow/trades.csv),
 * is that many runs, each named after its folder (DataFile.runFolder); a symbols or runs file may
 * sit beside the folders, shared by them. Not when the folders are hive partitions (key=value),
 * named after a table (bars/, trades/), or the input is files or globs: those say what they are.
 * A table whose files have a run column keeps it (table-input.ts).
 */
export function markRunFolders(inputs: readonly string[], grouped: Record<TableKind, DataFile[]>): void {
  if (inputs.length !== 1) return;
  const root = inputs[0]!;
  // A report's tables (html-reports.ts) are a backtest's files, lying where the report does.
  const isRunFile = (f: DataFile) => !f.loose || (f.archive !== undefined && f.format === 'csv');
  const runFiles = [...grouped.bars, ...grouped.trades].filter(isRunFile);
  if (runFiles.length === 0) return;
  const folderOf = (f: DataFile) => {
    const parts = path.relative(root, placeOf(f)).split(path.sep);
    return parts.length > 1 && !parts[0]!.startsWith('..') ? parts[0]! : null;
  };
  const tablesOf = new Map<string, Set<TableKind>>();
  for (const kind of ['bars', 'trades'] as const) {
    for (const f of grouped[kind].filter(isRunFile)) {
      const folder = folderOf(f);
      if (folder === null || folder.includes('=') || (TABLE_KINDS as readonly string[]).includes(folder) || folder === 'benchmark') return;
      (tablesOf.get(folder) ?? tablesOf.set(folder, new Set()).get(folder)!).add(kind);
    }
  }
  const sets = [...tablesOf.values()].map((kinds) => [...kinds].sort().join(','));
  if (tablesOf.size < 2 || new Set(sets).size !== 1) return;
  for (const f of runFiles) f.runFolder = folderOf(f)!;
}
