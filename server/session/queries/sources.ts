// Where a query's rows come from. Three levels of detail (the whole portfolio, per sector, per
// symbol), each at two resolutions (per bar, per day). The engine takes the coarsest level the
// filters and grouping allow, and answers a time range from day rollups for its whole days and
// from bar tables for the (at most two) days it cuts: exact, and a few thousand rows instead of
// the hundred million of the bar table.
import { BAR_MEASURES, StoreTable } from '../../store/format.js';
import { midnightOf, type Catalog } from '../store.js';
import { rangeEndCondition, runsCondition, timeCondition, type RangeCut, type Scope } from './scope.js';
import { and, type Binder } from './sql.js';

export type Level = 'portfolio' | 'sector' | 'symbol';
const RANK: Record<Level, number> = { portfolio: 0, sector: 1, symbol: 2 };

/** The coarsest level that can honour the scope's dimension filters and at least `needed`. */
export function levelFor(scope: Scope, needed: Level = 'portfolio'): Level {
  const byFilters: Level = scope.symbols ? 'symbol' : scope.sectors ? 'sector' : 'portfolio';
  return RANK[byFilters] >= RANK[needed] ? byFilters : needed;
}

interface LevelTables {
  bar: string;
  key: string[];
  /** Per-bar measure expressions over the bar table. */
  measures: Record<'pnl' | 'fees' | 'traded_value' | 'gross' | 'net' | 'long' | 'short', string>;
}

const ROLLUP_MEASURES = {
  pnl: 'pnl',
  fees: 'fees',
  traded_value: 'traded_value',
  gross: 'gross_exposure',
  net: 'net_exposure',
  long: 'long_exposure',
  short: 'short_exposure',
};

const LEVELS: Record<Level, LevelTables> = {
  portfolio: { bar: StoreTable.portfolioBar, key: [], measures: ROLLUP_MEASURES },
  sector: { bar: StoreTable.sectorBar, key: ['sector'], measures: ROLLUP_MEASURES },
  symbol: { bar: StoreTable.bars, key: ['symbol'], measures: BAR_MEASURES },
};

/** The bar measures in time order: a time window of every symbol reads a slice of it. */
const BARS_BY_TIME: LevelTables = {
  bar: StoreTable.barsByTime,
  key: ['symbol'],
  measures: { ...BAR_MEASURES, traded_value: 'traded_value' },
};

/**
 * The bar table of a level. At symbol level, `bars` (sorted by symbol) when symbols are filtered,
 * else `bars_by_time` (sorted by time), so either way the read is a narrow slice.
 */
function barTable(level: Level, scope: Scope): LevelTables {
  return level === 'symbol' && !scope.symbols ? BARS_BY_TIME : LEVELS[level];
}

/**
 * True when the level's rows are already one per run per bar: a portfolio, a single sector, or a
 * single symbol (no sector filter to combine with), so no GROUP BY is needed over them.
 */
function onePerBar(level: Level, scope: Scope): boolean {
  if (level === 'portfolio') return true;
  if (level === 'sector') return scope.sectors?.length === 1;
  return scope.symbols?.length === 1;
}

/** Dimension-filter condition at a level (portfolio rows cannot be filtered by dimension). */
export function dimCondition(b: Binder, level: Level, scope: Scope): string {
  if (level === 'portfolio') return 'TRUE';
  if (level === 'sector') return scope.sectors ? b.in('sector', scope.sectors) : 'TRUE';
  return and(
    scope.symbols ? b.in('symbol', scope.symbols) : null,
    scope.sectors ? `symbol IN (SELECT symbol FROM ${StoreTable.symbols} WHERE ${b.in('sector', scope.sectors)})` : null,
  );
}

export interface Rows {
  sql: string;
  /** Tables read, for the done message. */
  sources: string[];
}

export interface RowOptions {
  /** At symbol level, add each symbol's sector (for grouping by sector). */
  sector?: boolean;
}

const DAY_MS = 86_400_000;

/** Up to this many runs (of more), dayRows reads each run in its own branch (see there). */
const RUN_BRANCHES_UP_TO = 8;

