// The store format has its own lists; the wire protocol maps onto them. These tests fail when
// the two drift apart, before a session meets a sort the store cannot answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TRADE_SORT_COLUMNS } from '../../shared/constants.js';
import { ROLLUPS } from '../../server/prepare/rollups.js';
import { CLUSTERED_TRADE_SORTS, RANKED_TRADE_COLUMNS, StoreTable, tradeListSortedBy, tradeRankColumn } from '../../server/store/format.js';

const ranked: readonly string[] = RANKED_TRADE_COLUMNS;

test('every column a trade window may be sorted by on the wire has a rank in the store', () => {
  const unranked = TRADE_SORT_COLUMNS.filter((column) => !ranked.includes(column));
  assert.deepEqual(unranked, [], 'rank these in RANKED_TRADE_COLUMNS (server/store/format.ts) and bump STORE_FORMAT_VERSION');
});

test('every rank the store builds serves a sort of the wire', () => {
  const sortable: readonly string[] = TRADE_SORT_COLUMNS;
  const unused = RANKED_TRADE_COLUMNS.filter((column) => !sortable.includes(column));
  assert.deepEqual(unused, [], 'ranks nothing sorts by: drop them from RANKED_TRADE_COLUMNS and bump STORE_FORMAT_VERSION');
});

test('trade_list is built with a rank column for every ranked column, and its clustered copies by one', () => {
  const tradeList = ROLLUPS.find((rollup) => rollup.table === StoreTable.tradeList);
  assert.ok(tradeList, 'no trade_list rollup');
  for (const column of RANKED_TRADE_COLUMNS) {
    assert.match(tradeList.select, new RegExp(`\\bAS "?${tradeRankColumn(column)}\\b`), `trade_list has no ${tradeRankColumn(column)}`);
  }
  for (const column of CLUSTERED_TRADE_SORTS) {
    const copy = ROLLUPS.find((rollup) => rollup.table === tradeListSortedBy(column));
    assert.ok(copy, `no trade_list copy clustered by ${column}`);
    assert.match(copy.select, new RegExp(`ORDER BY "?${tradeRankColumn(column)}\\b`));
  }
});
