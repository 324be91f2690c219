// The runs of a parameter sweep: one row per run with its parameters and its metrics over the
// range and filters, sorted by the server on any column and fetched in windows (thousands of runs
// scroll like the trade list), filtered by parameter values; above it what the sweep says about
// luck (the best run's deflated Sharpe, the share of runs beating the benchmark), beside it the
// parameter surface. A run's star pins it: the pinned runs are what every other view shows.
import { useCallback, useMemo, useState } from 'react';
import { LEADERBOARD_METRICS, MAX_PINNED_RUNS, PARAM_COLUMN_PREFIX } from '../../../shared/constants.js';
import { Card } from '../components/Card.js';
import { VirtualTable, type RowRef, type TableColumn } from '../components/VirtualTable.js';
import { count, percent, ratio, tone } from '../format.js';
import { pinRun, togglePin, type PinState } from '../pinned-runs.js';
import { useQuery } from '../query.js';
import { hasTradeFilters, navigate, type Route } from '../route.js';
import { paramNames, paramValues, sweptParams, toggleParamValue } from '../run-params.js';
import { runColorOf, runLabel, runTitle } from '../runs.js';
import { prefetch } from '../session.js';
import { DEFAULT_LEADERBOARD_SORT, LEADERBOARD_PAGE, leaderboardSpec, listDownload, sweepStatsSpec } from '../specs.js';
import { METRIC_INFO, sweepVerdict } from '../sweep-metrics.js';
import { num, str } from '../table.js';
import { useTheme } from '../theme.js';
import { pageSpec, useWindowedList } from '../windows.js';
import type { DatasetSchema } from '../worker/types.js';
import { QueryNote } from './common.js';
import { Surface } from './Surface.js';
import { DownloadMenu } from '../components/DownloadMenu.js';

/** Most values of one parameter offered as chips; a parameter with more is filtered by the surface. */
const MAX_VALUE_CHIPS = 40;

function ParamFilter({ route, dataset }: { route: Route; dataset: DatasetSchema }) {
  const swept = sweptParams(dataset);
  if (swept.length === 0) return null;
  return (
    <div className="filters" data-testid="param-filter">
      {swept.map((name) => {
        const values = paramValues(dataset, name);
        const on = new Set(route.pfilter?.[name] ?? []);
        return (
          <div key={name} className="filter tags" role="group" aria-label={`Parameter ${name}`} data-param={name}>
            <span>{name}</span>
            {values.slice(0, MAX_VALUE_CHIPS).map((v) => (
              <button
                key={String(v)}
                type="button"
                className={`chip${on.has(String(v)) ? ' on' : ''}`}
                aria-pressed={on.has(String(v))}
                data-value={String(v)}
                onClick={() => navigate(toggleParamValue(route, name, v))}
                title={`Keep only the runs with ${name} = ${String(v)} (several values: any of them)`}
              >
                {String(v)}
              </button>
            ))}
            {values.length > MAX_VALUE_CHIPS && <span className="muted">+{values.length - MAX_VALUE_CHIPS} more values</span>}
          </div>
        );
      })}
      {route.pfilter && (
        <button type="button" className="link" data-testid="clear-param-filter" onClick={() => navigate({ ...route, pfilter: undefined })}>
          All runs
        </button>
      )}
    </div>
  );
}

