// The reconciliation of trades against bars at preparation: two independent records of one
// backtest should tell the same story, and where they do not the analyst is told (data-quality
// findings, never fatal, never silent).
// - Side: a trade's side against the sign of its symbol's position at the end of its entry bar
//   (the first bar of its run and symbol ending at or after entry_ts): a long trade is in a
//   long position. A position that is flat there while the trade is still open is a mismatch too.
//   A trade that closed within its entry bar is not checked (the bar's end does not see it).
// - P&L: per run and symbol, the trades' P&L summed against the bars' P&L summed, where every
//   trade of the symbol has a P&L and none is still open (open trades have no realised P&L yet).
//   Tolerance: one cent plus a millionth of the symbol's gross daily P&L (sum of |daily pnl|), so
//   float rounding over millions of bars is not a finding and a missing fill is.
// Trades of a symbol without bars are a finding of their own (nothing to reconcile them with),
// unless no traded symbol has bars (a portfolio-only backtest: then nothing is reconciled).
// Daily bars are matched as derive-trades.ts matches them (bar-period.ts, barTime): a trade's entry
// bar is the bar of its entry day.
// Runs after the rollups (it reads symbol_day). Entries at a bar's timestamp (how bar-based
// backtesters write them) are found with a hash join that streams the bars once; only entries
// between bars take the ASOF join, over the bars of their own symbols (an ASOF join sorts its
// right side: all of bars would be a second sort of the largest table).
import type { DuckDBConnection } from '@duckdb/node-api';
import { StoreTable } from '../store/format.js';
import type { RowProblem } from './data-quality.js';
import { barTime, type BarPeriod } from './bar-period.js';

/** Examples kept per finding. */
const EXAMPLES = 3;

