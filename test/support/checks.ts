// Comparisons shared by the query tests: numbers within a relative tolerance, rows, and the M4
// property (every kept row is a real row; per pixel column the first, last, min and max survive).
import assert from 'node:assert/strict';
import type { RefScope } from './reference.js';

export function near(got: unknown, want: unknown, path: string, tolerance = 1e-9): void {
  if (want === null || want === undefined || (typeof want === 'number' && Number.isNaN(want))) {
    assert.ok(got === null || got === undefined, `${path}: expected null, got ${String(got)}`);
    return;
  }
  if (typeof want === 'number') {
    assert.equal(typeof got, 'number', `${path}: expected ${want}, got ${String(got)}`);
    const g = got as number;
    if (!Number.isFinite(want)) return assert.equal(g, want, path);
    assert.ok(Math.abs(g - want) <= tolerance * Math.max(1, Math.abs(want)), `${path}: got ${g}, want ${want}`);
    return;
  }
  assert.deepEqual(got, want, path);
}

export function nearRows(got: Record<string, unknown>[], want: Record<string, unknown>[], what: string, tolerance = 1e-9): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} rows, want ${want.length}`);
  want.forEach((w, i) => {
    for (const [k, v] of Object.entries(w)) near(got[i]![k], v, `${what} row ${i} ${k}`, tolerance);
  });
}

export function scopeParams(s: RefScope) {
  const filters: Record<string, unknown> = {};
  for (const k of ['sectors', 'symbols', 'sides', 'tags', 'pnl', 'ret', 'barsHeld', 'holdingMs', 'mae', 'mfe'] as const) {
    if (s[k] !== undefined) filters[k] = s[k];
  }
  return {
    ...(s.runs ? { runs: s.runs } : {}),
    ...(s.from !== undefined ? { from: s.from } : {}),
    ...(s.to !== undefined ? { to: s.to } : {}),
    ...(Object.keys(filters).length ? { filters } : {}),
  };
}

/**
 * M4: every kept row is a real row, and per pixel column the first, last, min and max survive.
 * Pixel columns are over `axis` (the dataset's trading time, tradingTimeRef).
 */
export function checkM4(
  got: Record<string, unknown>[],
  full: Map<string, ({ t: number } & Record<string, number>)[]>,
  width: number,
  series: string[],
  what: string,
  axis: (t: number) => number,
): void {
  const all = [...full.values()].flat();
  if (all.length === 0) return assert.equal(got.length, 0, `${what}: rows for an empty series`);
  const x0 = Math.min(...all.map((p) => axis(p.t)));
  const span = Math.max(Math.max(...all.map((p) => axis(p.t))) - x0, 1);
  const px = (t: number) => Math.min(Math.floor(((axis(t) - x0) / span) * width), width - 1);
  assert.deepEqual([...new Set(got.map((r) => r.run_id as string))].sort(), [...full.keys()].sort(), `${what}: runs`);
  for (const [run, points] of full) {
    const mine = got.filter((r) => r.run_id === run);
    const byTs = new Map(points.map((p) => [p.t, p]));
    const ts = mine.map((r) => r.ts as number);
    assert.deepEqual(ts, [...ts].sort((a, b) => a - b), `${what} ${run}: sorted by time`);
    assert.ok(mine.length <= width * (2 + 2 * series.length), `${what} ${run}: ${mine.length} rows for ${width} columns`);
    for (const row of mine) {
      const exact = byTs.get(row.ts as number);
      assert.ok(exact, `${what} ${run}: ${String(row.ts)} is not a bar of the series`);
      for (const s of series) near(row[s], exact[s], `${what} ${run} ${s} at ${String(row.ts)}`, 1e-9);
    }
    const columns = new Map<number, typeof points>();
    for (const p of points) (columns.get(px(p.t)) ?? columns.set(px(p.t), []).get(px(p.t))!).push(p);
    for (const [column, cps] of columns) {
      const kept = mine.filter((r) => px(r.ts as number) === column);
      const keptTs = new Set(kept.map((r) => r.ts as number));
      assert.ok(keptTs.has(cps[0]!.t) && keptTs.has(cps.at(-1)!.t), `${what} ${run} px ${column}: first and last kept`);
      for (const s of series) {
        const values = cps.map((p) => p[s]!);
        const keptValues = kept.map((r) => r[s] as number);
        near(Math.min(...keptValues), Math.min(...values), `${what} ${run} px ${column} min ${s}`);
        near(Math.max(...keptValues), Math.max(...values), `${what} ${run} px ${column} max ${s}`);
      }
    }
  }
}

