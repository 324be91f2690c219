/** Percentile by nearest rank over a copy of the samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summary(label: string, samples: readonly number[]): string {
  const f = (x: number) => x.toFixed(1).padStart(8);
  return `${label.padEnd(44)} n=${String(samples.length).padStart(3)}  p50 ${f(percentile(samples, 50))} ms  p95 ${f(percentile(samples, 95))} ms  max ${f(Math.max(...samples))} ms`;
}