export async function reconcileTrades(con: DuckDBConnection, period: BarPeriod): Promise<RowProblem[]> {
  const time = barTime(period);
  const findings: RowProblem[] = [];
  const uncovered = await rowsOf(
    con,
    `SELECT run_id || ' ' || symbol || ': ' || count(*) || ' trade(s)' AS example, count(*) AS n
     FROM ${StoreTable.trades} t
     WHERE NOT EXISTS (SELECT 1 FROM ${StoreTable.symbolDay} d WHERE d.run_id = t.run_id AND d.symbol = t.symbol)
     GROUP BY run_id, symbol ORDER BY n DESC, run_id, symbol`,
  );
  const pairs = await con.runAndReadAll(`SELECT count(*)::DOUBLE FROM (SELECT DISTINCT run_id, symbol FROM ${StoreTable.trades})`);
  // A dataset where no traded symbol has bars (portfolio-only) has nothing to reconcile: the views
  // that need bars say so; only some symbols missing their bars is a finding.
  const allUncovered = uncovered.length === Number(pairs.getRows()[0]?.[0] ?? 0);
  if (allUncovered) return findings;
  if (uncovered.length > 0) {
    const trades = uncovered.reduce((n, r) => n + r.n, 0);
    findings.push({
      table: 'trades',
      column: 'symbol',
      problem: 'trades without bars',
      count: trades,
      examples: uncovered.slice(0, EXAMPLES).map((r) => r.example),
      message: `trades: ${trades} trade(s) of ${uncovered.length} run/symbol pair(s) have no bars to reconcile them with (e.g. ${uncovered[0]!.example})`,
    });
  }

  const sides = await rowsOf(
    con,
    `WITH sided AS (
       SELECT *, ${time.trade('entry_ts')} AS entry_at, ${time.trade('exit_ts')} AS exit_at FROM ${StoreTable.trades} WHERE side IN ('long', 'short')
     ),
     at_bar AS (
       SELECT t.run_id, t.trade_id, t.symbol, t.side, t.entry_ts, t.exit_at, b.ts AS bar_ts, ${time.bar('b.ts')} AS bar_end, b.position_qty
       FROM sided t JOIN ${StoreTable.bars} b ON b.run_id = t.run_id AND b.symbol = t.symbol AND ${time.bar('b.ts')} = t.entry_at
     ),
     between_bars AS (SELECT * FROM sided t WHERE NOT EXISTS (SELECT 1 FROM at_bar a WHERE a.run_id = t.run_id AND a.trade_id = t.trade_id)),
     entry_bars AS (
       SELECT * FROM at_bar
       UNION ALL
       SELECT t.run_id, t.trade_id, t.symbol, t.side, t.entry_ts, t.exit_at, b.ts, b.bar_end, b.position_qty
       FROM between_bars t ASOF JOIN (
         SELECT run_id, symbol, ts, ${time.bar('ts')} AS bar_end, position_qty FROM ${StoreTable.bars}
         WHERE (run_id, symbol) IN (SELECT DISTINCT run_id, symbol FROM between_bars)
       ) b ON b.run_id = t.run_id AND b.symbol = t.symbol AND b.bar_end >= t.entry_at
     )
     SELECT run_id || ' trade ' || trade_id || ' ' || symbol || ' ' || side || ' entered ' || strftime(entry_ts, '%Y-%m-%d %H:%M:%S')
         || ': position ' || position_qty || ' at ' || strftime(bar_ts, '%Y-%m-%d %H:%M:%S') AS example,
       count(*) OVER () AS n
     FROM entry_bars
     -- A trade closed within its entry bar is not in the position at the bar's end: nothing to check.
     WHERE (exit_at IS NULL OR exit_at > bar_end)
       AND (CASE side WHEN 'long' THEN position_qty < 0 ELSE position_qty > 0 END OR position_qty = 0)
     ORDER BY run_id, entry_ts, trade_id LIMIT ${EXAMPLES}`,
  );
  const side = finding('side', 'side against the bar position', sides, (n, first) => `trades: ${n} trade(s) whose side disagrees with the sign of the bar position at the end of their entry bar (e.g. ${first})`);
  if (side) findings.push(side);

  const pnl = await rowsOf(
    con,
    `WITH trade_pnl AS (
       SELECT run_id, symbol, sum(pnl) AS pnl FROM ${StoreTable.trades}
       GROUP BY run_id, symbol HAVING count(pnl) = count(*) AND count(exit_ts) = count(*)
     ), bar_pnl AS (
       SELECT run_id, symbol, sum(pnl) AS pnl, sum(abs(pnl)) AS gross FROM ${StoreTable.symbolDay} GROUP BY run_id, symbol
     )
     SELECT t.run_id || ' ' || t.symbol || ': trades ' || round(t.pnl, 2) || ', bars ' || round(b.pnl, 2) AS example, count(*) OVER () AS n
     FROM trade_pnl t JOIN bar_pnl b USING (run_id, symbol)
     WHERE abs(t.pnl - b.pnl) > 0.01 + 1e-6 * b.gross
     ORDER BY abs(t.pnl - b.pnl) DESC, t.run_id, t.symbol LIMIT ${EXAMPLES}`,
  );
  const pnlFinding = finding('pnl', 'trade P&L against bar P&L', pnl, (n, first) => `trades: for ${n} run/symbol pair(s) the trades' P&L summed differs from the bars' P&L summed (largest: ${first})`);
  if (pnlFinding) findings.push(pnlFinding);
  return findings;
}

async function rowsOf(con: DuckDBConnection, sql: string): Promise<{ example: string; n: number }[]> {
  const reader = await con.runAndReadAll(sql);
  return (reader.getRows() as [string, bigint | number][]).map(([example, n]) => ({ example: String(example), n: Number(n) }));
}

/** The finding of one check on trades' `column`, from its example rows (each carrying the total count); null when none. */
function finding(column: string, problem: string, rows: { example: string; n: number }[], message: (n: number, first: string) => string): RowProblem | null {
  if (rows.length === 0) return null;
  const n = rows[0]!.n;
  return { table: 'trades', column, problem, count: n, examples: rows.map((r) => r.example), message: message(n, rows[0]!.example) };
}
