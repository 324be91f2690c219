// A virtualized table over windows of rows held by the worker (@tanstack/react-virtual computes
// what is on screen). Fixed row height. Two additions make it scroll through millions of rows:
//
// - Blocks: past MAX_ITEMS rows the virtualizer's items are blocks of B rows (its measurement
//   pass is linear in the item count, ~50 ms for 2M items here, ~6 ms for 200k).
// - Scaled scrolling: browsers cap an element's height (~33M px in Chromium), so past
//   MAX_SCROLL_PX the scrollbar covers the list at a ratio; the virtualizer works in list pixels
//   (the offset it observes is scrollTop * ratio) and the wheel moves the list pixel for pixel.
//
// Arrow keys, Page Up/Down, Home/End move the active row; Enter opens it.
import { useVirtualizer, type Virtualizer } from '@tanstack/react-virtual';
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type PointerEvent, type ReactNode } from 'react';
import { markDrawn } from '../perf.js';
import type { ColumnTable } from '../worker/types.js';

export interface RowRef {
  table: ColumnTable;
  /** Row within `table`. */
  i: number;
  /** Row within the whole list. */
  index: number;
}

export interface TableColumn {
  key: string;
  label: string;
  width: number;
  align?: 'left' | 'right';
  /** The sort column this header sorts by; not sortable when absent. */
  sort?: string;
  title?: string;
  cell: (row: RowRef) => ReactNode;
}

export interface VirtualTableProps {
  testId: string;
  columns: TableColumn[];
  /** Rows in the list; null while unknown. */
  total: number | null;
  getRow: (index: number) => RowRef | undefined;
  /** Changes whenever rows arrive (getRow then answers differently). */
  version: unknown;
  height: number | string;
  rowHeight?: number;
  sort?: { column: string; descending: boolean };
  onSort?: (column: string) => void;
  /** The pointer is on a sortable header: what a click would ask for can be prefetched. */
  onSortHover?: (column: string) => void;
  /** The visible rows changed: [start, end), and which way the user is moving. */
  onRange?: (start: number, end: number, direction: 'forward' | 'backward' | null) => void;
  onActivate?: (row: RowRef) => void;
  onHover?: (row: RowRef) => void;
  isSelected?: (row: RowRef) => boolean;
  empty?: ReactNode;
  error?: ReactNode;
  /** The rows shown are exact (not stale). */
  exact?: boolean;
  /** Changes when the list is a different one: scroll back to the top. */
  resetKey?: string;
  /** Take the keyboard focus when mounted (arrow keys and Enter drill on at once). */
  autoFocus?: boolean;
  label: string;
}

const MAX_ITEMS = 200_000;
const MAX_SCROLL_PX = 8_000_000;

interface Geometry {
  rowHeight: number;
  virtualHeight: number;
  physicalHeight: number;
}

function ratioOf(g: Geometry, viewport: number): number {
  if (g.virtualHeight <= g.physicalHeight || g.physicalHeight <= viewport) return 1;
  return (g.virtualHeight - viewport) / (g.physicalHeight - viewport);
}

/**
 * A value cut by its column's width shows whole on hover: the cell under the pointer gets its
 * text as a tooltip when (and only when) it overflows. Measured on hover, one cell at a time,
 * rather than for every cell drawn.
 */
function showCutValue(event: PointerEvent<HTMLElement>): void {
  const cell = (event.target as HTMLElement).closest<HTMLElement>('.vt-cell');
  if (!cell) return;
  const cut = cell.scrollWidth > cell.clientWidth + 1;
  if (cut) cell.title = cell.textContent ?? '';
  else cell.removeAttribute('title');
}

const Cells = memo(function Cells({ row, columns }: { row: RowRef; columns: TableColumn[] }) {
  return (
    <>
      {columns.map((c) => (
        <div key={c.key} className={`vt-cell${c.align === 'right' ? ' num' : ''}`} style={{ width: c.width }} data-col={c.key}>
          {c.cell(row)}
        </div>
      ))}
    </>
  );
});

const Skeleton = memo(function Skeleton({ columns }: { columns: TableColumn[] }) {
  return (
    <>
      {columns.map((c) => (
        <div key={c.key} className="vt-cell" style={{ width: c.width }}>
          <span className="skeleton-bar" />
        </div>
      ))}
    </>
  );
});

