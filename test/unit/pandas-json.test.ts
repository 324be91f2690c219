// pandas' to_json layouts (server/prepare/pandas-files/pandas-json.ts) as pandas 2 writes them, as rows; and
// the JSON documents that are not a frame (a result of nested objects, a configuration) left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mayBePandasJson, pandasJsonRows } from '../../server/prepare/pandas-files/pandas-json.js';

// df = pd.DataFrame({'symbol': ['AAPL', 'MSFT'], 'pnl': [109.0, None]}, index=pd.to_datetime(['2024-01-02', '2024-01-03']))
const ROWS = [
  { index: '2024-01-02T00:00:00.000Z', symbol: 'AAPL', pnl: 109.0 },
  { index: '2024-01-03T00:00:00.000Z', symbol: 'MSFT', pnl: null },
];

test("orient='columns' (a frame's default), 'index', 'split' and 'table': the same rows, the index kept as a column", () => {
  const columns = { symbol: { '1704153600000': 'AAPL', '1704240000000': 'MSFT' }, pnl: { '1704153600000': 109.0, '1704240000000': null } };
  const index = { '1704153600000': { symbol: 'AAPL', pnl: 109.0 }, '1704240000000': { symbol: 'MSFT', pnl: null } };
  const split = { columns: ['symbol', 'pnl'], index: [1704153600000, 1704240000000], data: [['AAPL', 109.0], ['MSFT', null]] };
  const table = {
    schema: { fields: [{ name: 'index', type: 'datetime' }, { name: 'symbol', type: 'string' }, { name: 'pnl', type: 'number' }], primaryKey: ['index'], pandas_version: '1.4.0' },
    data: [{ index: '2024-01-02T00:00:00.000', symbol: 'AAPL', pnl: 109.0 }, { index: '2024-01-03T00:00:00.000', symbol: 'MSFT', pnl: null }],
  };
  for (const [orient, doc] of Object.entries({ columns, index, split })) {
    assert.ok(mayBePandasJson(JSON.stringify(doc)), orient);
    assert.deepEqual(pandasJsonRows(doc, 'trades'), ROWS, orient);
  }
  assert.ok(mayBePandasJson(JSON.stringify(table)));
  assert.deepEqual(pandasJsonRows(table, 'trades'), table.data, "orient='table': its records, the index named by the schema");
});

test('a default RangeIndex is not a column; a series is its index and its values under the file’s name', () => {
  assert.deepEqual(pandasJsonRows({ symbol: { 0: 'AAPL', 1: 'MSFT' }, qty: { 0: 100, 1: -50 } }, 'trades'), [{ symbol: 'AAPL', qty: 100 }, { symbol: 'MSFT', qty: -50 }]);
  assert.deepEqual(pandasJsonRows({ '1704153600000': 0.01, '1704240000000': -0.002 }, 'returns'), [
    { index: '2024-01-02T00:00:00.000Z', returns: 0.01 },
    { index: '2024-01-03T00:00:00.000Z', returns: -0.002 },
  ]);
  assert.deepEqual(pandasJsonRows({ pnl: { 7: 1.5, 9: -2 } }, 'trades'), [{ index: 7, pnl: 1.5 }, { index: 9, pnl: -2 }], 'an index of numbers that are not times: numbers');
  assert.deepEqual(pandasJsonRows({ '2024-01-02': 0.01 }, 'returns'), [{ index: '2024-01-02', returns: 0.01 }], 'ISO labels (date_format=iso)');
});

test('documents that are not a frame are left alone', () => {
  const lean = { rollingWindow: { M1_20231231: { tradeStatistics: { totalNumberOfTrades: 3 } } }, totalPerformance: { closedTrades: [] } };
  assert.equal(mayBePandasJson(JSON.stringify(lean)), false, 'objects nested deeper than a frame');
  assert.equal(pandasJsonRows(lean, 'result'), null);
  assert.equal(pandasJsonRows({ capital: 1000000, timezone: 'America/New_York' }, 'tickscope'), null, 'a configuration: labels that are neither times nor numbers');
  assert.equal(pandasJsonRows({ a: { x: 1 }, b: { y: 2 } }, 'x'), null, 'columns under different labels');
  const meta = { base: { run_id: 'a1', backtest_start_time: 1705399200 }, alt: { run_id: 'b2', backtest_start_time: 1705399200 } };
  assert.equal(pandasJsonRows(meta, 'backtest-result.meta'), null, "records keyed by name (freqtrade's .meta.json): no index either way");
  assert.equal(pandasJsonRows([{ a: 1 }], 'records'), null, 'records are rows already');
  assert.equal(pandasJsonRows({ columns: ['a'], data: [[1, 2]] }, 'x'), null, 'split rows as wide as the columns');
});
