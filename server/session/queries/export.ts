// Raw rows, streamed: the trade list (with the filters) or bars (runs, range, sector and symbol
// filters), up to `limit` rows, in the table's stored order. What a "download" or a bulk client
// asks for; it measures the streaming path (DuckDB chunks -> Arrow -> WebSocket) on its own.
import { MAX_EXPORT_ROWS } from '../../../shared/constants.js';
import type { ExportParams } from '../../../shared/messages.js';
import { StoreTable } from '../../store/format.js';
import type { Catalog } from '../store.js';
import type { QueryPlan } from './plan.js';
import { resolveScope, timeCondition, tradeConditions, tradeFilterNote, runsCondition } from './scope.js';
import { Binder, and, ms } from './sql.js';
import { TRADE_SELECT } from './trades.js';

export function planExport(params: ExportParams, catalog: Catalog): QueryPlan {
  const scope = resolveScope(params, catalog);
  const b = new Binder();
  const limit = b.integer(params.limit ?? MAX_EXPORT_ROWS);
  if (params.table === 'trades') {
    return {
      statements: [{ sql: `SELECT ${TRADE_SELECT} FROM ${StoreTable.tradeList} WHERE ${tradeConditions(b, scope)} LIMIT ${limit}`, params: b.params }],
      source: StoreTable.tradeList,
      notes: [],
    };
  }
  const where = and(
    runsCondition(b, scope),
    timeCondition(b, 'ts', scope),
    scope.symbols ? b.in('symbol', scope.symbols) : null,
    scope.sectors ? `symbol IN (SELECT symbol FROM ${StoreTable.symbols} WHERE ${b.in('sector', scope.sectors)})` : null,
  );
  return {
    statements: [
      {
        sql: `SELECT run_id, ${ms('ts')} AS ts, symbol, price, position_qty, position_value, trade_qty, fees, pnl
              FROM ${StoreTable.bars} WHERE ${where} LIMIT ${limit}`,
        params: b.params,
      },
    ],
    source: StoreTable.bars,
    notes: tradeFilterNote(scope, 'bars'),
  };
}
