// The whole trade list: a virtualized table that scrolls through millions of rows (windows are
// fetched as they come on screen), filters (side, tag, P&L, return, holding time) and a sort on
// any column. A click on a trade opens its symbol zoomed to it, MAE and MFE marked.
import { Card } from '../components/Card.js';
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { TradeSortColumn } from '../../../shared/constants.js';
import type { NumberRange } from '../../../shared/messages.js';
import { VirtualTable, type RowRef, type TableColumn } from '../components/VirtualTable.js';
import { count, dateTimeShort, dollars, duration, percent, pnl, price, tone } from '../format.js';
import { zoneLabel } from '../display-zone.js';
import { hasTradeFilters, navigate, type Route, type TradeFilters } from '../route.js';
import { runLabel } from '../runs.js';
import { prefetch } from '../session.js';
import { listDownload, PAGE_SIZE, seriesSpec, symbolTradesSpec, tradeDetailSpec, tradeRoute, tradesSpec, useRequestWidths } from '../specs.js';
import { num, str } from '../table.js';
import { pageSpec, useWindowedList } from '../windows.js';
import type { DatasetSchema } from '../worker/types.js';
import { DownloadMenu } from '../components/DownloadMenu.js';

/** A min..max pair of text inputs, committed on Enter, on blur or after a pause in typing. */
function RangeInput(props: {
  label: string;
  testId: string;
  value: NumberRange | undefined;
  unit: string;
  /** Value shown = stored * scale (e.g. % for fractions, hours for ms). */
  scale: number;
  onChange: (r: NumberRange | undefined) => void;
}) {
  const show = (v: number | undefined) => (v === undefined ? '' : String(Number((v * props.scale).toPrecision(10))));
  const [lo, setLo] = useState(show(props.value?.min));
  const [hi, setHi] = useState(show(props.value?.max));
  useEffect(() => {
    setLo(show(props.value?.min));
    setHi(show(props.value?.max));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.value?.min, props.value?.max]);
  const parse = (s: string) => (s.trim() === '' || !Number.isFinite(Number(s)) ? undefined : Number(s) / props.scale);
  const invalid = (l: string, h: string) => {
    const bad = (s: string) => s.trim() !== '' && !Number.isFinite(Number(s));
    const min = parse(l);
    const max = parse(h);
    return bad(l) || bad(h) || (min !== undefined && max !== undefined && min > max);
  };
  const commit = (l: string, h: string) => {
    if (invalid(l, h)) return;
    const min = parse(l);
    const max = parse(h);
    const next = min === undefined && max === undefined ? undefined : { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
    if (JSON.stringify(next) !== JSON.stringify(props.value)) props.onChange(next);
  };
  useEffect(() => {
    const t = setTimeout(() => commit(lo, hi), 700);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [lo, hi]);
  const onKey = (e: React.KeyboardEvent) => {
    if (e.key === 'Enter') commit(lo, hi);
  };
  return (
    <label className={`filter range${invalid(lo, hi) ? ' invalid' : ''}`} data-testid={props.testId} title={invalid(lo, hi) ? 'min must be a number below max' : undefined}>
      <span>{props.label}</span>
      <input type="text" inputMode="decimal" placeholder="min" value={lo} onChange={(e) => setLo(e.target.value)} onBlur={() => commit(lo, hi)} onKeyDown={onKey} aria-label={`${props.label} from`} />
      <span className="muted">to</span>
      <input type="text" inputMode="decimal" placeholder="max" value={hi} onChange={(e) => setHi(e.target.value)} onBlur={() => commit(lo, hi)} onKeyDown={onKey} aria-label={`${props.label} to`} />
      <span className="muted">{props.unit}</span>
    </label>
  );
}

function Filters({ route, dataset }: { route: Route; dataset: DatasetSchema }) {
  const f = route.filters;
  const set = (patch: Partial<TradeFilters>) => {
    const filters = { ...f, ...patch };
    for (const k of Object.keys(filters) as (keyof TradeFilters)[]) if (filters[k] === undefined) delete filters[k];
    navigate({ ...route, filters }, { urgent: true });
  };
  const side = f.sides?.length === 1 ? f.sides[0]! : '';
  const tags = new Set(f.tags ?? []);
  return (
    <div className="filters" data-testid="trade-filters">
      <label className="filter">
        <span>Side</span>
        <select value={side} data-testid="filter-side" onChange={(e) => set({ sides: e.target.value ? [e.target.value as 'long' | 'short'] : undefined })}>
          <option value="">all</option>
          <option value="long">long</option>
          <option value="short">short</option>
        </select>
      </label>
      {dataset.tags.length > 0 && (
        <div className="filter tags" role="group" aria-label="Tags">
          <span>Tags</span>
          {dataset.tags.slice(0, 24).map((tag) => (
            <button
              key={tag}
              type="button"
              className={`chip${tags.has(tag) ? ' on' : ''}`}
              aria-pressed={tags.has(tag)}
              data-tag={tag}
              onClick={() => {
                const next = new Set(tags);
                if (next.has(tag)) next.delete(tag);
                else next.add(tag);
                set({ tags: next.size ? [...next].sort() : undefined });
              }}
            >
              {tag}
            </button>
          ))}
        </div>
      )}
      <RangeInput label="P&L" testId="filter-pnl" unit="$" scale={1} value={f.pnl} onChange={(pnl) => set({ pnl })} />
      <RangeInput label="Return" testId="filter-ret" unit="%" scale={100} value={f.ret} onChange={(ret) => set({ ret })} />
      <RangeInput label="Held" testId="filter-hold" unit="hours" scale={1 / 3_600_000} value={f.holdingMs} onChange={(holdingMs) => set({ holdingMs })} />
      {hasTradeFilters(route) && (
        <button type="button" className="link" data-testid="clear-filters" onClick={() => navigate({ ...route, filters: {} })}>
          Clear filters
        </button>
      )}
    </div>
  );
}

export function TradesView({ route, dataset }: { route: Route; dataset: DatasetSchema }) {
  const widths = useRequestWidths();
  const base = useMemo(() => tradesSpec(route), [route]);
  const list = useWindowedList(base, PAGE_SIZE.trades, 'trades');
  const sort = route.sort ?? { column: 'entry_ts' as TradeSortColumn, descending: false };

  const nextSort = useCallback(
    (column: string) => {
      const c = column as TradeSortColumn;
      const descending = sort.column === c ? !sort.descending : ['pnl', 'ret', 'qty', 'fees', 'mfe', 'bars_held', 'holding_ms'].includes(c);
      return { ...route, sort: { column: c, descending } };
    },
    [route, sort],
  );
  const onSort = useCallback((column: string) => navigate(nextSort(column)), [nextSort]);
  const onSortHover = useCallback((column: string) => prefetch([pageSpec(tradesSpec(nextSort(column)), 0, PAGE_SIZE.trades)], 'hover'), [nextSort]);

  const target = (row: RowRef) => ({
    run: str(row.table, 'run_id', row.i),
    id: num(row.table, 'trade_id', row.i),
    symbol: str(row.table, 'symbol', row.i),
    entryTs: num(row.table, 'entry_ts', row.i),
    exitTs: num(row.table, 'exit_ts', row.i),
  });
  const open = useCallback((row: RowRef) => navigate(tradeRoute(route, target(row), 'trades')), [route]);
  const hover = useCallback(
    (row: RowRef) => {
      const t = target(row);
      const next = tradeRoute(route, t, 'trades');
      prefetch(
        [seriesSpec(next, t.symbol, widths.symbol), tradeDetailSpec(next, t.symbol, t.run), pageSpec(symbolTradesSpec(next, t.symbol), 0, PAGE_SIZE.symbolTrades)],
        'hover',
      );
    },
    [route, widths.symbol],
  );

  const columns = useMemo((): TableColumn[] => {
    const n = (column: string, f: (v: number) => string, signed = false) => (r: RowRef) => {
      const v = num(r.table, column, r.i);
      return signed ? <span className={tone(v)}>{f(v)}</span> : f(v);
    };
    return [
      { key: 'run_id', label: 'Run', width: 64, sort: 'run_id', cell: (r) => runLabel(dataset, str(r.table, 'run_id', r.i)) },
      { key: 'trade_id', label: 'ID', width: 76, align: 'right', sort: 'trade_id', cell: n('trade_id', (v) => String(v)) },
      { key: 'symbol', label: 'Symbol', width: 84, sort: 'symbol', cell: (r) => <span className="strong">{str(r.table, 'symbol', r.i)}</span> },
      { key: 'sector', label: 'Sector', width: 150, sort: 'sector', cell: (r) => str(r.table, 'sector', r.i) },
      { key: 'side', label: 'Side', width: 56, sort: 'side', cell: (r) => <span className={`side side-${str(r.table, 'side', r.i)}`}>{str(r.table, 'side', r.i)}</span> },
      { key: 'entry_ts', label: `Entry (${zoneLabel()})`, width: 132, sort: 'entry_ts', cell: n('entry_ts', dateTimeShort) },
      { key: 'exit_ts', label: `Exit (${zoneLabel()})`, width: 132, sort: 'exit_ts', cell: n('exit_ts', dateTimeShort) },
      { key: 'qty', label: 'Qty', width: 80, align: 'right', sort: 'qty', cell: n('qty', count) },
      { key: 'entry_price', label: 'Entry px', width: 84, align: 'right', sort: 'entry_price', cell: n('entry_price', price) },
      { key: 'exit_price', label: 'Exit px', width: 84, align: 'right', sort: 'exit_price', cell: n('exit_price', price) },
      { key: 'pnl', label: 'P&L', width: 100, align: 'right', sort: 'pnl', cell: n('pnl', pnl, true) },
      { key: 'ret', label: 'Return', width: 80, align: 'right', sort: 'ret', cell: n('ret', (v) => percent(v, { signed: true }), true) },
      { key: 'fees', label: 'Fees', width: 76, align: 'right', sort: 'fees', cell: n('fees', dollars) },
      { key: 'holding_ms', label: 'Held', width: 84, align: 'right', sort: 'holding_ms', cell: n('holding_ms', duration) },
      { key: 'bars_held', label: 'Bars', width: 56, align: 'right', sort: 'bars_held', cell: n('bars_held', count) },
      { key: 'mae', label: 'MAE', width: 72, align: 'right', sort: 'mae', cell: n('mae', (v) => percent(v, { signed: true }), true) },
      { key: 'mfe', label: 'MFE', width: 72, align: 'right', sort: 'mfe', cell: n('mfe', (v) => percent(v, { signed: true }), true) },
      { key: 'tag', label: 'Tag', width: 90, sort: 'tag', cell: (r) => str(r.table, 'tag', r.i) },
    ];
  }, [dataset]);

  const filtered = hasTradeFilters(route);
  const ranged = route.from !== undefined;
  const empty = `No trades ${filtered ? 'match these filters' : 'close'}${ranged ? ' in this range' : ''}.`;

  return (
    <div className="view trades" data-testid="trades-view">
      <Card
        title={route.sector ? `Trades of ${route.sector}` : 'Trades'}
        aside={
          <span className="hint" data-testid="trade-count">
            {list.total !== null ? `${count(list.total)} trades${filtered ? ' match' : ''}` : 'counting…'} · sort by any column · click a trade to see it on its chart
            <DownloadMenu spec={listDownload(base)} testId="trades-download" what="every trade of this list, in its sort" />
          </span>
        }
      >
        <Filters route={route} dataset={dataset} />
        <VirtualTable
          testId="trades-table"
          {...list}
          autoFocus
          label="Trades"
          columns={columns}
          height="max(320px, calc(100vh - 330px))"
          sort={sort}
          onSort={onSort}
          onSortHover={onSortHover}
          onActivate={open}
          onHover={hover}
          empty={empty}
        />
      </Card>
    </div>
  );
}