function withSector(level: Level, sql: string, options: RowOptions): string {
  if (!options.sector || level !== 'symbol') return sql;
  return `SELECT x.*, s.sector FROM (${sql}) x JOIN ${StoreTable.symbols} s ON s.symbol = x.symbol`;
}

/**
 * Per-bar rows of a level: run_id, ts, [sector | symbol], pnl, fees, traded_value, gross, net,
 * long, short; restricted to the scope's runs and dimension filters and to `time` (a condition on
 * `ts`).
 */
export function barRows(b: Binder, level: Level, scope: Scope, time: string, options: RowOptions = {}): Rows {
  const t = barTable(level, scope);
  const m = t.measures;
  const sql = `SELECT run_id, ts${t.key.map((k) => `, ${k}`).join('')}, ${m.pnl} AS pnl, ${m.fees} AS fees,
      ${m.traded_value} AS traded_value, ${m.gross} AS gross, ${m.net} AS net, ${m.long} AS long, ${m.short} AS short
    FROM ${t.bar} WHERE ${and(runsCondition(b, scope, t.bar !== StoreTable.bars), time, dimCondition(b, level, scope))}`;
  return { sql: withSector(level, sql, options), sources: [t.bar] };
}

/** Day table of a level; at symbol level the one whose sort order prunes best for the scope. */
export function dayTable(level: Level, scope: Scope): string {
  if (level === 'portfolio') return StoreTable.portfolioDay;
  if (level === 'sector') return StoreTable.sectorDay;
  return scope.symbols ? StoreTable.symbolDay : StoreTable.symbolDayByDay;
}

/**
 * Per-day rows of a level over the scope's range: run_id, day, [sector | symbol], pnl, fees,
 * traded_value, gross_sum, net_sum, long_sum, short_sum, and at portfolio level bars (the bar
 * timestamps the row covers). Whole days come from the day rollup, cut days from the bar table
 * grouped by day.
 */
export function dayRows(b: Binder, level: Level, scope: Scope, options: RowOptions = {}): Rows {
  if (level !== 'portfolio' && !scope.allRuns && scope.runs.length > 1 && scope.runs.length <= RUN_BRANCHES_UP_TO) {
    // A few runs of many: an IN list of run ids prunes nothing (DuckDB keeps only its min and max
    // for the zonemaps, and those span most runs), an equality prunes to the run's own rows. On
    // sweep, two runs' symbol rows: 44 ms in two branches against 68 ms through one IN list.
    const parts = scope.runs.map((run) => dayRows(b, level, { ...scope, runs: [run] }, options));
    return { sql: parts.map((part) => part.sql).join('\nUNION ALL\n'), sources: [...new Set(parts.flatMap((part) => part.sources))] };
  }
  const t = LEVELS[level];
  const day = dayTable(level, scope);
  const keys = t.key.map((k) => `, ${k}`).join('');
  const bars = level === 'portfolio' ? ', bars' : '';
  const branches: string[] = [];
  const sources: string[] = [];
  const { full, cuts } = scope.range;
  if (full) {
    branches.push(`SELECT run_id, day${keys}, pnl, fees, traded_value, gross_sum, net_sum, long_sum, short_sum${bars}
      FROM ${day} WHERE ${and(
        runsCondition(b, scope),
        scope.range.everything ? null : `day BETWEEN ${b.date(full.lo)} AND ${b.date(full.hi)}`,
        dimCondition(b, level, scope),
      )}`);
    sources.push(day);
  }
  // One branch per cut day: a single time range is pushed into the scan (zonemaps prune the
  // time-sorted tables to that day), an OR of two ranges would not be.
  for (const cut of cuts) {
    if (readsComplement(level, scope, cut)) {
      const rows = cutDayAsComplement(b, scope, cut);
      branches.push(rows.sql);
      sources.push(...rows.sources);
      continue;
    }
    const rows = barRows(b, level, scope, and(`ts >= ${b.timestampMs(cut.from)}`, rangeEndCondition(b, 'ts', cut.to)));
    branches.push(`SELECT run_id, ts::DATE AS day${keys}, sum(pnl) AS pnl, sum(fees) AS fees, sum(traded_value) AS traded_value,
        sum(gross) AS gross_sum, sum(net) AS net_sum, sum(long) AS long_sum, sum(short) AS short_sum${level === 'portfolio' ? ', count(*) AS bars' : ''}
      FROM (${rows.sql}) GROUP BY run_id, ts::DATE${keys}`);
    sources.push(...rows.sources);
  }
  if (branches.length === 0) {
    branches.push(`SELECT run_id, day${keys}, pnl, fees, traded_value, gross_sum, net_sum, long_sum, short_sum${bars} FROM ${day} WHERE FALSE`);
    sources.push(day);
  }
  return { sql: withSector(level, branches.join('\nUNION ALL\n'), options), sources };
}

