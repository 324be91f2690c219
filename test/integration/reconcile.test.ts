// The reconciliation of trades against bars at preparation (server/prepare/reconcile.ts): the tiny
// fixture agrees with itself (its trades' P&L sums to its bars' P&L per symbol), so it has no
// finding; the same bars with tampered trades (sides flipped, one P&L changed, trades of a symbol
// without bars) get one finding per kind, with counts and examples, and still prepare.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { prepareDataset, type PrepareResult } from '../../server/prepare/prepare.js';
import { sqlString } from '../../server/sql/text.js';
import { copyTiny, duck, workDir } from '../support/tiny-variants.js';

let work: string;
let tampered: PrepareResult;
/** What was changed in the tampered copy. */
let flipped: number;

before(async () => {
  work = await workDir('reconcile');
  const dir = path.join(work, 'tampered');
  const tiny = await copyTiny(dir, ['trades']);
  const trades = sqlString(path.join(tiny, 'trades', 'trades.parquet'));
  // Flip the side of the base run's first three trades; add 1,000 to the
  // P&L of one alt trade; add two trades of a symbol no bar has.
  const flips = await duck(`SELECT count(*)::INTEGER AS n FROM (SELECT * FROM read_parquet(${trades}) WHERE run_id = 'base' ORDER BY entry_ts, symbol LIMIT 3)`);
  flipped = Number(flips[0]!['n']);
  await duck(`COPY (
      WITH t AS (SELECT *, row_number() OVER (PARTITION BY run_id ORDER BY entry_ts, symbol) AS k FROM read_parquet(${trades}))
      SELECT * EXCLUDE (k) REPLACE (
        CASE WHEN run_id = 'base' AND k <= 3 THEN CASE side WHEN 'long' THEN 'short' ELSE 'long' END ELSE side END AS side,
        CASE WHEN run_id = 'alt' AND k = 1 THEN pnl + 1000 ELSE pnl END AS pnl)
      FROM t
      UNION ALL BY NAME
      (SELECT * REPLACE ('NOBARS' AS symbol, trade_id + 100000 AS trade_id) FROM read_parquet(${trades}) WHERE run_id = 'base' ORDER BY trade_id LIMIT 2)
    ) TO ${sqlString(path.join(dir, 'trades.parquet'))} (FORMAT parquet)`);
  tampered = await prepareDataset({ input: dir, storeDir: path.join(work, '.stores') });
});

const findings = (r: PrepareResult) => r.dataQuality.filter((e) => e.kind === 'finding');

test('a dataset whose trades and bars agree has no finding', async () => {
  const dir = path.join(work, 'agreeing');
  await copyTiny(dir);
  const r = await prepareDataset({ input: dir, storeDir: path.join(work, '.stores-agreeing') });
  assert.deepEqual(findings(r), []);
});

test('trade sides against the bar position: every flipped trade, with examples', () => {
  const side = findings(tampered).find((f) => f.column === 'side');
  assert.ok(side, JSON.stringify(findings(tampered)));
  assert.equal(side.count, flipped);
  assert.equal(side.table, 'trades');
  assert.ok(side.examples.length > 0 && side.examples.every((e) => e.startsWith('base trade ')), side.examples.join('; '));
  assert.match(side.message, /disagrees with the sign of the bar position/);
});

test('trade P&L against bar P&L per run and symbol: the changed trade\'s pair, and the flipped ones keep their P&L', () => {
  const pnl = findings(tampered).find((f) => f.column === 'pnl');
  assert.ok(pnl, JSON.stringify(findings(tampered)));
  assert.equal(pnl.count, 1);
  assert.match(pnl.examples[0]!, /^alt .*: trades .*, bars /);
});

test('trades of a symbol without bars are a finding, not a failure', () => {
  const orphan = findings(tampered).find((f) => f.problem === 'trades without bars');
  assert.ok(orphan, JSON.stringify(findings(tampered)));
  assert.equal(orphan.count, 2);
  assert.match(orphan.examples[0]!, /^base NOBARS: 2 trade/);
});
