// The capital base of each run's returns, a stated fact recorded in the store with where it came
// from (runs.capital, runs.capital_source). In order:
// 1. the dataset description's `capital` (tickscope.json or --mapping): one number for every run,
//    or one per run id;
// 2. the runs table's `capital` column (a format adapter puts the first equity value there: e.g.
//    the first day's positions plus cash of a pyfolio backtest);
// 3. the first positive number among CAPITAL_KEYS in the run's params (a sweep's parameters);
// otherwise none: return metrics are absent and the UI says why. Never inferred from exposure.
import type { DuckDBConnection } from '@duckdb/node-api';
import { StoreTable } from '../store/format.js';
import { sqlString } from '../sql/text.js';

/** Keys of a run's params JSON taken as its capital base, in order of preference. */
export const CAPITAL_KEYS = [
  'capital',
  'initial_capital',
  'starting_capital',
  'capital_base',
  'starting_cash',
  'initial_cash',
  'aum',
  'nav',
  'gross_notional',
  'notional',
  'gross',
] as const;

/** The description's `capital`: one number for every run, or one per run id. */
export type StatedCapital = number | Record<string, number> | undefined;

export interface RunCapital {
  capital: number | null;
  source: string;
}

/** Why a run has no capital, and how to give it one (shown where the return metrics would be). */
export const NO_CAPITAL =
  'none: no capital in tickscope.json, in the runs table or in the run parameters; add "capital": <amount> to tickscope.json for return metrics';

function positive(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** The capital of one run, by the order above. */
export function capitalOf(runId: string, stated: StatedCapital, columnValue: unknown, params: string | null): RunCapital {
  const fromDescription = typeof stated === 'number' ? stated : stated?.[runId];
  if (fromDescription !== undefined && positive(fromDescription) !== null) return { capital: fromDescription, source: 'tickscope.json' };
  const fromColumn = positive(columnValue);
  if (fromColumn !== null) return { capital: fromColumn, source: 'runs.capital' };
  if (params) {
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(params);
    } catch {
      // Params that are not JSON name no capital; the run may still get one above or none.
      parsed = null;
    }
    if (typeof parsed === 'object' && parsed !== null) {
      const record = parsed as Record<string, unknown>;
      for (const key of CAPITAL_KEYS) {
        const value = positive(record[key]);
        if (value !== null) return { capital: value, source: `params.${key}` };
      }
    }
  }
  return { capital: null, source: NO_CAPITAL };
}

/**
 * Rewrites the runs table with its capital and capital_source columns (the table as built.ts made
 * it may carry an untyped `capital` column from its input). Returns each run's capital.
 */
export async function recordCapital(con: DuckDBConnection, stated: StatedCapital): Promise<Map<string, RunCapital>> {
  const columns = await con.runAndReadAll(`SELECT column_name FROM duckdb_columns() WHERE table_name = ${sqlString(StoreTable.runs)}`);
  const hasColumn = (columns.getRows() as [string][]).some(([c]) => c === 'capital');
  const runs = await con.runAndReadAll(
    `SELECT run_id, ${hasColumn ? 'TRY_CAST(capital AS DOUBLE)' : 'NULL::DOUBLE'}, params::VARCHAR FROM ${StoreTable.runs}`,
  );
  const out = new Map<string, RunCapital>();
  for (const [runId, column, params] of runs.getRows() as [string, number | null, string | null][]) {
    out.set(String(runId), capitalOf(String(runId), stated, column, params));
  }
  const values = [...out].map(([runId, c]) => `(${sqlString(runId)}, ${c.capital === null ? 'NULL' : String(c.capital)}::DOUBLE, ${sqlString(c.source)})`);
  await con.run(`CREATE OR REPLACE TABLE ${StoreTable.runs} AS
    SELECT r.run_id, r.name, r.params, c.capital, c.capital_source, r.input_order, r.run_key
    FROM ${StoreTable.runs} r ${values.length ? `LEFT JOIN (VALUES ${values.join(', ')}) c(run_id, capital, capital_source) USING (run_id)` : 'CROSS JOIN (SELECT NULL::DOUBLE AS capital, NULL::VARCHAR AS capital_source) c'}
    ORDER BY r.input_order NULLS LAST, r.run_id`);
  return out;
}