/**
 * Whether a cut day is read as its day rollup less the bars outside the range rather than as the
 * bars inside it: at symbol level over every symbol (bars_by_time, where a cut day is all
 * symbols' bars of it: 470k rows a day on `large`), when the range holds more than half of the
 * day. Whichever side of the cut is shorter is read; a range's cuts are where a drag across a
 * chart lets go, so on average a quarter of the day instead of half.
 */
function readsComplement(level: Level, scope: Scope, cut: RangeCut): boolean {
  if (barTable(level, scope) !== BARS_BY_TIME) return false;
  const length = cut.day.last - cut.day.first;
  return length > 0 && cut.to - cut.from > length / 2;
}

/**
 * A cut day at symbol level as (run_id, day, symbol, measures...): the day's rows of
 * symbol_day_by_day, less the bars of that day before the cut's start and after its end. A symbol
 * whose bars that day all lie outside the range has no row, as when the window is read itself
 * (its bar count comes to zero). Sums in another order: equal to the window's to rounding.
 */
function cutDayAsComplement(b: Binder, scope: Scope, cut: RangeCut): Rows {
  const m = BARS_BY_TIME.measures;
  const dims = dimCondition(b, 'symbol', scope);
  const day = b.date(cut.day.iso);
  // The day by its date (the rollups' day is ts::DATE), so the outside windows and the rollup
  // row cover the same bars, to sub-millisecond timestamps; the window's end as rangeEndCondition.
  const dayStart = midnightOf(cut.day.iso);
  const outside: string[] = [];
  if (cut.from > cut.day.first) outside.push(and(`ts >= ${b.timestampMs(dayStart)}`, `ts < ${b.timestampMs(cut.from)}`));
  if (cut.to < cut.day.last) outside.push(and(`ts >= ${b.timestampMs(cut.to + 1)}`, `ts < ${b.timestampMs(dayStart + DAY_MS)}`));
  const parts = [
    `SELECT run_id, symbol, pnl, fees, traded_value, gross_sum, net_sum, long_sum, short_sum, bars
     FROM ${StoreTable.symbolDayByDay} WHERE ${and(runsCondition(b, scope), `day = ${day}`, dims)}`,
    ...outside.map(
      (time) => `SELECT run_id, symbol, -(${m.pnl}), -(${m.fees}), -(${m.traded_value}), -(${m.gross}), -(${m.net}), -(${m.long}), -(${m.short}), -1
        FROM ${StoreTable.barsByTime} WHERE ${and(runsCondition(b, scope, true), time, dims)}`,
    ),
  ];
  const sql = `SELECT run_id, ${day} AS day, symbol, sum(pnl) AS pnl, sum(fees) AS fees, sum(traded_value) AS traded_value,
      sum(gross_sum) AS gross_sum, sum(net_sum) AS net_sum, sum(long_sum) AS long_sum, sum(short_sum) AS short_sum
    FROM (${parts.join('\nUNION ALL\n')}) GROUP BY run_id, symbol HAVING sum(bars) > 0`;
  return { sql, sources: [StoreTable.symbolDayByDay, StoreTable.barsByTime] };
}

/**
 * The scope's bar measures (columns of barRows) over its range, one row per run per bar: ri (the
 * run's index in scope.runs), t (epoch ms) and `measures`, in (ri, t) order, from the coarsest bar
 * table the filters allow. What a time series computed in the session (compute.ts) starts from.
 */
