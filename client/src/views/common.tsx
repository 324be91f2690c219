import { useCallback } from 'react';
import { navigate, type Route } from '../route.js';
import type { QueryState } from '../query.js';
import type { AskQuery, DatasetSchema } from '../worker/types.js';
import { ms } from '../format.js';

/** A run's name for legends and cells: its name when short, else its id (the name goes in titles). */
export function runLabel(dataset: DatasetSchema, runId: string): string {
  const run = dataset.runs.find((r) => r.runId === runId);
  return run?.name && run.name.length <= 16 ? run.name : runId;
}

export function runTitle(dataset: DatasetSchema, runId: string): string {
  const run = dataset.runs.find((r) => r.runId === runId);
  return run?.name && run.name !== runId ? `${runId}: ${run.name}` : runId;
}

/** A drag across a time chart (epoch seconds): zoom every view to that range. */
export function useRangeSelect(route: Route): (fromSec: number, toSec: number) => void {
  return useCallback(
    (fromSec: number, toSec: number) => {
      const from = Math.floor(fromSec) * 1000;
      const to = Math.ceil(toSec) * 1000;
      if (to - from < 60_000) return;
      navigate({ ...route, from, to, trade: undefined });
    },
    [route],
  );
}

/** A small line under a chart: what the answer is (preview, approximate, notes, timing) or why it failed. */
export function QueryNote<Q extends AskQuery>({ state }: { state: QueryState<Q> }) {
  if (state.error) return <span className="hint hint-error">{state.error}</span>;
  const a = state.answer;
  if (!a) return <span className="hint">{state.loading ? 'loading…' : ''}</span>;
  const parts: string[] = [];
  if (a.provisional) parts.push('preview from cache, refining…');
  else if (state.loading) parts.push('updating…');
  if (a.approximate && !a.provisional) parts.push('approximate');
  if (!a.provisional) parts.push(a.cached ? 'from cache' : `${ms(a.elapsedMs)}`);
  return (
    <span className="hint" title={a.notes.join('\n') || undefined} data-provisional={String(a.provisional)}>
      {parts.join(' · ')}
      {a.notes.length > 0 && !a.provisional ? ' · ⓘ' : ''}
    </span>
  );
}

export function ErrorBox({ message, kind }: { message: string; kind?: string | null }) {
  return (
    <div className="error-box" role="alert">
      {kind === 'BadParams' ? 'This view asks for something the dataset does not have: ' : 'Could not load: '}
      {message}
    </div>
  );
}