/** The line above the leaderboard: the best run's deflated Sharpe and the share beating the benchmark. */
function SweepVerdict({ route, dataset }: { route: Route; dataset: DatasetSchema }) {
  const state = useQuery(sweepStatsSpec(route, dataset), { name: 'runs.verdict' });
  const t = state.answer?.data;
  const verdict = useMemo(() => (t ? sweepVerdict(t) : null), [t]);
  return (
    <p
      className="hint sweep-verdict"
      data-testid="sweep-verdict"
      data-best-run={verdict?.best ?? ''}
      data-dsr={verdict ? String(verdict.dsr) : ''}
      data-beating={verdict?.beating ?? ''}
      data-measured={verdict?.measured ?? ''}
    >
      {state.error ? (
        <span className="hint-error">Could not weigh the runs: {state.error}</span>
      ) : !verdict ? (
        t ? 'No run passes the filters.' : 'Weighing the runs…'
      ) : (
        <>
          Best Sharpe <strong>{ratio(verdict.sharpe)}</strong> ({runLabel(dataset, verdict.best)}):{' '}
          <span title={METRIC_INFO.deflated_sharpe.title}>
            deflated Sharpe <strong className={verdict.dsr >= 0.95 ? 'pos' : 'neg'}>{percent(verdict.dsr, { digits: 1 })}</strong> given {count(dataset.runs.length)} trials
          </span>{' '}
          ·{' '}
          <span title={METRIC_INFO.excess_return.title}>
            <strong>{count(verdict.beating)}</strong> of {count(verdict.measured)} runs beat the benchmark ({percent(verdict.measured ? verdict.beating / verdict.measured : Number.NaN, { digits: 0 })})
          </span>{' '}
          <QueryNote state={state} />
        </>
      )}
    </p>
  );
}

/** Choose two pinned runs and open their diff. */
function CompareRuns({ route, dataset, pinned }: { route: Route; dataset: DatasetSchema; pinned: string[] }) {
  const [a, setA] = useState<string | null>(null);
  const [b, setB] = useState<string | null>(null);
  if (pinned.length < 2) return <span className="hint">pin two runs to compare them trade by trade</span>;
  const runA = a && pinned.includes(a) ? a : pinned[0]!;
  const runB = b && pinned.includes(b) && b !== runA ? b : pinned.find((r) => r !== runA)!;
  const options = pinned.map((r) => (
    <option key={r} value={r}>
      {runLabel(dataset, r)}
    </option>
  ));
  return (
    <span className="compare-runs">
      Compare{' '}
      <select aria-label="Run A" data-testid="diff-a" value={runA} onChange={(e) => setA(e.target.value)}>
        {options}
      </select>{' '}
      with{' '}
      <select aria-label="Run B" data-testid="diff-b" value={runB} onChange={(e) => setB(e.target.value)}>
        {options}
      </select>{' '}
      <button type="button" className="link" data-testid="diff-open" disabled={runA === runB} onClick={() => navigate({ ...route, level: 'diff', diff: { a: runA, b: runB } })}>
        trade by trade →
      </button>
    </span>
  );
}