export function VirtualTable(props: VirtualTableProps) {
  const { columns, rowHeight = 26 } = props;
  const total = props.total ?? 0;
  const block = total > MAX_ITEMS ? Math.ceil(total / MAX_ITEMS) : 1;
  const items = Math.ceil(total / block);
  const virtualHeight = total * rowHeight;
  const geometry = useRef<Geometry>({ rowHeight, virtualHeight, physicalHeight: virtualHeight });
  geometry.current = { rowHeight, virtualHeight, physicalHeight: Math.min(virtualHeight, MAX_SCROLL_PX) };
  const scrollRef = useRef<HTMLDivElement>(null);
  const headRef = useRef<HTMLDivElement>(null);
  const rootRef = useRef<HTMLDivElement>(null);
  /** The list offset that belongs to a scrollTop we set ourselves (kept exact despite rounding). */
  const precise = useRef<{ v: number; s: number } | null>(null);
  const physical = useRef(0);
  const [active, setActive] = useState(-1);
  const propsRef = useRef(props);
  propsRef.current = props;

  /** The scroller's height, kept by a ResizeObserver: reading clientHeight in render or in a
   * scroll handler would force a synchronous layout. */
  const viewH = useRef(0);
  const viewW = useRef(0);
  const virtualizerRef = useRef<Virtualizer<Element, Element> | null>(null);
  /** Where the list was when it was hidden (display: none loses a scroll position). */
  const hiddenAt = useRef<number | null>(null);
  const viewport = () => viewH.current;
  const ratio = () => ratioOf(geometry.current, viewport());

  /** The list offset (list pixels) of the scroller's current scrollTop. */
  const listOffset = (el: HTMLElement): number => {
    const s = el.scrollTop;
    const p = precise.current;
    if (p && Math.abs(p.s - s) < 1.5) return p.v;
    precise.current = null;
    return s * ratioOf(geometry.current, viewH.current);
  };
  /** Scrolls to a list offset. */
  const writeOffset = (el: HTMLElement, v: number, behavior: ScrollBehavior = 'auto') => {
    const s = v / ratioOf(geometry.current, viewH.current);
    precise.current = { v, s };
    if (behavior === 'smooth') el.scrollTo({ top: s, behavior });
    else el.scrollTop = s;
  };

  // The virtualizer sees the list through this facade: offsets, heights and its maximum are in
  // list pixels, so its clamping and read-backs stay right when the scrollbar is scaled.
  const facade = useMemo(() => {
    const real = () => scrollRef.current;
    return {
      get scrollTop() {
        const el = real();
        return el ? listOffset(el) : 0;
      },
      get scrollLeft() {
        return real()?.scrollLeft ?? 0;
      },
      get scrollHeight() {
        return Math.max(geometry.current.virtualHeight, viewH.current);
      },
      get clientHeight() {
        return viewH.current;
      },
      get scrollWidth() {
        return real()?.scrollWidth ?? 0;
      },
      get clientWidth() {
        return viewW.current;
      },
      get ownerDocument() {
        return document;
      },
      get style() {
        return real()?.style;
      },
      addEventListener: (...a: Parameters<HTMLElement['addEventListener']>) => real()?.addEventListener(...a),
      removeEventListener: (...a: Parameters<HTMLElement['removeEventListener']>) => real()?.removeEventListener(...a),
      scrollTo: (o: { top?: number; behavior?: ScrollBehavior }) => {
        const el = real();
        if (el && o.top !== undefined) writeOffset(el, o.top, o.behavior);
      },
    } as unknown as Element;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const observeRect = useCallback((_instance: Virtualizer<Element, Element>, cb: (rect: { width: number; height: number }) => void) => {
    const el = scrollRef.current;
    if (!el) return undefined;
    viewH.current = el.clientHeight;
    viewW.current = el.clientWidth;
    cb({ width: viewW.current, height: viewH.current });
    const observer = new ResizeObserver((entries) => {
      const rect = entries[0]?.contentRect;
      if (!rect) return;
      const v = virtualizerRef.current;
      if (rect.height === 0 && viewH.current > 0) hiddenAt.current = v?.scrollOffset ?? null;
      viewH.current = rect.height;
      viewW.current = rect.width;
      cb({ width: rect.width, height: rect.height });
      if (rect.height > 0 && hiddenAt.current !== null && v) {
        const offset = hiddenAt.current;
        hiddenAt.current = null;
        v.scrollToOffset(offset);
      }
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const observeOffset = useCallback((_instance: Virtualizer<Element, Element>, cb: (offset: number, scrolling: boolean) => void) => {
    const el = scrollRef.current;
    if (!el) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = () => {
      physical.current = el.scrollTop;
      return listOffset(el);
    };
    const onScroll = () => {
      cb(read(), true);
      clearTimeout(timer);
      timer = setTimeout(() => cb(read(), false), 150);
    };
    cb(read(), false);
    el.addEventListener('scroll', onScroll, { passive: true });
    return () => {
      clearTimeout(timer);
      el.removeEventListener('scroll', onScroll);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const scrollTo = useCallback((offset: number, options: { adjustments?: number; behavior?: ScrollBehavior }) => {
    const el = scrollRef.current;
    if (el) writeOffset(el, offset + (options.adjustments ?? 0), options.behavior === 'smooth' ? 'smooth' : 'auto');
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const virtualizer = useVirtualizer<Element, Element>({
    count: items,
    getScrollElement: () => (scrollRef.current ? facade : null),
    estimateSize: () => block * rowHeight,
    overscan: block === 1 ? 4 : 1,
    // Render in React's own time rather than synchronously inside the scroll event.
    useFlushSync: false,
    observeElementRect: observeRect,
    observeElementOffset: observeOffset,
    scrollToFn: scrollTo,
  });
  virtualizerRef.current = virtualizer;

  // Past the height cap the wheel would move the list `ratio` times too fast: move it ourselves.
  useEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const onWheel = (e: WheelEvent) => {
      if (ratio() <= 1 || e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) return;
      e.preventDefault();
      const dy = e.deltaMode === 1 ? e.deltaY * rowHeight : e.deltaMode === 2 ? e.deltaY * viewH.current : e.deltaY;
      writeOffset(el, Math.max(0, Math.min(geometry.current.virtualHeight - viewH.current, listOffset(el) + dy)));
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rowHeight]);

  const offset = virtualizer.scrollOffset ?? 0;
  const view = virtualizer.scrollRect?.height ?? 0;
  const first = Math.max(0, Math.floor(offset / rowHeight));
  const last = Math.min(total, Math.ceil((offset + view) / rowHeight));

  useEffect(() => {
    if (props.total === null) return;
    propsRef.current.onRange?.(first, Math.max(first, last), virtualizer.scrollDirection);
  }, [first, last, props.total, virtualizer.scrollDirection]);

  useEffect(() => {
    if (props.autoFocus && !document.activeElement?.closest('input, select, textarea')) scrollRef.current?.focus({ preventScroll: true });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // A new list (new filters or sort) starts at its top.
  const lastReset = useRef(props.resetKey);
  useEffect(() => {
    if (lastReset.current === props.resetKey) return;
    lastReset.current = props.resetKey;
    precise.current = null;
    virtualizer.scrollToOffset(0);
    setActive(-1);
  }, [props.resetKey, virtualizer]);
  useEffect(() => {
    setActive((a) => (a >= total ? -1 : a));
  }, [total]);

  const ensureVisible = (index: number) => {
    const top = index * rowHeight;
    const h = viewport();
    if (top < offset) virtualizer.scrollToOffset(top);
    else if (top + rowHeight > offset + h) virtualizer.scrollToOffset(top + rowHeight - h);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (total === 0) return;
    const page = Math.max(1, Math.floor(viewport() / rowHeight) - 1);
    // An active row scrolled out of sight: the keys start from what is on screen.
    const onScreen = active >= first && active < last;
    let next = active;
    switch (e.key) {
      case 'ArrowDown':
        next = onScreen ? Math.min(total - 1, active + 1) : first;
        break;
      case 'ArrowUp':
        next = onScreen ? Math.max(0, active - 1) : Math.max(first, last - 1);
        break;
      case 'PageDown':
        next = Math.min(total - 1, (onScreen ? active : first) + page);
        break;
      case 'PageUp':
        next = Math.max(0, (onScreen ? active : first) - page);
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = total - 1;
        break;
      case 'Enter': {
        const row = active >= 0 ? props.getRow(active) : undefined;
        if (row) {
          e.preventDefault();
          props.onActivate?.(row);
        }
        return;
      }
      default:
        return;
    }
    e.preventDefault();
    setActive(next);
    ensureVisible(next);
    const row = props.getRow(next);
    if (row) props.onHover?.(row);
  };

  // Report drawing: when the rows on screen are all loaded.
  let loaded = true;
  for (let i = first; i < last; i++) {
    if (!props.getRow(i)) {
      loaded = false;
      break;
    }
  }
  const drawn = useRef('');
  useLayoutEffect(() => {
    const signature = `${String(props.total)}|${first}|${last}|${props.exact !== false}`;
    if (props.total === null || !loaded || drawn.current === `${signature}|${versionKey(props.version)}`) return;
    drawn.current = `${signature}|${versionKey(props.version)}`;
    markDrawn(rootRef.current, props.exact !== false);
  });

  const width = columns.reduce((w, c) => w + c.width, 0);
  const scaled = ratio() > 1;
  const rows: ReactNode[] = [];
  for (const item of virtualizer.getVirtualItems()) {
    const top = scaled ? physical.current + (item.start - offset) : item.start;
    const start = item.index * block;
    const end = Math.min(total, start + block);
    for (let index = start; index < end; index++) {
      const row = props.getRow(index);
      const y = top + (index - start) * rowHeight;
      const selected = row && props.isSelected?.(row);
      rows.push(
        <div
          key={index}
          className={`vt-row${index === active ? ' active' : ''}${selected ? ' selected' : ''}${row ? '' : ' loading'}${index % 2 ? ' odd' : ''}`}
          style={{ transform: `translateY(${y}px)`, height: rowHeight, width }}
          data-index={index}
          role="row"
          aria-rowindex={index + 1}
          onMouseEnter={row ? () => propsRef.current.onHover?.(row) : undefined}
          onClick={
            row
              ? () => {
                  setActive(index);
                  propsRef.current.onActivate?.(row);
                }
              : undefined
          }
        >
          {row ? <Cells row={row} columns={columns} /> : <Skeleton columns={columns} />}
        </div>,
      );
    }
  }

  return (
    <div
      ref={rootRef}
      className={`vt${props.exact === false ? ' vt-stale' : ''}`}
      data-testid={props.testId}
      data-total={props.total ?? ''}
      data-loading={String(props.total === null || !loaded)}
      data-first-row={first}
      data-active={active}
      role="table"
      aria-label={props.label}
      aria-rowcount={total}
    >
      <div className="vt-head" ref={headRef} role="rowgroup">
        <div className="vt-head-row" style={{ width }} role="row">
          {columns.map((c) => {
            const sorted = props.sort && c.sort && props.sort.column === c.sort;
            return (
              <div
                key={c.key}
                role="columnheader"
                className={`vt-cell vt-th${c.align === 'right' ? ' num' : ''}${c.sort ? ' sortable' : ''}${sorted ? ' sorted' : ''}`}
                style={{ width: c.width }}
                title={c.title ?? (c.sort ? `Sort by ${c.label}` : undefined)}
                aria-sort={sorted ? (props.sort!.descending ? 'descending' : 'ascending') : undefined}
                data-sort={c.sort}
                onClick={c.sort && props.onSort ? () => props.onSort!(c.sort!) : undefined}
                onMouseEnter={c.sort && props.onSortHover ? () => props.onSortHover!(c.sort!) : undefined}
              >
                {c.label}
                {sorted ? (props.sort!.descending ? ' ▼' : ' ▲') : ''}
              </div>
            );
          })}
        </div>
      </div>
      <div
        className="vt-body"
        ref={scrollRef}
        tabIndex={0}
        style={{ height: props.height }}
        onKeyDown={onKeyDown}
        onScroll={(e) => {
          if (headRef.current) headRef.current.scrollLeft = e.currentTarget.scrollLeft;
        }}
        onPointerOver={showCutValue}
        role="rowgroup"
      >
        <div className="vt-space" style={{ height: geometry.current.physicalHeight, width }}>
          {rows}
        </div>
        {props.total === 0 && !props.error && <div className="vt-empty">{props.empty ?? 'Nothing to show.'}</div>}
        {props.error && <div className="vt-empty vt-error">{props.error}</div>}
      </div>
    </div>
  );
}

function versionKey(v: unknown): string {
  if (v && typeof v === 'object') {
    const map = versionIds;
    let id = map.get(v);
    if (id === undefined) {
      id = ++versionCounter;
      map.set(v, id);
    }
    return `o${id}`;
  }
  return String(v);
}
const versionIds = new WeakMap<object, number>();
let versionCounter = 0;
