import { Suspense, lazy, startTransition, useEffect, useLayoutEffect, useRef, useState, useSyncExternalStore, type ComponentType, type ReactNode } from 'react';
import { BarsOriginNotice, NoSymbolBars } from './components/BarsOriginNotice.js';
import { DataQualityNotice } from './components/DataQualityNotice.js';
import { NewRunsNotice } from './components/NewRunsNotice.js';
import { PinnedRuns } from './components/PinnedRuns.js';
import { usePinnedRuns } from './use-pinned-runs.js';
import { hourSpan, weekdayName } from './close-time.js';
import { markDrawn } from './perf.js';
import { count, dateTimeText, duration, percent, pnl, rangeText } from './format.js';
import { useSession } from './query.js';
import { crumbs, getRoute, goUp, hasTradeFilters, navigate, subscribeRoute, type Level, type Route } from './route.js';
import { prefetch, retry } from './session.js';
import { requestWidths, runsViewSpecs, tabSpecs } from './specs.js';
import { toggleTheme, useTheme } from './theme.js';
import { setExchangeZone, setZoneMode, subscribeZoneMode, zoneLabel, zoneMode as currentZoneMode } from './display-zone.js';
import { Overview, whenFirstChart } from './views/Overview.js';
import type { SessionView } from './worker/types.js';
import { PerfOverlay } from './components/PerfOverlay.js';
import { togglePerfOverlay, usePerfOverlay } from './perf-overlay.js';

// The overview is in the first bundle; the drill-down views load once the first chart is drawn
// (or when asked for first), so the page that opens parses less. Once loaded they render
// directly: through React.lazy a first render would suspend, and React holds a revealed
// Suspense boundary back for up to 300 ms.
function preloadable<P extends object>(load: () => Promise<ComponentType<P>>) {
  let loaded: ComponentType<P> | null = null;
  let pending: Promise<void> | null = null;
  const preload = () =>
    (pending ??= load().then((component) => {
      loaded = component;
    }));
  const Lazy = lazy(() => preload().then(() => ({ default: loaded! })));
  function View(props: P) {
    // Chosen once per mount: switching from Lazy to the component later would remount it.
    const [Loaded] = useState(() => loaded);
    return Loaded ? <Loaded {...props} /> : <Lazy {...props} />;
  }
  return { View, preload };
}
const breakdown = preloadable(() => import('./views/Breakdown.js').then((m) => m.Breakdown));
const symbolView = preloadable(() => import('./views/SymbolView.js').then((m) => m.SymbolView));
const tradesView = preloadable(() => import('./views/TradesView.js').then((m) => m.TradesView));
const leaderboardView = preloadable(() => import('./views/Leaderboard.js').then((m) => m.Leaderboard));
const runDiffView = preloadable(() => import('./views/RunDiff.js').then((m) => m.RunDiff));
const Leaderboard = leaderboardView.View;
const RunDiff = runDiffView.View;
const Breakdown = breakdown.View;
const SymbolView = symbolView.View;
const TradesView = tradesView.View;
whenFirstChart(() => {
  void breakdown.preload();
  void symbolView.preload();
  void tradesView.preload();
  // The likely next steps from the overview are its tabs: their first answers, at low priority
  // (this also warms the session's caches for them).
  const route = getRoute();
  const widths = requestWidths(window.innerWidth);
  prefetch([...tabSpecs('sectors', route, widths), ...tabSpecs('trades', route, widths)], 'warm');
});

function stateLabel(view: SessionView): string {
  switch (view.state) {
    case 'connecting':
      if (view.queue) return `queued #${view.queue.position}`;
      return view.preparation ? `preparing ${Math.round(view.preparation.progress * 100)}%` : 'connecting…';
    case 'ready':
      return 'connected';
    case 'reconnecting':
      return 'reconnecting…';
    case 'lost':
      return 'connection lost';
  }
}

function etaText(seconds: number): string {
  return seconds < 60 ? `${Math.max(1, Math.round(seconds))} s` : `${Math.round(seconds / 60)} min`;
}

/**
 * The route, updated in a transition (unless the change is urgent, see navigate): the view a
 * click opens renders in slices that yield to input instead of in the click's own task. Read
 * through useSyncExternalStore, every route change rendered synchronously: opening a symbol view
 * was one 40-60 ms task in bench:ui.
 */
export function useRoute(): Route {
  const [route, setRoute] = useState(getRoute);
  useEffect(() => {
    const update = (urgent = false) => (urgent ? setRoute(getRoute()) : startTransition(() => setRoute(getRoute())));
    // A change between the first render and this subscription is not missed.
    update();
    return subscribeRoute(update);
  }, []);
  return route;
}