export function Leaderboard({ route, dataset, pin }: { route: Route; dataset: DatasetSchema; pin: PinState }) {
  const theme = useTheme();
  const base = useMemo(() => leaderboardSpec(route, dataset), [route, dataset]);
  const list = useWindowedList(base, LEADERBOARD_PAGE, 'runs');
  const sort = route.lsort ?? DEFAULT_LEADERBOARD_SORT;
  const pinned = useMemo(() => new Set(pin.pinned ?? []), [pin.pinned]);
  const [notice, setNotice] = useState<string | null>(null);

  const toggle = useCallback(
    (run: string) => {
      const next = togglePin(route, dataset, pin.defaults, run);
      if (!next) return setNotice(`${MAX_PINNED_RUNS} runs are pinned: unpin one before pinning ${runTitle(dataset, run)}.`);
      setNotice(null);
      navigate(next);
    },
    [route, dataset, pin.defaults],
  );
  const pinFromSurface = useCallback(
    (run: string) => {
      const next = pinRun(route, dataset, pin.defaults, run);
      if (!next) return setNotice(`${MAX_PINNED_RUNS} runs are pinned: unpin one before pinning ${runTitle(dataset, run)}.`);
      setNotice(`Pinned ${runTitle(dataset, run)}: every view shows it.`);
      navigate(next);
    },
    [route, dataset, pin.defaults],
  );

  const nextSort = useCallback(
    (column: string) => {
      const metric = (LEADERBOARD_METRICS as readonly string[]).includes(column) ? METRIC_INFO[column as keyof typeof METRIC_INFO] : null;
      const descending = sort.column === column ? !sort.descending : metric ? metric.descendingFirst : false;
      return { ...route, lsort: { column, descending } };
    },
    [route, sort],
  );
  const onSort = useCallback((column: string) => navigate(nextSort(column)), [nextSort]);
  const onSortHover = useCallback((column: string) => prefetch([pageSpec(leaderboardSpec(nextSort(column), dataset), 0, LEADERBOARD_PAGE)], 'hover'), [nextSort, dataset]);

  const columns = useMemo((): TableColumn[] => {
    const runOf = (r: RowRef) => str(r.table, 'run_id', r.i);
    return [
      {
        key: 'pin',
        label: '★',
        width: 34,
        title: `Pinned runs are what every view shows (up to ${MAX_PINNED_RUNS})`,
        cell: (r) => {
          const run = runOf(r);
          const on = pinned.has(run);
          return (
            <button
              type="button"
              className={`pin${on ? ' on' : ''}`}
              data-testid={`pin-${run}`}
              aria-pressed={on}
              title={on ? `Unpin ${runTitle(dataset, run)}` : `Pin ${runTitle(dataset, run)}: every view shows it`}
              style={on ? { color: runColorOf(dataset, run, theme) } : undefined}
              onClick={(e) => {
                e.stopPropagation();
                toggle(run);
              }}
            >
              {on ? '★' : '☆'}
            </button>
          );
        },
      },
      { key: 'run_id', label: 'Run', width: 132, sort: 'run_id', cell: (r) => <span title={runTitle(dataset, runOf(r))}>{runLabel(dataset, runOf(r))}</span> },
      ...paramNames(dataset).map(
        (name): TableColumn => ({
          key: `${PARAM_COLUMN_PREFIX}${name}`,
          label: name,
          width: 84,
          align: 'right',
          sort: `${PARAM_COLUMN_PREFIX}${name}`,
          title: `Parameter ${name}: sort by it`,
          cell: (r) => str(r.table, `${PARAM_COLUMN_PREFIX}${name}`, r.i),
        }),
      ),
      ...LEADERBOARD_METRICS.map((metric): TableColumn => {
        const info = METRIC_INFO[metric];
        return {
          key: metric,
          label: info.label,
          width: metric === 'total_pnl' ? 104 : 78,
          align: 'right',
          sort: metric,
          title: `${info.title}: sort by it`,
          cell: (r) => {
            const v = num(r.table, metric, r.i);
            return info.signed ? <span className={tone(v)}>{info.format(v)}</span> : info.format(v);
          },
        };
      }),
    ];
  }, [dataset, pinned, theme, toggle]);

  const isSelected = useCallback((r: RowRef) => pinned.has(str(r.table, 'run_id', r.i)), [pinned]);
  const filtered = !!route.pfilter;
  const ranged = route.from !== undefined;

  return (
    <div className="view runs" data-testid="runs-view">
      <Card
        title="Runs"
        aside={
          <span className="hint" data-testid="runs-count">
            {list.total !== null ? `${count(list.total)} of ${count(dataset.runs.length)} runs` : 'counting…'}
            {ranged ? ' · metrics over the range' : ''}
            {hasTradeFilters(route) ? ' · trade filters applied' : ''} · sort by any column · ☆ pins a run (up to {MAX_PINNED_RUNS})
            <DownloadMenu spec={listDownload(base)} testId="runs-download" what="this leaderboard" />
          </span>
        }
      >
        <SweepVerdict route={route} dataset={dataset} />
        <ParamFilter route={route} dataset={dataset} />
        <div className="runs-actions">
          <CompareRuns route={route} dataset={dataset} pinned={pin.pinned ?? []} />
          {notice && (
            <span className="hint" role="status" data-testid="pin-notice">
              {notice}
            </span>
          )}
        </div>
        <VirtualTable
          testId="leaderboard"
          {...list}
          label="Runs"
          columns={columns}
          height="max(280px, calc(100vh - 560px))"
          sort={sort}
          onSort={onSort}
          onSortHover={onSortHover}
          onActivate={(r) => toggle(str(r.table, 'run_id', r.i))}
          isSelected={isSelected}
          empty={`No run ${filtered ? 'has these parameter values' : 'to show'}.`}
        />
      </Card>
      <Surface route={route} dataset={dataset} pinned={pinned} onPin={pinFromSurface} />
    </div>
  );
}
