// The reading of a dataset in segments (server/store/segments.ts) and what a preparation does
// with new files (server/prepare/add-runs.ts compareWithManifest), without a database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTERED_TRADE_SORTS, META_TABLE, StoreTable, tradeListSortedBy } from '../../server/store/format.js';
import { MANIFEST_VERSION, SEGMENT_TABLE_RULES, segmentViewSelect, type SegmentFile, type SegmentManifest } from '../../server/store/segments.js';
import { compareWithManifest } from '../../server/prepare/add-runs.js';
import { STORE_FORMAT_VERSION } from '../../server/store/format.js';

test('every table of a store has a rule for reading segments', () => {
  const tables = [META_TABLE, ...Object.values(StoreTable), ...CLUSTERED_TRADE_SORTS.map((c) => tradeListSortedBy(c))];
  for (const table of tables) assert.ok(SEGMENT_TABLE_RULES[table], `${table} has no rule in server/store/segments.ts`);
});

test('per-run tables read every segment; market and benchmark days the newest; settings the base', () => {
  assert.equal(segmentViewSelect(StoreTable.bars, 3), 'SELECT * FROM seg0.main.bars UNION ALL SELECT * FROM seg1.main.bars UNION ALL SELECT * FROM seg2.main.bars');
  assert.equal(segmentViewSelect(StoreTable.tradeList, 2), 'SELECT * FROM seg0.main.trade_list UNION ALL SELECT * FROM seg1.main.trade_list');
  assert.equal(segmentViewSelect(StoreTable.benchmarkDay, 3), 'SELECT * FROM seg2.main.benchmark_day');
  assert.equal(segmentViewSelect(StoreTable.marketDay, 2), 'SELECT * FROM seg1.main.market_day');
  assert.equal(segmentViewSelect(META_TABLE, 2), 'SELECT * FROM seg0.main.meta');
  assert.match(segmentViewSelect(StoreTable.runs, 2)!, /PARTITION BY run_id ORDER BY _segment DESC/);
  assert.match(segmentViewSelect(StoreTable.tradeTags, 2)!, /sum\(trades\)/);
  assert.equal(segmentViewSelect('market_close', 2), null);
  assert.throws(() => segmentViewSelect('a_new_rollup', 2), /a_new_rollup has no rule/);
});

const file = (kind: string, p: string, size = 10, mtimeMs = 1): SegmentFile => ({ kind, path: p, size, mtimeMs });
const manifest: SegmentManifest = {
  manifestVersion: MANIFEST_VERSION,
  formatVersion: STORE_FORMAT_VERSION,
  segments: [
    { store: 'a.duckdb', files: [file('bars', 'bars/run_id=a/p.parquet'), file('trades', 'trades/a.parquet'), file('symbols', 'symbols.parquet')], runs: ['a'] },
    { store: 'b.delta.duckdb', files: [file('bars', 'bars/run_id=b/p.parquet')], runs: ['b'] },
  ],
};
const current = manifest.segments.flatMap((s) => s.files);

test('the same files are the prepared dataset; new run files grow it', () => {
  assert.deepEqual(compareWithManifest(manifest, current), { kind: 'same' });
  const added = [file('bars', 'bars/run_id=c/p.parquet'), file('trades', 'trades/c.parquet'), file('runs', 'runs/c.parquet')];
  assert.deepEqual(compareWithManifest(manifest, [...current, ...added]), { kind: 'grow', added });
});

test('a changed, missing or shared new file prepares the whole dataset again, saying which', () => {
  const changed = current.map((f) => (f.path === 'trades/a.parquet' ? { ...f, mtimeMs: 2 } : f));
  assert.deepEqual(compareWithManifest(manifest, changed), { kind: 'rebuild', reason: 'trades/a.parquet changed since it was prepared' });
  assert.deepEqual(compareWithManifest(manifest, current.slice(1)), { kind: 'rebuild', reason: 'bars/run_id=a/p.parquet is no longer in the input' });
  const symbols = compareWithManifest(manifest, [...current, file('symbols', 'symbols_more.parquet')]);
  assert.deepEqual(symbols, { kind: 'rebuild', reason: "the new file symbols_more.parquet is symbols, not a run's bars, trades or runs" });
  const benchmark = compareWithManifest(manifest, [...current, file('benchmark', 'benchmark.csv')]);
  assert.equal(benchmark.kind, 'rebuild');
});
