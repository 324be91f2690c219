// A dataset's runs as the views name and color them: in legends, cells, titles and tiles.
import { RUN_COLORS, runColor, type Theme } from './theme.js';
import type { DatasetSchema } from './worker/types.js';

/** A run's name for legends and cells: its name when short, else its id (the name goes in titles). */
export function runLabel(dataset: DatasetSchema, runId: string): string {
  const run = dataset.runs.find((r) => r.runId === runId);
  return run?.name && run.name.length <= 16 ? run.name : runId;
}

export function runTitle(dataset: DatasetSchema, runId: string): string {
  const run = dataset.runs.find((r) => r.runId === runId);
  return run?.name && run.name !== runId ? `${runId}: ${run.name}` : runId;
}

/** The run's color: its place among the dataset's runs picks it, so a run keeps its color in every view. */
export function runColorOf(dataset: DatasetSchema, runId: string, theme: Theme): string {
  const index = dataset.runs.findIndex((r) => r.runId === runId);
  return index < RUN_COLORS.length ? runColor(index, theme) : sweepColor(index, theme);
}

/**
 * Past the palette (a sweep's hundreds of runs, any few of them pinned together), a hue per place
 * a golden angle apart, so neighbouring runs differ and a run's color still never changes. Hex,
 * because the charts append an alpha to it.
 */
function sweepColor(index: number, theme: Theme): string {
  const hue = (index * 137.508) % 360;
  const [s, l] = theme === 'dark' ? [0.7, 0.65] : [0.7, 0.42];
  const k = (n: number) => (n + hue / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const channel = (n: number) => Math.round(255 * (l - a * Math.max(-1, Math.min(k(n) - 3, 9 - k(n), 1))));
  return `#${[channel(0), channel(8), channel(4)].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}