const TABS: { level: Level; label: string }[] = [
  { level: 'overview', label: 'Overview' },
  { level: 'sectors', label: 'Sectors' },
  { level: 'symbols', label: 'Symbols' },
  { level: 'trades', label: 'Trades' },
];

function describeFilters(route: Route): string {
  const f = route.filters;
  const parts: string[] = [];
  const range = (r: { min?: number; max?: number } | undefined, label: string, fmt: (v: number) => string) => {
    if (!r) return;
    if (r.min !== undefined && r.max !== undefined) parts.push(`${label} ${fmt(r.min)} to ${fmt(r.max)}`);
    else if (r.min !== undefined) parts.push(`${label} ≥ ${fmt(r.min)}`);
    else if (r.max !== undefined) parts.push(`${label} ≤ ${fmt(r.max)}`);
  };
  if (f.sides?.length) parts.push(f.sides.join(', '));
  if (f.tags?.length) parts.push(`tags ${f.tags.join(', ')}`);
  range(f.pnl, 'P&L', pnl);
  range(f.ret, 'return', (v) => percent(v, { signed: true }));
  range(f.holdingMs, 'held', duration);
  if (f.hours?.length) parts.push(`closed ${f.hours.map(hourSpan).join(', ')} exchange time`);
  if (f.weekdays?.length) parts.push(`closed on ${f.weekdays.map(weekdayName).join(', ')}`);
  return `Trades: ${parts.join(' · ')}`;
}

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === 'INPUT' || el.tagName === 'SELECT' || el.tagName === 'TEXTAREA' || el.isContentEditable);
}

