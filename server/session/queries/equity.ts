// Equity (cumulative P&L) and drawdown per run over a time range, downsampled with M4: for each
// pixel column it keeps the exact first and last points and the points of the equity's minimum
// and maximum and of the deepest drawdown, so the drawn line is pixel-identical to the full one.
// Both series restart at the start of the range: a zoomed view shows P&L and drawdown within it.
import type { EquityParams } from '../../../shared/protocol.js';
import { StoreTable } from '../../store/format.js';
import type { QueryPlan } from './plan.js';
import { runCondition } from './runs.js';
import { timeRangeCondition } from './time-range.js';

export function planEquity(params: EquityParams, runIds: ReadonlySet<string>): QueryPlan {
  const runs = runCondition('run_id', params.runs, runIds);
  const range = timeRangeCondition('ts', params.from, params.to);
  const sql = `
    WITH curve AS (
      SELECT run_id,
             epoch_ms(ts)::DOUBLE AS t,
             sum(pnl) OVER (PARTITION BY run_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS equity
      FROM ${StoreTable.portfolioBar}
      WHERE ${runs.sql} AND ${range.sql}
    ),
    underwater AS (
      SELECT run_id, t, equity,
             equity - greatest(0, max(equity) OVER (PARTITION BY run_id ORDER BY t ROWS UNBOUNDED PRECEDING)) AS drawdown
      FROM curve
    ),
    bounds AS (SELECT min(t) AS t0, greatest(max(t) - min(t), 1) AS span FROM underwater),
    binned AS (
      SELECT u.*, least(floor((u.t - b.t0) / b.span * $width), $width - 1)::INTEGER AS px
      FROM underwater u, bounds b
    ),
    keep AS (
      SELECT run_id, px,
             min(t) AS t_first, max(t) AS t_last,
             arg_min(t, equity) AS t_low, arg_max(t, equity) AS t_high,
             arg_min(t, drawdown) AS t_deepest
      FROM binned GROUP BY run_id, px
    )
    SELECT b.run_id, b.t AS ts, b.equity, b.drawdown
    FROM binned b JOIN keep k ON b.run_id = k.run_id AND b.px = k.px
    WHERE b.t IN (k.t_first, k.t_last, k.t_low, k.t_high, k.t_deepest)
    ORDER BY b.run_id, b.t`;
  return { sql, params: { ...runs.params, ...range.params, width: params.width } };
}
