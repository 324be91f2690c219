// A futures contract's multiplier (its value per point of price: 50 for ES, 1,000 for CL), read
// from the symbols input's `multiplier` column (contract_size, point_value, ... in mapping.ts).
// A position's value and a trade's capital are quantity x price x multiplier; without one, a
// futures backtest's exposure reads low by it and a return computed from P&L reads high by it.
// Where it is applied, when any symbol has one other than 1:
//   - bars' position_value, when the input has none (derived as position_qty x price) or the bars
//     are made of the trades: multiplied after the bars are built (applyToPositionValues);
//   - trades' MAE and MFE written as money, read over the entry value (expressions.ts
//     multiplierSql, while the trades are built);
//   - trades' ret derived from P&L (derive-trades.ts joins the symbols table's multiplier);
//   - what format adapters compute from prices (StageContext.multiplier): the P&L of a list of
//     fills' round trips (a multiplier column of the fills' own comes first) and of the round
//     trips of Nautilus', pyfolio's and zipline's fills and Lean's orders
//     (round-trips.ts fillsWithSymbolMultiplier; not vectorbt's, which knows no multiplier),
//     TradingView's Run-up and Drawdown as MAE and MFE. So the symbols are staged before the
//     adapters run.
// Stated P&L is never touched: it is money already.
import type { DuckDBConnection } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import { StoreTable } from '../store/format.js';
import { PrepareError } from './errors.js';
import { type ExprContext, selectList, tableExprs } from './expressions.js';
import { sourceLabel } from './inputs/index.js';
import { buildRelation } from './table-input.js';
import type { TableInput } from './table-input-shape.js';

/**
 * The symbols with a multiplier other than 1: contract_symbol, contract_multiplier. Named so that
 * no input column is shadowed where multiplierSql looks a symbol up from inside a trades query.
 */
const MULTIPLIERS = 'temp.main._multipliers';

/**
 * Stages the symbols input's multipliers other than 1, before the format adapters stage theirs
 * (formats/index.ts): the relation (ExprContext.multipliers) when there are any. Refuses a
 * multiplier that is not above 0, or two for one symbol, naming them.
 */
export async function stageMultipliers(con: DuckDBConnection, symbols: TableInput | null): Promise<string | undefined> {
  if (!symbols?.resolved.has('multiplier')) return undefined;
  const where = `${symbols.source.kind} in ${sourceLabel(symbols.source)}, column '${symbols.resolved.get('multiplier')!.name}'`;
  try {
    await buildRelation(con, symbols);
    // Symbols hold no timestamps: the context's notes and zone are not used.
    const exprs = tableExprs(symbols, { notes: new Map(), timezone: null });
    await con.run(`CREATE TEMP TABLE ${MULTIPLIERS} AS
      SELECT symbol AS contract_symbol, min(multiplier) AS contract_multiplier, max(multiplier) AS highest
      FROM (SELECT ${selectList(exprs)} FROM ${symbols.relation})
      WHERE symbol IS NOT NULL AND multiplier IS NOT NULL GROUP BY symbol`);
  } catch (err) {
    throw new PrepareError(`${where}: cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  const [bad] = (await con.runAndReadAll(
    `SELECT contract_symbol, printf('%g', contract_multiplier), printf('%g', highest) FROM ${MULTIPLIERS}
      WHERE contract_multiplier <= 0 OR contract_multiplier <> highest ORDER BY contract_symbol LIMIT 1`,
  )).getRowsJson();
  if (bad) {
    const [symbol, low, high] = bad.map(String);
    throw new PrepareError(
      low === high
        ? `${where}: ${symbol}'s multiplier is ${low}; a contract's multiplier (its value per point of price) is above 0`
        : `${where}: ${symbol} has two multipliers, ${low} and ${high}; a contract has one`,
    );
  }
  await con.run(`DELETE FROM ${MULTIPLIERS} WHERE contract_multiplier = 1`);
  const [count] = (await con.runAndReadAll(`SELECT count(*)::DOUBLE FROM ${MULTIPLIERS}`)).getRowsJson();
  return Number(count?.[0] ?? 0) > 0 ? MULTIPLIERS : undefined;
}

/** Multiplies the built bars' position values by their symbol's multiplier. */
export async function applyToPositionValues(con: DuckDBConnection, ctx: ExprContext): Promise<void> {
  if (!ctx.multipliers) return;
  await con.run(`UPDATE ${StoreTable.bars} SET position_value = position_value * m.contract_multiplier FROM ${ctx.multipliers} m WHERE ${StoreTable.bars}.symbol = m.contract_symbol`);
}