export function perBarSeries(b: Binder, scope: Scope, measures: readonly string[]): Rows {
  const level = levelFor(scope);
  const rows = barRows(b, level, scope, timeCondition(b, 'ts', scope));
  const ri = runIndexSql(b, scope.runs);
  // Portfolio rows are one per run per bar, stored in (run_id, ts) order; finer levels add up.
  const sql = onePerBar(level, scope)
    ? `SELECT ${ri} AS ri, epoch_ms(ts)::DOUBLE AS t, ${measures.join(', ')} FROM (${rows.sql})`
    : `SELECT ${ri} AS ri, epoch_ms(ts)::DOUBLE AS t, ${measures.map((m) => `sum(${m}) AS ${m}`).join(', ')}
       FROM (${rows.sql}) GROUP BY run_id, ts ORDER BY ri, t`;
  return { sql, sources: rows.sources };
}

/** The index of each row's run in `runs`, as an INTEGER expression (for computed results). */
export function runIndexSql(b: Binder, runs: readonly string[]): string {
  if (runs.length === 0) return 'NULL::INTEGER';
  return `(CASE run_id ${runs.map((run, i) => `WHEN ${b.bind(run)} THEN ${i}`).join(' ')} END)::INTEGER`;
}

/** The capital of a run of the dataset (what its returns are over); null when unknown. */
export function capitalOfRun(catalog: Pick<Catalog, 'runs'>, run: string): number | null {
  return catalog.runs.get(run)?.capital ?? null;
}

/** `VALUES` of the selected runs with their capital: (run_id, capital). */
export function capitalsSql(b: Binder, runs: readonly string[], catalog: Pick<Catalog, 'runs'>): string {
  if (runs.length === 0) return `SELECT NULL::VARCHAR AS run_id, NULL::DOUBLE AS capital WHERE FALSE`;
  const values = runs.map((run) => {
    const capital = capitalOfRun(catalog, run);
    return `(${b.bind(run)}, ${capital === null ? 'NULL::DOUBLE' : b.number(capital)})`;
  });
  return `SELECT * FROM (VALUES ${values.join(', ')}) v(run_id, capital)`;
}

/**
 * CTEs `capitals`, `calendar` and `daily` for the daily-return metrics. `daily(run_id, day, bars,
 * pnl, fees, traded_value, gross_sum, net_sum, long_sum, short_sum, ret)` has one row per run per
 * trading day of the range (the run's calendar, from the portfolio level, so a filtered subset
 * that was flat on a day has a zero there), with ret = pnl / the run's capital.
 */
export function dailyCtes(b: Binder, scope: Scope, catalog: Pick<Catalog, 'runs'>): { ctes: string; sources: string[] } {
  const level = levelFor(scope);
  const calendar = dayRows(b, 'portfolio', scope);
  const capitals = capitalsSql(b, scope.runs, catalog);
  const measures = ['pnl', 'fees', 'traded_value', 'gross_sum', 'net_sum', 'long_sum', 'short_sum'];
  if (level === 'portfolio') {
    return {
      ctes: `capitals AS (${capitals}),
        calendar AS (${calendar.sql}),
        daily AS (
          SELECT c.run_id, c.day, c.bars, ${measures.map((m) => `c.${m}`).join(', ')}, c.pnl / k.capital AS ret
          FROM calendar c JOIN capitals k ON k.run_id = c.run_id
        )`,
      sources: calendar.sources,
    };
  }
  // The filtered level's days, added up per run and day, on the run's calendar.
  const rows = dayRows(b, level, scope);
  return {
    ctes: `capitals AS (${capitals}),
      calendar AS (${calendar.sql}),
      level_days AS (SELECT run_id, day, ${measures.map((m) => `sum(${m}) AS ${m}`).join(', ')} FROM (${rows.sql}) GROUP BY run_id, day),
      daily AS (
        SELECT c.run_id, c.day, c.bars, ${measures.map((m) => `coalesce(l.${m}, 0) AS ${m}`).join(', ')},
          coalesce(l.pnl, 0) / k.capital AS ret
        FROM calendar c JOIN capitals k ON k.run_id = c.run_id LEFT JOIN level_days l ON l.run_id = c.run_id AND l.day = c.day
      )`,
    sources: [...new Set([...calendar.sources, ...rows.sources])],
  };
}
