// A prepared dataset as segments: a base store and delta stores, each a complete store of
// format.ts built by the same pipeline from its own input files, listed by a manifest
// (<key>.segments.json beside the stores). Adding runs to a dataset builds one delta from the new
// runs' files instead of preparing everything again (server/prepare/add-runs.ts); a session opens
// every segment READ_ONLY and reads them through views with the canonical table names
// (server/session/store.ts), so the query planners see one store. docs/architecture.md, "Adding
// runs", has the why.
//
// How each table of the union is read (SEGMENT_TABLE_RULES). Tables whose rows belong to one run
// are the UNION ALL of the segments (a delta holds only new runs). market_day and benchmark_day
// mix runs: the delta rebuilds them over every segment and the union reads the newest segment's.
// trade_list's ranks (rk_<c>) are over every trade of one store: rebuilding them costs a sort of
// every trade of the dataset per ranked column (seconds per million trades, more than preparing
// the new run), so a delta keeps its own and the union's trade_list is the UNION ALL of each
// segment's, whose ranks compare only within a segment: the catalog says so (Catalog.tradeRanks)
// and the trade window and scatter planners then sort by the columns themselves.

import { StoreTable, type RankedTradeColumn } from './format.js';

export const MANIFEST_VERSION = 1;

/** The manifest's file name suffix: <dataset key>.segments.json. */
export const MANIFEST_SUFFIX = '.segments.json';

/**
 * Per segment store, each (symbol, day)'s close as market_day takes it: the close of the
 * alphabetically first run of that segment holding the symbol that day (run_id, close). A delta
 * merges these (the smallest run_id wins) instead of reading every segment's symbol_day.
 */
export const MARKET_CLOSE_TABLE = 'market_close';

export const MARKET_CLOSE_SELECT = `SELECT symbol, day, min(run_id) AS run_id, arg_min(close, run_id) AS close
  FROM ${StoreTable.symbolDay} GROUP BY symbol, day ORDER BY symbol, day`;

export interface SegmentFile {
  /** Table kind (inputs/types.ts TableKind) or 'benchmark'. */
  kind: string;
  /** Relative to the dataset folder when there is one folder input, else absolute. */
  path: string;
  size: number;
  mtimeMs: number;
}

export interface SegmentEntry {
  /** The store file's name, in the manifest's folder. */
  store: string;
  /** The input files this segment was built from (a delta: only its new runs' files). */
  files: SegmentFile[];
  /** The runs whose bars or trades this segment holds. */
  runs: string[];
}

export interface SegmentManifest {
  manifestVersion: number;
  formatVersion: number;
  /** Base first, then the deltas in the order they were added. */
  segments: SegmentEntry[];
}

/**
 * How the union of segments reads a table:
 * - 'runs': rows of one run each: UNION ALL of every segment.
 * - 'newest': rebuilt over every segment by each delta: the newest segment's.
 * - 'base': the base's (meta: the dataset's settings, which a delta must share; column_sources).
 * - 'symbols': one row per symbol, the first segment's that has it (the same symbols file).
 * - 'run-rows': one row per run, the newest segment's that has it.
 * - 'tag-counts': trades per tag summed over segments.
 * - 'hidden': a segment's own helper, not a table of format.ts.
 */
export type SegmentTableRule = 'runs' | 'newest' | 'base' | 'symbols' | 'run-rows' | 'tag-counts' | 'hidden';

const CLUSTERED_COPIES: Record<`trade_list_by_${Extract<RankedTradeColumn, 'pnl' | 'ret'>}`, SegmentTableRule> = {
  trade_list_by_pnl: 'runs',
  trade_list_by_ret: 'runs',
};

/** Every table of a store and its rule; a table missing here fails test/unit/segments.test.ts. */
export const SEGMENT_TABLE_RULES: Record<string, SegmentTableRule> = {
  meta: 'base',
  [StoreTable.runs]: 'run-rows',
  [StoreTable.symbols]: 'symbols',
  [StoreTable.bars]: 'runs',
  [StoreTable.trades]: 'runs',
  [StoreTable.sectorBar]: 'runs',
  [StoreTable.portfolioBar]: 'runs',
  [StoreTable.portfolioDay]: 'runs',
  [StoreTable.symbolDay]: 'runs',
  [StoreTable.symbolDayByDay]: 'runs',
  // Recomputed by a delta over the union's trading days (add-runs.ts), so its rows are per run.
  [StoreTable.symbolDayGaps]: 'runs',
  [StoreTable.sectorDay]: 'runs',
  [StoreTable.symbolTotal]: 'runs',
  [StoreTable.marketDay]: 'newest',
  // Its ranks compare within a segment only (see above).
  [StoreTable.tradeList]: 'runs',
  // Each segment's smallest sample keys: the union holds the dataset's (queries/scatter.ts).
  [StoreTable.tradeSample]: 'runs',
  [StoreTable.tradeSampleBySector]: 'runs',
  ...CLUSTERED_COPIES,
  [StoreTable.tradeDay]: 'runs',
  [StoreTable.barsByTime]: 'runs',
  [StoreTable.tradeTags]: 'tag-counts',
  [StoreTable.benchmarkDay]: 'newest',
  [StoreTable.dataQuality]: 'runs',
  [StoreTable.columnSources]: 'base',
  [MARKET_CLOSE_TABLE]: 'hidden',
};

/** The schema of segment i in a session's database (each segment ATTACHed under this name). */
export function segmentSchema(i: number): string {
  return `seg${i}`;
}

/**
 * The SELECT a view named `table` runs over `count` attached segments (segmentSchema(0..count-1)),
 * or null for a table the union does not show. Unknown tables are refused: a table added to
 * format.ts needs its rule here before a segmented dataset can be read.
 */
export function segmentViewSelect(table: string, count: number): string | null {
  const rule = SEGMENT_TABLE_RULES[table];
  if (rule === undefined) throw new Error(`the store table ${table} has no rule for reading segments (server/store/segments.ts)`);
  const at = (i: number) => `${segmentSchema(i)}.main.${table}`;
  const all = Array.from({ length: count }, (_, i) => i);
  const tagged = all.map((i) => `SELECT *, ${i} AS _segment FROM ${at(i)}`).join(' UNION ALL ');
  switch (rule) {
    case 'hidden':
      return null;
    case 'base':
      return `SELECT * FROM ${at(0)}`;
    case 'newest':
      return `SELECT * FROM ${at(count - 1)}`;
    case 'runs':
      return all.map((i) => `SELECT * FROM ${at(i)}`).join(' UNION ALL ');
    case 'symbols':
      return `SELECT * EXCLUDE (_segment) FROM (${tagged}) QUALIFY row_number() OVER (PARTITION BY symbol ORDER BY _segment) = 1`;
    case 'run-rows':
      return `SELECT * EXCLUDE (_segment) FROM (${tagged}) QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY _segment DESC) = 1`;
    case 'tag-counts':
      return `SELECT tag, sum(trades)::BIGINT AS trades FROM (${tagged}) GROUP BY tag`;
  }
}
