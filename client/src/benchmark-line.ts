// The benchmark's line (the `benchmark` answer: per run per day, its value by the day's last bar)
// on the equity chart's x axis: zero at the range start, as the equity curve starts; within each
// day linear from the day before's value at the day's first bar to the day's own at its last, so
// it moves while the market is open and stays flat over closed hours, as the runs' curves do.
import type { ColumnTable } from './worker/types.js';

/** The benchmark's value of `run` at every x (epoch seconds) of the equity chart; null when the run has no day in the answer. */
export function benchmarkOnAxis(t: ColumnTable, run: string, x: Float64Array): Float64Array | null {
  const runCol = t.columns.run_id;
  const start = t.columns.start_ts as Float64Array | undefined;
  const end = t.columns.ts as Float64Array | undefined;
  const equity = t.columns.equity as Float64Array | undefined;
  if (!runCol || runCol instanceof Float64Array || !start || !end || !equity || x.length === 0) return null;
  const code = runCol.dict.indexOf(run);
  // Corners of the line, in seconds: (day start, value before it), (day end, value after it).
  const px: number[] = [];
  const py: number[] = [];
  let value = 0;
  for (let i = 0; i < t.length; i++) {
    if (runCol.codes[i] !== code) continue;
    px.push(start[i]! / 1000, end[i]! / 1000);
    py.push(value, equity[i]!);
    value = equity[i]!;
  }
  if (px.length === 0) return null;
  const out = new Float64Array(x.length);
  let j = 0;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    while (j < px.length - 1 && px[j + 1]! <= xi) j++;
    const span = j + 1 < px.length ? px[j + 1]! - px[j]! : 0;
    out[i] = xi <= px[0]! ? py[0]! : span > 0 ? py[j]! + ((py[j + 1]! - py[j]!) * (xi - px[j]!)) / span : py[j]!;
  }
  return out;
}
