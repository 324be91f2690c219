// Raw rows, streamed: the trade list (with the filters, in the sort asked) or bars (runs, range,
// sector and symbol filters, in the store's order), up to `limit` rows. What a bulk client asks
// for, and what a downloaded trade list or slice of bars is written from (download.ts: times as
// TIMESTAMP there, epoch ms in the Arrow answer as everywhere else in the protocol).
import { MAX_EXPORT_ROWS } from '../../../shared/constants.js';
import type { ExportParams } from '../../../shared/messages.js';
import { StoreTable } from '../../store/format.js';
import type { Catalog } from '../store.js';
import type { QueryPlan } from './plan.js';
import { resolveScope, timeCondition, tradeConditions, tradeFilterNote, runsCondition } from './scope.js';
import { Binder, and, timeColumn, type TimeFormat } from './sql.js';
import { tradeOrder, tradeSelect } from './trades.js';

export function planExport(params: ExportParams, catalog: Catalog, times: TimeFormat = 'epoch-ms'): QueryPlan {
  const scope = resolveScope(params, catalog);
  const b = new Binder();
  const limit = b.integer(params.limit ?? MAX_EXPORT_ROWS);
  if (params.table === 'trades') {
    const order = params.sort ? `ORDER BY ${tradeOrder(params.sort.column, params.sort.descending ?? false)}` : '';
    return {
      statements: [{ sql: `SELECT ${tradeSelect(times)} FROM ${StoreTable.tradeList} WHERE ${tradeConditions(b, scope)} ${order} LIMIT ${limit}`, params: b.params }],
      source: StoreTable.tradeList,
      notes: [],
    };
  }
  const where = and(
    runsCondition(b, scope, false),
    timeCondition(b, 'ts', scope),
    scope.symbols ? b.in('symbol', scope.symbols) : null,
    scope.sectors ? `symbol IN (SELECT symbol FROM ${StoreTable.symbols} WHERE ${b.in('sector', scope.sectors)})` : null,
  );
  return {
    statements: [
      {
        sql: `SELECT run_id, ${timeColumn('ts', times)}, symbol, price, position_qty, position_value, trade_qty, fees, pnl
              FROM ${StoreTable.bars} WHERE ${where} LIMIT ${limit}`,
        params: b.params,
      },
    ],
    source: StoreTable.bars,
    notes: tradeFilterNote(scope, 'bars'),
  };
}
