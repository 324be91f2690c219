// Views ask the worker for data through useQuery: the exact answer (cached, joined or fetched),
// and for zooms a preview cut from coarser cached data first. The previous answer stays on
// screen (marked stale) until the new one arrives, so nothing flashes empty.
import { startTransition, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { errorMessage } from '../../shared/errors.js';
import { errorKind, type ErrorKind } from './errors.js';
import { noteAnswer } from './perf.js';
import { ask, getView, preview, release, subscribe } from './session.js';
import { specKey } from './spec-key.js';
import type { Answer, AskQuery, SessionView, Spec } from './worker/types.js';

export function useSession(): SessionView {
  return useSyncExternalStore(subscribe, getView);
}

export interface QueryState<Q extends AskQuery> {
  answer: Answer<Q> | null;
  /** The answer on screen is for other params than the current ones (a newer one is loading). */
  stale: boolean;
  loading: boolean;
  error: string | null;
  errorKind: ErrorKind | null;
}

let viewCounter = 0;

/**
 * The answer to `spec` (null: ask nothing). `previewable`: show a preview from the cache while
 * the exact answer loads (time series zooms). A newer spec supersedes the older one in flight.
 */
export function useQuery<Q extends AskQuery>(spec: Spec<Q> | null, options: { previewable?: boolean; low?: boolean; name?: string } = {}): QueryState<Q> {
  const key = specKey(spec as Spec | null);
  const viewName = useMemo(() => `${options.name ?? spec?.query ?? 'q'}#${++viewCounter}`, []); // eslint-disable-line react-hooks/exhaustive-deps
  const session = useSession();
  const alive = session.state !== 'lost';
  const [state, setState] = useState<{ key: string; answer: Answer<Q> | null; loading: boolean; error: string | null; errorKind: ErrorKind | null }>({
    key: '',
    answer: null,
    loading: false,
    error: null,
    errorKind: null,
  });
  const specRef = useRef(spec);
  specRef.current = spec;

  useEffect(() => {
    const s = specRef.current;
    if (!s || !alive) return;
    let current = true;
    let settled = false;
    // A new key already reads as loading (see the return below): only an error to clear or the
    // same key asked again needs a state change. Setting one anyway re-rendered every view of a
    // zoom in one task, after the route's transition (an update from an effect is not time-sliced).
    setState((prev) => (prev.key !== key && prev.error === null ? prev : { ...prev, loading: true, error: null, errorKind: null }));
    if (options.previewable) {
      preview(s).then(
        (p) => {
          if (current && !settled && p) startTransition(() => setState((prev) => ({ ...prev, key, answer: p, loading: true })));
        },
        // A preview is a head start only: the ask below reports whatever went wrong.
        () => undefined,
      );
    }
    ask(s, { view: viewName, ...(options.low ? { priority: 'low' as const } : {}) }).then(
      (answer) => {
        settled = true;
        noteAnswer(answer, { low: options.low === true });
        // A transition: the views that draw the answers render in slices that yield to input,
        // rather than in one task for every answer that came in together (a zoom redraws six).
        if (current) startTransition(() => setState({ key, answer, loading: false, error: null, errorKind: null }));
      },
      (error: unknown) => {
        settled = true;
        if (!current) return;
        const kind = errorKind(error);
        if (kind === 'aborted') return;
        setState((prev) => ({ ...prev, loading: false, error: errorMessage(error), errorKind: kind }));
      },
    );
    return () => {
      current = false;
    };
  }, [key, alive, viewName, options.previewable, options.low]);

  useEffect(() => () => release(viewName), [viewName]);

  const asking = spec !== null;
  // The same object while nothing in it changes: views take it as a prop and are memo()'d, so a
  // parent that re-renders for another view's answer does not render them again.
  return useMemo(
    () => ({
      answer: state.answer,
      stale: state.answer !== null && (state.key !== key || state.answer.provisional),
      loading: state.loading || (asking && state.key !== key && state.error === null),
      error: state.error,
      errorKind: state.errorKind,
    }),
    [state, key, asking],
  );
}
