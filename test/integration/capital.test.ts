// The capital base is a stated fact (server/prepare/capital.ts): from the description (one number
// or per run), the runs table's capital column, or the run's params; recorded with its source in
// the store and the hello; and when there is none the return metrics are absent, never computed
// over a guessed base (the old fallback to mean gross exposure is gone).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { sqlString } from '../../server/sql/text.js';
import { LocalSession } from '../support/local-session.js';
import { copyTiny, duck, workDir } from '../support/tiny-variants.js';

const sessions: LocalSession[] = [];
after(() => sessions.forEach((s) => s.close()));

async function open(name: string, leaveOut: string[], settings: Parameters<typeof LocalSession.open>[2] = {}, prepare?: (dir: string) => Promise<void>) {
  const work = await workDir(`capital-${name}`);
  const dir = path.join(work, 'data');
  await copyTiny(dir, leaveOut);
  await prepare?.(dir);
  const session = await LocalSession.open(dir, 1, { storeDir: path.join(work, '.stores'), ...settings });
  sessions.push(session);
  return session;
}

const capitals = (s: LocalSession) => Object.fromEntries([...s.store.catalog.runs.values()].map((r) => [r.runId, [r.capital, r.capitalSource]]));

test('from the run parameters (the fixture states gross_notional)', async () => {
  const s = await open('params', []);
  assert.deepEqual(capitals(s), { alt: [15_000_000, 'params.gross_notional'], base: [10_000_000, 'params.gross_notional'] });
});

test('the description wins: one number for all runs, or one per run (the others keep theirs)', async () => {
  const all = await open('all', [], { description: { capital: 2_000_000 } });
  assert.deepEqual(capitals(all), { alt: [2_000_000, 'tickscope.json'], base: [2_000_000, 'tickscope.json'] });
  const one = await open('one', [], { description: { capital: { alt: 3_000_000 } } });
  assert.deepEqual(capitals(one), { alt: [3_000_000, 'tickscope.json'], base: [10_000_000, 'params.gross_notional'] });
  // The returns are over the stated base: with a fifth of the capital, alt's first-day return is
  // five times the one over its 15M notional.
  const daily = async (s: LocalSession) => (await s.ask({ query: 'rolling', params: { window: 2, runs: ['alt'] } })).rows;
  const base = await open('params-again', []);
  const [stated, notional] = [await daily(one), await daily(base)];
  assert.ok(stated.length > 2);
  let compared = 0;
  for (let i = 0; i < stated.length; i++) {
    const a = Number(stated[i]!['ret'] ?? NaN);
    const b = Number(notional[i]!['ret'] ?? NaN);
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    assert.ok(Math.abs(a - b * 5) < 1e-12, `day ${i}: ${a} vs 5 x ${b}`);
    compared++;
  }
  assert.ok(compared >= stated.length - 1, `compared ${compared} of ${stated.length} days`);
  const summary = await one.ask({ query: 'summary', params: {} });
  assert.equal(summary.rows.find((r) => r['run_id'] === 'alt')!['capital'], 3_000_000);
});

test('from the runs table\'s capital column', async () => {
  const s = await open('column', ['runs.arrow'], {}, async (dir) => {
    await duck(`COPY (SELECT * FROM (VALUES ('base', 'Base', 4000000.0), ('alt', 'Alt', NULL)) r(run_id, name, initial_capital))
      TO ${sqlString(path.join(dir, 'runs.parquet'))} (FORMAT parquet)`);
  });
  const c = capitals(s);
  assert.deepEqual(c['base'], [4_000_000, 'runs.capital']);
  assert.equal(c['alt']![0], null);
  assert.match(String(c['alt']![1]), /^none: .*tickscope\.json/);
});

test('no capital anywhere: return metrics are absent and the hello says why; P&L is still there', async () => {
  const s = await open('none', ['runs.arrow']);
  for (const run of s.store.catalog.runs.values()) {
    assert.equal(run.capital, null);
    assert.match(run.capitalSource, /^none: .*"capital"/);
  }
  const summary = await s.ask({ query: 'summary', params: {} });
  for (const row of summary.rows) {
    for (const metric of ['total_return', 'cagr', 'sharpe', 'sortino', 'max_drawdown', 'annual_volatility']) {
      assert.equal(row[metric], null, `${String(row['run_id'])} ${metric}`);
    }
    assert.equal(typeof row['total_pnl'], 'number');
  }
});
