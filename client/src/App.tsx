import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type RefObject,
} from 'react';
import { EquityChart, type ChartSeries } from './EquityChart.js';
import { bytes, count, ms, utcDateTime } from './format.js';
import { getView, retry, session, subscribe } from './session.js';
import type { EquityResult, SessionView } from './worker/types.js';

declare global {
  interface Window {
    __tickscope?: { firstChartMs?: number };
  }
}

const RESIZE_DEBOUNCE_MS = 200;
const MAX_REQUEST_WIDTH = 4096;
const EQUITY_HEIGHT = 340;
const DRAWDOWN_HEIGHT = 170;
/** Horizontal padding + border of a .card (see styles.css): chart width = charts width - this. */
const CARD_INSET = 2 * 16 + 2;

/** Width of an element's content box: immediately on mount, then debounced on resize. */
function useDebouncedWidth(ref: RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setWidth(Math.floor(el.clientWidth));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const observer = new ResizeObserver((entries) => {
      const w = Math.floor(entries[0]?.contentRect.width ?? el.clientWidth);
      clearTimeout(timer);
      timer = setTimeout(() => setWidth(w), RESIZE_DEBOUNCE_MS);
    });
    observer.observe(el);
    return () => {
      clearTimeout(timer);
      observer.disconnect();
    };
  }, [ref]);
  return width;
}

function stateLabel(view: SessionView): string {
  switch (view.state) {
    case 'connecting':
      return 'connecting…';
    case 'ready':
      return 'connected';
    case 'reconnecting':
      return 'reconnecting…';
    case 'lost':
      return 'connection lost';
  }
}

interface Zoom {
  from: number;
  to: number;
}

