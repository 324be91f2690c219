// Drawdown episodes of each run over a range: every stretch under water of the daily wealth
// W_t = prod(1 + pnl_d / capital), the same series and resolution as summary's max_drawdown, so
// the deepest episode is that KPI with its peak, trough and recovery (docs/metrics.md). A run
// without a capital base has no wealth: its episodes are those of the cumulative P&L in dollars
// (summary's max_drawdown_pnl) and their depth in % is null. DuckDB builds the daily rows from
// the day rollups (bar rollups for cut days); the episodes are one pass in the session.
import type { EpisodesParams } from '../../../shared/messages.js';
import type { Columns, OutColumn } from '../compute.js';
import type { Catalog } from '../store.js';
import { sourceOf, type QueryPlan } from './plan.js';
import { resolveScope, tradeFilterNote } from './scope.js';
import { capitalOfRun, dailyCtes, runIndexSql } from './sources.js';
import { Binder } from './sql.js';

export function planEpisodes(params: EpisodesParams, catalog: Catalog): QueryPlan {
  const scope = resolveScope(params, catalog);
  const b = new Binder();
  const daily = dailyCtes(b, scope, catalog);
  const sql = `WITH ${daily.ctes}
    SELECT ${runIndexSql(b, scope.runs)} AS ri, epoch_ms(day::TIMESTAMP)::DOUBLE AS day, pnl FROM daily ORDER BY ri, day`;
  const capitals = scope.runs.map((run) => capitalOfRun(catalog, run));
  return {
    statements: [{ sql, params: b.params, compute: (columns) => episodeColumns(columns, scope.runs, capitals, params.limit) }],
    source: sourceOf(daily.sources),
    notes: tradeFilterNote(scope, 'drawdown episodes'),
  };
}

export interface Episode {
  /** Day indexes within the run's days; peak -1 is the starting capital, before the first day. */
  peak: number;
  trough: number;
  recovery: number | null;
  /** W_trough / W_peak - 1 (NaN without a capital base). */
  depth: number;
  /** Cumulative P&L at the trough minus at the peak. */
  depthPnl: number;
}

/**
 * The episodes of one run's daily P&L, in time order. `capital` null: on the cumulative P&L.
 * An episode starts when the level falls below its running peak (the start, 1 or 0, counting as
 * one), its peak is the last day at that peak, its trough the first day at its lowest, and it
 * ends on the first day back at or above the peak (its recovery), or runs to the last day.
 */
export function drawdownEpisodes(pnl: ArrayLike<number>, capital: number | null): Episode[] {
  const episodes: Episode[] = [];
  const compounding = capital !== null;
  let level = compounding ? 1 : 0;
  let cum = 0;
  let peakLevel = level;
  let peakAt = -1;
  let peakCum = 0;
  let open: (Episode & { troughLevel: number }) | null = null;
  for (let i = 0; i < pnl.length; i++) {
    cum += pnl[i]!;
    level = compounding ? level * (1 + pnl[i]! / capital) : cum;
    if (level >= peakLevel) {
      if (open) {
        open.recovery = i;
        episodes.push(close(open));
        open = null;
      }
      peakLevel = level;
      peakAt = i;
      peakCum = cum;
      continue;
    }
    if (!open) {
      open = { peak: peakAt, trough: i, recovery: null, depth: 0, depthPnl: 0, troughLevel: level };
      open.depth = compounding ? level / peakLevel - 1 : Number.NaN;
      open.depthPnl = cum - peakCum;
    } else if (level < open.troughLevel) {
      open.trough = i;
      open.troughLevel = level;
      open.depth = compounding ? level / peakLevel - 1 : Number.NaN;
      open.depthPnl = cum - peakCum;
    }
  }
  if (open) episodes.push(close(open));
  return episodes;
}

function close({ peak, trough, recovery, depth, depthPnl }: Episode): Episode {
  return { peak, trough, recovery, depth, depthPnl };
}

/** Deepest first (by depth in %, or in dollars without a capital base), ties by the earlier peak. */
export function deepestFirst(episodes: Episode[], compounding: boolean): Episode[] {
  const key = (e: Episode) => (compounding ? e.depth : e.depthPnl);
  return [...episodes].sort((a, b) => key(a) - key(b) || a.peak - b.peak);
}

function episodeColumns(columns: Columns, runs: readonly string[], capitals: readonly (number | null)[], limit: number): OutColumn[] {
  const ri = columns.get('ri') as Int32Array;
  const day = columns.get('day') as Float64Array;
  const pnl = columns.get('pnl') as Float64Array;
  const out = {
    run: [] as number[],
    rank: [] as number[],
    peak: [] as number[],
    fromStart: [] as number[],
    trough: [] as number[],
    recovery: [] as number[],
    depth: [] as number[],
    depthPnl: [] as number[],
    toTrough: [] as number[],
    toRecovery: [] as number[],
  };
  let row = 0;
  runs.forEach((_, r) => {
    const start = row;
    while (row < ri.length && ri[row] === r) row++;
    const capital = capitals[r] ?? null;
    const episodes = deepestFirst(drawdownEpisodes(pnl.subarray(start, row), capital), capital !== null).slice(0, limit);
    episodes.forEach((e, rank) => {
      out.run.push(r);
      out.rank.push(rank + 1);
      // A peak at the starting capital is reported as the range's first day (as summary does),
      // flagged so a zoom to the episode starts with the range.
      out.peak.push(day[start + Math.max(e.peak, 0)]!);
      out.fromStart.push(e.peak < 0 ? 1 : 0);
      out.trough.push(day[start + e.trough]!);
      out.recovery.push(e.recovery === null ? Number.NaN : day[start + e.recovery]!);
      out.depth.push(e.depth);
      out.depthPnl.push(e.depthPnl);
      out.toTrough.push(e.trough - e.peak);
      out.toRecovery.push(e.recovery === null ? Number.NaN : e.recovery - e.peak);
    });
  });
  return [
    { name: 'run_id', kind: 'utf8', index: Int32Array.from(out.run), names: runs },
    { name: 'rank', kind: 'i32', values: Int32Array.from(out.rank) },
    { name: 'peak_ts', kind: 'f64', values: Float64Array.from(out.peak) },
    { name: 'from_start', kind: 'i32', values: Int32Array.from(out.fromStart) },
    { name: 'trough_ts', kind: 'f64', values: Float64Array.from(out.trough) },
    { name: 'recovery_ts', kind: 'f64', values: Float64Array.from(out.recovery) },
    { name: 'depth', kind: 'f64', values: Float64Array.from(out.depth) },
    { name: 'depth_pnl', kind: 'f64', values: Float64Array.from(out.depthPnl) },
    { name: 'days_to_trough', kind: 'f64', values: Float64Array.from(out.toTrough) },
    { name: 'days_to_recovery', kind: 'f64', values: Float64Array.from(out.toRecovery) },
  ];
}
