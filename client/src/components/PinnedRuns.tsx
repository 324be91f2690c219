// The runs in the header: with few runs, one toggle per run (every run shown unless some are
// picked); with a sweep's many, the pinned runs (a click unpins) and why these ("pinned: 3 best
// by Sharpe + median of 200 runs"). A run's dot has its color in every view.
import { MAX_PINNED_RUNS } from '../../../shared/constants.js';
import { manyRuns, pinnedLabel, togglePin, type PinState } from '../pinned-runs.js';
import { navigate, type Route } from '../route.js';
import { runColorOf, runLabel, runTitle } from '../runs.js';
import { useTheme } from '../theme.js';
import type { DatasetSchema } from '../worker/types.js';

export function PinnedRuns({ route, dataset, pin }: { route: Route; dataset: DatasetSchema; pin: PinState }) {
  const theme = useTheme();
  if (dataset.runs.length < 2) return null;
  const many = manyRuns(dataset);
  const pinned = pin.pinned ?? [];
  const shown = many ? pinned : dataset.runs.map((r) => r.runId);
  return (
    <div className="runs" role="group" aria-label="Runs shown" data-testid="pinned-runs" data-pinned={pinned.join(',')}>
      {many && (
        <span className="pinned-label" data-testid="pinned-label" title={`Every view shows the pinned runs (up to ${MAX_PINNED_RUNS}); pin others in the Runs tab`}>
          {pinnedLabel(dataset, pin.pinned, pin.defaults)}
        </span>
      )}
      {pin.error && (
        <span className="pinned-label hint-error" role="alert">
          {pin.error}
        </span>
      )}
      {shown.map((runId) => {
        const on = pinned.includes(runId);
        const next = togglePin(route, dataset, pin.defaults, runId);
        return (
          <button
            key={runId}
            type="button"
            className={`run-chip${on ? ' on' : ''}`}
            aria-pressed={on}
            data-run={runId}
            disabled={!next}
            onClick={() => next && navigate(next)}
            title={many ? `Unpin ${runTitle(dataset, runId)}` : `${on ? 'Hide' : 'Overlay'} ${runTitle(dataset, runId)}`}
          >
            <span className="dot" style={{ background: runColorOf(dataset, runId, theme) }} />
            {runLabel(dataset, runId)}
            {many ? ' ×' : ''}
          </button>
        );
      })}
    </div>
  );
}