export function App() {
  const view = useSyncExternalStore(subscribe, getView);
  const chartsRef = useRef<HTMLDivElement>(null);
  const width = useDebouncedWidth(chartsRef);
  const [result, setResult] = useState<EquityResult | null>(null);
  const [requestError, setRequestError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [zoom, setZoom] = useState<Zoom | null>(null);

  const dpr = typeof devicePixelRatio === 'number' && devicePixelRatio > 0 ? devicePixelRatio : 1;
  const requestWidth =
    width > CARD_INSET ? Math.max(1, Math.min(MAX_REQUEST_WIDTH, Math.round((width - CARD_INSET) * dpr))) : 0;

  // Ask for the curve whenever the session becomes ready (first time or after a reconnect), the
  // chart width changes or the user zooms. The worker cancels whatever request this supersedes.
  useEffect(() => {
    if (view.state !== 'ready' || requestWidth === 0) return;
    let current = true;
    setLoading(true);
    session
      .equity({ width: requestWidth, ...(zoom ? { from: zoom.from, to: zoom.to } : {}) })
      .then(
        (r) => {
          if (!current) return;
          setResult(r);
          setRequestError(null);
          setLoading(false);
        },
        (error: unknown) => {
          if (!current) return;
          const e = error as { name?: string; message?: string };
          if (e?.name === 'AbortError') return;
          setLoading(false);
          // A closed connection is reported by the session state; don't say it twice.
          if (e?.name !== 'ConnectionError') setRequestError(e?.message ?? String(error));
        },
      );
    return () => {
      current = false;
    };
  }, [view.state, view.sessionId, requestWidth, zoom]);

  const runNames = useMemo(() => {
    const names = new Map<string, string>();
    for (const run of view.dataset?.runs ?? []) names.set(run.runId, run.name || run.runId);
    return names;
  }, [view.dataset]);

  const [equityData, drawdownData] = useMemo((): [ChartSeries | null, ChartSeries | null] => {
    if (!result) return [null, null];
    const labels = result.runs.map((r) => runNames.get(r.runId) ?? r.runId);
    const points = result.runs.reduce((n, r) => n + r.ts.length, 0);
    const { x, equity, drawdown, gapFree } = result.aligned;
    return [
      { x, ys: equity, gapFree, labels, points },
      { x, ys: drawdown, gapFree, labels, points },
    ];
  }, [result, runNames]);

  const onDrawn = useCallback(() => {
    if (window.__tickscope?.firstChartMs === undefined) {
      window.__tickscope = { ...window.__tickscope, firstChartMs: performance.now() };
    }
  }, []);

  const onSelectRange = useCallback((fromSec: number, toSec: number) => {
    setZoom({ from: Math.floor(fromSec * 1000), to: Math.ceil(toSec * 1000) });
  }, []);
  const resetZoom = useCallback(() => setZoom(null), []);

  const dataset = view.dataset;
  const chartWidth = Math.max(0, width - CARD_INSET);
  const placeholder =
    view.state === 'lost' ? 'No data: the session is gone.' : view.state === 'ready' ? 'Loading…' : 'Connecting…';

  return (
    <div className="app" data-testid="app" data-state={view.state} data-session-id={view.sessionId}>
      <header className="header">
        <h1>Tickscope</h1>
        <dl className="facts">
          <div>
            <dt>Dataset</dt>
            <dd>{dataset?.id ?? '—'}</dd>
          </div>
          <div>
            <dt>Session</dt>
            <dd className="mono">{view.sessionId ?? '—'}</dd>
          </div>
          <div>
            <dt>State</dt>
            <dd>
              <span className={`badge badge-${view.state}`}>{stateLabel(view)}</span>
            </dd>
          </div>
        </dl>
      </header>

      {view.state === 'lost' && (
        <div className="banner banner-error" role="alert">
          <strong>The connection to the session was lost.</strong> {view.error ?? ''}{' '}
          <button type="button" onClick={retry}>
            Try again
          </button>
        </div>
      )}
      {view.state === 'reconnecting' && (
        <div className="banner banner-warn" role="status">
          {view.error ?? 'Reconnecting to the session…'}
        </div>
      )}
      {view.state === 'ready' && view.error && (
        <div className="banner banner-warn" role="status">
          {view.error}
        </div>
      )}
      {requestError && (
        <div className="banner banner-error" role="alert">
          Could not load the equity curve: {requestError}
        </div>
      )}

      <main className="charts" ref={chartsRef}>
        {dataset && (
          <p className="summary">
            {count(dataset.runs.length)} run{dataset.runs.length === 1 ? '' : 's'} · {count(dataset.symbolCount)} symbols
            · {count(dataset.barCount)} bars · {count(dataset.tradeCount)} trades
            {dataset.range && (
              <>
                {' '}
                · {utcDateTime(dataset.range.from)} – {utcDateTime(dataset.range.to)}
              </>
            )}
          </p>
        )}
        <section className="card">
          <div className="card-title">
            <h2>Portfolio equity</h2>
            <span className="hint">
              {zoom ? (
                <>
                  {utcDateTime(zoom.from)} – {utcDateTime(zoom.to)}{' '}
                  <button type="button" className="link" onClick={resetZoom}>
                    Show all
                  </button>
                </>
              ) : (
                'Drag across a chart to zoom in'
              )}
            </span>
          </div>
          <EquityChart
            testId="equity-chart"
            kind="equity"
            data={equityData}
            width={chartWidth}
            height={EQUITY_HEIGHT}
            syncKey="tickscope-equity"
            placeholder={placeholder}
            onDrawn={onDrawn}
            onSelectRange={onSelectRange}
            onResetRange={resetZoom}
          />
        </section>
        <section className="card">
          <div className="card-title">
            <h2>Drawdown</h2>
          </div>
          <EquityChart
            testId="drawdown-chart"
            kind="drawdown"
            data={drawdownData}
            width={chartWidth}
            height={DRAWDOWN_HEIGHT}
            syncKey="tickscope-equity"
            placeholder={placeholder}
            onDrawn={onDrawn}
            onSelectRange={onSelectRange}
            onResetRange={resetZoom}
          />
        </section>
        <footer className="status">
          {result ? (
            <>
              {count(result.rows)} points · {bytes(result.bytes)}
              {result.approximate ? ' · downsampled' : ''} · server{' '}
              {ms(result.timings.planMs + result.timings.executeMs + result.timings.encodeMs)} · request → decoded{' '}
              {ms(result.elapsedMs)}
              {loading ? ' · updating…' : ''}
            </>
          ) : loading ? (
            'Loading…'
          ) : (
            ' '
          )}
        </footer>
      </main>
    </div>
  );
}