/** A view kept mounted while hidden; when shown again, its stamped views count as painted now. */
function Kept({ visible, children }: { visible: boolean; children: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  const wasVisible = useRef(visible);
  useLayoutEffect(() => {
    if (visible && !wasVisible.current && ref.current) {
      for (const el of ref.current.querySelectorAll<HTMLElement>('[data-drawn-at]')) {
        if (el.dataset.loading !== 'true') markDrawn(el, el.dataset.exact !== 'false');
      }
    }
    wasVisible.current = visible;
  }, [visible]);
  // Hidden with content-visibility rather than display: none: the browser keeps the hidden
  // view's layout (and its table's scroll position), so showing it again is cheap.
  return (
    <div ref={ref} className={visible ? 'kept' : 'kept kept-hidden'} aria-hidden={!visible || undefined} inert={!visible || undefined}>
      {children}
    </div>
  );
}

export function App() {
  const view = useSession();
  const route = useRoute();
  const theme = useTheme();
  const dataset = view.dataset;
  const zoneMode = useSyncExternalStore(subscribeZoneMode, currentZoneMode);
  if (dataset) setExchangeZone(dataset.timezone.zone);
  const shownZone = zoneMode === 'utc' || !dataset ? 'UTC' : dataset.timezone.zone;

  const perfOverlay = usePerfOverlay();
  // Esc goes up a level (or out of a text field first); Shift+P shows or hides the performance overlay.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'P' && e.shiftKey && !e.ctrlKey && !e.metaKey && !e.altKey && !isTyping(e.target)) {
        togglePerfOverlay();
        return;
      }
      if (e.key !== 'Escape' || e.defaultPrevented) return;
      if (isTyping(e.target)) {
        (e.target as HTMLElement).blur();
        return;
      }
      goUp();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const path = crumbs(route);
  const title = path.length > 1 ? `${path.slice(1).map((c) => c.label).join(' › ')} — Tickscope` : 'Tickscope';
  useEffect(() => {
    document.title = title;
  }, [title]);
  // The runs every view shows; with a sweep's many runs, views wait for the default pin.
  const pin = usePinnedRuns(route, dataset);

  const level = route.level === 'symbol' ? (route.via === 'trades' ? 'trades' : route.via === 'symbols' ? 'symbols' : 'sectors') : route.level;

  // The overview and the trade list stay mounted (hidden, frozen on their last route) once
  // visited: coming back to them is instant and the list keeps its scroll position.
  // Kept during the render (React's pattern for state that follows a prop): set from an effect,
  // it re-rendered the whole App after every route change of these views, in one task.
  const [kept, setKept] = useState<{ overview?: Route; trades?: Route }>({});
  if ((route.level === 'overview' || route.level === 'trades') && kept[route.level] !== route) setKept({ ...kept, [route.level]: route });
  const overviewRoute = route.level === 'overview' ? route : kept.overview;
  const tradesRoute = route.level === 'trades' ? route : kept.trades;

  let body = null;
  if (dataset) {
    switch (route.level) {
      case 'overview':
      case 'trades':
        break;
      case 'sectors':
      case 'symbols':
        body = dataset.bars.origin === 'portfolio' ? <NoSymbolBars /> : <Breakdown key={`${route.level}:${route.sector ?? ''}`} route={route} dataset={dataset} />;
        break;
      case 'symbol':
        body = dataset.bars.origin === 'portfolio' ? <NoSymbolBars /> : <SymbolView key={route.symbol} route={route} dataset={dataset} />;
        break;
      case 'runs':
        body = <Leaderboard route={route} dataset={dataset} pin={pin} />;
        break;
      case 'diff':
        body = <RunDiff key={`${route.diff?.a}:${route.diff?.b}`} route={route} dataset={dataset} pin={pin} />;
        break;
    }
  }

  return (
    <div className="app" data-testid="app" data-state={view.state} data-session-id={view.sessionId} data-level={route.level} data-epoch={view.epoch}>
      <header className="header">
        <h1>Tickscope</h1>
        <dl className="facts">
          <div>
            <dt>Dataset</dt>
            <dd>{dataset?.id ?? '—'}</dd>
          </div>
          <div>
            <dt>Session</dt>
            <dd className="mono" title={view.replaced ? `replaced ${view.replaced}× after the session process ended` : undefined}>
              {view.sessionId ?? '—'}
            </dd>
          </div>
          <div>
            <dt>State</dt>
            <dd>
              <span className={`badge badge-${view.state}`} data-testid="session-state">
                {stateLabel(view)}
              </span>
            </dd>
          </div>
        </dl>
        <div className="header-right">
          {dataset && <PinnedRuns route={route} dataset={dataset} pin={pin} />}
          {dataset && dataset.timezone.zone !== 'UTC' && (
            <button
              type="button"
              className="theme-toggle"
              data-testid="zone-toggle"
              data-zone={shownZone}
              onClick={() => setZoneMode(zoneMode === 'utc' ? 'exchange' : 'utc')}
              title={`Times are shown in ${shownZone} (the exchange zone ${dataset.timezone.zone}: ${dataset.timezone.source}). Click for ${zoneMode === 'utc' ? zoneLabel(dataset.timezone.zone) : 'UTC'}.`}
            >
              {zoneLabel(shownZone)} time
            </button>
          )}
          <button type="button" className="theme-toggle" onClick={toggleTheme} data-testid="theme-toggle" title="Switch light/dark theme">
            {theme === 'dark' ? '☀ Light' : '☾ Dark'}
          </button>
        </div>
      </header>

      {view.state === 'lost' && (
        <div className="banner banner-error" role="alert" data-testid="lost-banner">
          {view.failure?.kind === 'dataset-failed' ? (
            <>
              <strong>The dataset could not be prepared.</strong> <span className="banner-detail">{view.failure.message}</span>
            </>
          ) : (
            <>
              <strong>The connection to the session was lost.</strong> {view.error ?? ''}{' '}
              <button type="button" onClick={retry}>
                Try again
              </button>
            </>
          )}
        </div>
      )}
      {view.state === 'connecting' && view.preparation && (
        <div className="banner banner-warn" role="status" data-testid="preparation">
          Preparing dataset <strong>{view.preparation.dataset}</strong>: {view.preparation.phase ?? 'queued'}{' '}
          <progress max={1} value={view.preparation.progress} /> {Math.round(view.preparation.progress * 100)}%
          {view.preparation.totalRows ? ` · ${count(view.preparation.rows ?? 0)} / ${count(view.preparation.totalRows)} rows` : ''}
          {view.preparation.etaSeconds !== null ? ` · about ${etaText(view.preparation.etaSeconds)} left` : ''}
        </div>
      )}
      {(view.state === 'connecting' || view.state === 'reconnecting') && view.queue && (
        <div className="banner banner-warn" role="status" data-testid="queue" data-position={view.queue.position}>
          Every session is in use: this tab is <strong>number {view.queue.position}</strong> of {view.queue.waiting} waiting for one
          {view.queue.etaSeconds !== null ? `, about ${etaText(view.queue.etaSeconds)} left` : ''}. It opens by itself.
        </div>
      )}
      {view.state === 'reconnecting' && (
        <div className="banner banner-warn" role="status" data-testid="reconnecting-banner">
          {view.error ?? 'Reconnecting to the session…'} The view comes back by itself.
        </div>
      )}
      {perfOverlay && <PerfOverlay />}
      {view.dataQuality && <DataQualityNotice entries={view.dataQuality} notRead={view.notRead ?? []} />}
      {view.state === 'ready' && <NewRunsNotice sessionId={view.sessionId} />}
      {dataset && <BarsOriginNotice bars={dataset.bars} />}
      {view.state === 'ready' && view.error && (
        <div className="banner banner-warn" role="status">
          {view.error}
        </div>
      )}

      <nav className="navbar" aria-label="Drill path">
        <ol className="crumbs" data-testid="breadcrumbs">
          {path.map((c, i) => (
            <li key={i}>
              {i < path.length - 1 ? (
                <a
                  href={`?${new URLSearchParams(location.search).toString()}`}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(c.route);
                  }}
                >
                  {c.label}
                </a>
              ) : (
                <span aria-current="page">{c.label}</span>
              )}
            </li>
          ))}
        </ol>
        <div className="nav-right">
          {route.from !== undefined && route.to !== undefined && (
            <span className="range-chip" data-testid="range">
              {rangeText(route.from, route.to)}
              <button
                type="button"
                className="link"
                data-testid="explain-chip"
                onClick={() => navigate({ ...route, level: 'overview', sector: undefined, symbol: undefined, trade: undefined, via: undefined, explain: {} })}
                title="What made this range's P&L: by sector, then symbol, held positions against trading"
              >
                Explain this range
              </button>
              <button type="button" className="link" onClick={() => navigate({ ...route, from: undefined, to: undefined, trade: undefined })} title="Show the whole history">
                Show all
              </button>
            </span>
          )}
          {hasTradeFilters(route) && (
            <span className="range-chip" data-testid="filters-chip" title="Trade filters apply to trade measures in every view (counts, win rates, the trade list, histograms, markers)">
              {describeFilters(route)}
              <button type="button" className="link" onClick={() => navigate({ ...route, filters: {} })}>
                Clear
              </button>
            </span>
          )}
          <div className="tabs" role="tablist">
            {TABS.map((t) => (
              <button
                key={t.level}
                type="button"
                role="tab"
                aria-selected={level === t.level}
                className={`tab${level === t.level ? ' on' : ''}`}
                data-tab={t.level}
                onClick={() => navigate({ ...route, level: t.level, sector: undefined, symbol: undefined, trade: undefined, via: undefined })}
                onMouseEnter={() => prefetch(tabSpecs(t.level as 'overview' | 'sectors' | 'symbols' | 'trades', route, requestWidths(window.innerWidth)), 'hover')}
              >
                {t.label}
              </button>
            ))}
            {dataset && dataset.runs.length > 1 && (
              <button
                type="button"
                role="tab"
                aria-selected={level === 'runs' || level === 'diff'}
                className={`tab${level === 'runs' || level === 'diff' ? ' on' : ''}`}
                data-tab="runs"
                title="Every run with its parameters and metrics; pin the runs the views show"
                onClick={() => navigate({ ...route, level: 'runs', sector: undefined, symbol: undefined, trade: undefined, via: undefined })}
                onMouseEnter={() => {
                  void leaderboardView.preload();
                  prefetch(runsViewSpecs(route, dataset), 'hover');
                }}
              >
                Runs ({dataset.runs.length})
              </button>
            )}
          </div>
        </div>
      </nav>

      <main className="main">
        {dataset && !pin.ready ? (
          <div className="empty-state" data-testid="choosing-runs">
            Choosing which of the {dataset.runs.length} runs to show: the best by Sharpe and the median…
          </div>
        ) : dataset ? (
          // Keyed by the display zone: a toggle draws every label and axis again in the new zone.
          <Suspense key={shownZone} fallback={<div className="empty-state">Loading the view…</div>}>
            {overviewRoute && (
              <Kept visible={route.level === 'overview'}>
                <Overview route={overviewRoute} dataset={dataset} />
              </Kept>
            )}
            {tradesRoute && (
              <Kept visible={route.level === 'trades'}>
                <TradesView route={tradesRoute} dataset={dataset} />
              </Kept>
            )}
            {body}
            <p className="summary">
              {count(dataset.runs.length)} run{dataset.runs.length === 1 ? '' : 's'} · {count(dataset.symbolCount)} symbols · {count(dataset.barCount)} bars ·{' '}
              {count(dataset.tradeCount)} trades
              {dataset.range && (
                <>
                  {' '}
                  · {dateTimeText(dataset.range.from)} – {dateTimeText(dataset.range.to)}
                </>
              )}
            </p>
          </Suspense>
        ) : (
          <div className="empty-state" data-testid="no-dataset">
            {view.state === 'lost'
              ? view.failure?.kind === 'dataset-failed'
                ? 'Nothing to show: the dataset failed to prepare (see above).'
                : 'No data: the session is gone.'
              : view.preparation
                ? 'The dataset is being prepared; the views open when it is ready.'
                : 'Connecting to a session…'}
          </div>
        )}
      </main>
    </div>
  );
}
