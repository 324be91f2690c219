// A dataset's runs as the views name and color them: in legends, cells, titles and tiles.
import { runColor, type Theme } from './theme.js';
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
  return runColor(dataset.runs.findIndex((r) => r.runId === runId), theme);
}
