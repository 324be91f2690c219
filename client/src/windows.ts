// Windowed lists (the trade list, breakdown tables): rows are asked for in pages as they come
// on screen; pages that scroll away before they arrive are cancelled; the next page in the
// direction of scrolling is prefetched. A new list (other sort or filters) keeps the old rows
// on screen until the new rows for the visible range are there.
import { useCallback, useEffect, useRef, useState } from 'react';
import { errorMessage } from '../../shared/errors.js';
import { errorKind } from './errors.js';
import { useSession } from './query.js';
import { noteAnswer } from './perf.js';
import { ask, prefetch, release } from './session.js';
import { specKey } from './spec-key.js';
import type { RowRef } from './components/VirtualTable.js';
import type { ColumnTable, Spec } from './worker/types.js';

type WindowQuery = 'trades' | 'breakdown' | 'leaderboard';
/** A windowed spec without its window: offset and limit are set per page. */
export type ListSpec = Spec<WindowQuery>;

interface ListState {
  key: string;
  pages: Map<number, ColumnTable>;
  total: number | null;
  version: number;
}

const rowRefs = new WeakMap<ColumnTable, RowRef[]>();

function rowRef(table: ColumnTable, i: number, index: number): RowRef {
  let refs = rowRefs.get(table);
  if (!refs) rowRefs.set(table, (refs = []));
  return (refs[i] ??= { table, i, index });
}

export function pageSpec(base: ListSpec, page: number, pageSize: number): ListSpec {
  return { query: base.query, params: { ...base.params, offset: page * pageSize, limit: pageSize } } as ListSpec;
}

/** A list fetched in windows; its fields are VirtualTable's props of the same names (spread it). */
export interface WindowedList {
  total: number | null;
  getRow: (index: number) => RowRef | undefined;
  version: unknown;
  onRange: (start: number, end: number, direction: 'forward' | 'backward' | null) => void;
  /** The rows shown belong to the current spec. */
  exact: boolean;
  error: string | null;
  /** Changes when the list is a new one (the table scrolls back to the top). */
  resetKey: string;
}

export function useWindowedList(base: ListSpec | null, pageSize: number, name: string): WindowedList {
  const key = specKey(base);
  const session = useSession();
  const alive = session.state !== 'lost';
  const [shown, setShown] = useState<ListState>({ key: '', pages: new Map(), total: null, version: 0 });
  const [error, setError] = useState<string | null>(null);
  const filling = useRef<ListState>({ key: '', pages: new Map(), total: null, version: 0 });
  const inflight = useRef(new Map<number, string>()); // page -> view slot
  const range = useRef<{ first: number; last: number; direction: 'forward' | 'backward' | null }>({ first: 0, last: pageSize, direction: null });
  const baseRef = useRef(base);
  baseRef.current = base;
  const shownRef = useRef(shown);
  shownRef.current = shown;

  const request = useCallback(() => {
    const spec = baseRef.current;
    const st = filling.current;
    if (!spec || !st.key) return;
    const { first, last, direction } = st.key === shownRef.current.key ? range.current : { first: 0, last: pageSize, direction: null };
    const maxPage = st.total === null ? Number.POSITIVE_INFINITY : Math.max(0, Math.ceil(st.total / pageSize) - 1);
    const lo = Math.min(Math.floor(first / pageSize), maxPage);
    const hi = Math.min(Math.floor(Math.max(first, last - 1) / pageSize), maxPage);
    const needed = new Set<number>();
    for (let p = lo; p <= hi; p++) needed.add(p);
    // Pages that scrolled away before they arrived are not wanted any more.
    for (const [p, slot] of inflight.current) {
      if (!needed.has(p)) {
        inflight.current.delete(p);
        release(slot);
      }
    }
    const complete = () => [...needed].every((p) => st.pages.has(p));
    for (const p of needed) {
      if (st.pages.has(p) || inflight.current.has(p)) continue;
      const slot = `${name}:page:${p}`;
      inflight.current.set(p, slot);
      ask(pageSpec(spec, p, pageSize), { view: slot }).then(
        (answer) => {
          noteAnswer(answer);
          if (inflight.current.get(p) === slot && filling.current === st) inflight.current.delete(p);
          if (filling.current !== st) return;
          st.total = answer.total ?? st.total ?? answer.data.length;
          st.pages.set(p, answer.data);
          setError(null);
          // The same list: show rows as they come. A new list: swap when the screen is full.
          if (shownRef.current.key === st.key || complete()) setShown({ ...st, version: st.version + 1 });
          st.version++;
          if (st.total !== null && p === 0 && needed.size === 1) request(); // the total is known now: fill the rest
        },
        (e: unknown) => {
          if (inflight.current.get(p) === slot) inflight.current.delete(p);
          if (errorKind(e) === 'aborted' || filling.current !== st) return;
          setError(errorMessage(e));
          if (shownRef.current.key !== st.key) setShown({ ...st, total: st.total ?? 0, version: st.version + 1 });
        },
      );
    }
    // The likely next step: the page after (or before) the screen, into the worker's cache.
    if (st.total !== null) {
      const next: number[] = [];
      if (direction !== 'backward' && hi + 1 <= maxPage) next.push(hi + 1);
      if (direction !== 'forward' && lo - 1 >= 0) next.push(lo - 1);
      // A long list's other end is a likely jump (End, or the worst after the best).
      if (maxPage > 3 && hi < maxPage - 2) next.push(maxPage, maxPage - 1);
      prefetch(
        next.filter((p) => !st.pages.has(p)).map((p) => pageSpec(spec, p, pageSize)),
        `${name}:neighbours`,
      );
    }
  }, [name, pageSize]);

  useEffect(() => {
    if (!base || !alive) return;
    if (filling.current.key !== key) {
      for (const slot of inflight.current.values()) release(slot);
      inflight.current.clear();
      filling.current = { key, pages: new Map(), total: null, version: 0 };
      setError(null);
    }
    request();
  }, [key, alive, request, base]);

  useEffect(
    () => () => {
      for (const slot of inflight.current.values()) release(slot);
    },
    [],
  );

  const onRange = useCallback(
    (first: number, last: number, direction: 'forward' | 'backward' | null) => {
      range.current = { first, last, direction };
      request();
    },
    [request],
  );

  const getRow = useCallback(
    (index: number): RowRef | undefined => {
      const p = Math.floor(index / pageSize);
      const table = shown.pages.get(p);
      const i = index - p * pageSize;
      return table && i < table.length ? rowRef(table, i, index) : undefined;
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [shown, shown.version, pageSize],
  );

  return {
    total: shown.key ? shown.total : null,
    getRow,
    version: shown,
    onRange,
    exact: shown.key === key,
    error,
    resetKey: shown.key,
  };
}
