// Breakdown: sectors, then the symbols of a sector (or every symbol), as a sortable virtualized
// table with P&L, contribution, trades, win rate, exposure and a P&L sparkline per row. A click
// drills down; hovering a row prefetches what the click will show.
import { memo, useCallback, useEffect, useMemo, useRef } from 'react';
import type { BreakdownColumn } from '../../../shared/constants.js';
import { Card } from '../components/Card.js';
import type { ChartData } from '../components/Chart.js';
import { VirtualTable, type RowRef, type TableColumn } from '../components/VirtualTable.js';
import { count, dollars, percent, pnl, tone } from '../format.js';
import { useQuery } from '../query.js';
import { navigate, type Route } from '../route.js';
import { prefetch } from '../session.js';
import { specKey } from '../spec-key.js';
import { barsDownload, breakdownSpec, equitySpec, listDownload, PAGE_SIZE, sparkSpec, symbolViewSpecs, useRequestWidths } from '../specs.js';
import { num, str } from '../table.js';
import { runColorOf } from '../runs.js';
import { useTheme } from '../theme.js';
import { tradingTimeOf } from '../time-axis.js';
import { pageSpec, useWindowedList } from '../windows.js';
import type { DatasetSchema } from '../worker/types.js';
import { QueryNote, seriesLines, TimeChart } from './common.js';
import { DownloadMenu } from '../components/DownloadMenu.js';

const Sparkline = memo(function Sparkline({ route, by, name, dataset }: { route: Route; by: 'sector' | 'symbol'; name: string; dataset: DatasetSchema }) {
  const theme = useTheme();
  const state = useQuery(sparkSpec(route, by, name), { low: true, name: 'spark' });
  const ref = useRef<HTMLCanvasElement>(null);
  const data = state.answer?.data;
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas || !data) return;
    const dpr = devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.scale(dpr, dpr);
    ctx.clearRect(0, 0, w, h);
    // Trading time, as the charts: closed hours take no room.
    const x = tradingTimeOf(dataset).toTradingAll(data.x, 1000);
    if (x.length < 2) return;
    let lo = 0;
    let hi = 0;
    for (const v of data.values.equity!) for (const y of v) if (Number.isFinite(y)) ((lo = Math.min(lo, y)), (hi = Math.max(hi, y)));
    const span = hi - lo || 1;
    const x0 = x[0]!;
    const xs = x[x.length - 1]! - x0 || 1;
    // zero line
    ctx.strokeStyle = theme === 'dark' ? '#475569' : '#cbd5e1';
    ctx.lineWidth = 1;
    const zy = h - 2 - ((0 - lo) / span) * (h - 4);
    ctx.beginPath();
    ctx.moveTo(0, zy);
    ctx.lineTo(w, zy);
    ctx.stroke();
    data.runs.forEach((runId, k) => {
      const values = data.values.equity![k]!;
      ctx.strokeStyle = runColorOf(dataset, runId, theme);
      ctx.lineWidth = 1.2;
      ctx.beginPath();
      let started = false;
      for (let i = 0; i < x.length; i++) {
        const y = values[i]!;
        if (!Number.isFinite(y)) continue;
        const px = ((x[i]! - x0) / xs) * (w - 2) + 1;
        const py = h - 2 - ((y - lo) / span) * (h - 4);
        if (started) ctx.lineTo(px, py);
        else {
          ctx.moveTo(px, py);
          started = true;
        }
      }
      ctx.stroke();
    });
  }, [data, theme, dataset]);
  return <canvas ref={ref} className="spark" aria-label={`P&L curve of ${name}`} />;
});

export function Breakdown({ route, dataset }: { route: Route; dataset: DatasetSchema }) {
  const theme = useTheme();
  const time = tradingTimeOf(dataset);
  const widths = useRequestWidths();
  const by: 'sector' | 'symbol' = route.level === 'sectors' && !route.sector ? 'sector' : 'symbol';
  const sector = route.level === 'sectors' ? route.sector : undefined;
  const base = useMemo(() => breakdownSpec(route, by, sector), [route, by, sector]);
  const list = useWindowedList(base, PAGE_SIZE.breakdown, `breakdown.${by}`);
  // The rows on screen may still be the previous list's (sectors while a sector's symbols load):
  // a click or hover acts on what the row is, not on what the route now says.
  const kinds = useRef(new Map<string, 'sector' | 'symbol'>());
  kinds.current.set(specKey(base), by);
  const shownBy = kinds.current.get(list.resetKey) ?? by;
  const sort = route.bsort ?? { column: 'pnl' as BreakdownColumn, descending: true };

  // The P&L of what the table breaks down (the portfolio, or the sector), brushable.
  const curve = useQuery(equitySpec(route, widths.main, sector ? { sectors: [sector] } : {}), { previewable: true, name: 'breakdown.curve' });
  const eq = curve.answer?.data;
  const curveData = useMemo(
    (): ChartData | null => (eq ? { x: eq.x, lines: seriesLines(eq, 'equity', dataset, theme), gapFree: eq.gapFree, points: eq.points } : null),
    [eq, dataset, theme],
  );

  const open = useCallback(
    (row: RowRef) => {
      if (shownBy !== by) return;
      const key = str(row.table, 'key', row.i);
      if (by === 'sector') navigate({ ...route, level: 'sectors', sector: key });
      else navigate({ ...route, level: 'symbol', symbol: key, sector, via: route.level === 'symbols' ? 'symbols' : undefined });
    },
    [by, shownBy, route, sector],
  );

  const hover = useCallback(
    (row: RowRef) => {
      if (shownBy !== by) return;
      const key = str(row.table, 'key', row.i);
      if (by === 'sector') {
        const next = { ...route, level: 'sectors' as const, sector: key };
        prefetch([pageSpec(breakdownSpec(next, 'symbol', key), 0, PAGE_SIZE.breakdown), equitySpec(next, widths.main, { sectors: [key] })], 'hover');
      }
      else prefetch(symbolViewSpecs(route, key, widths.symbol), 'hover');
    },
    [by, shownBy, route, widths.symbol, widths.main],
  );

  const nextSort = useCallback(
    (column: string) => {
      const c = column as BreakdownColumn;
      const descending = sort.column === c ? !sort.descending : c !== 'key';
      return { ...route, bsort: { column: c, descending } };
    },
    [route, sort],
  );
  const onSort = useCallback((column: string) => navigate(nextSort(column), { replace: true }), [nextSort]);
  const onSortHover = useCallback(
    (column: string) => prefetch([pageSpec(breakdownSpec(nextSort(column), by, sector), 0, PAGE_SIZE.breakdown)], 'hover'),
    [nextSort, by, sector],
  );

  const columns = useMemo((): TableColumn[] => {
    const signed = (column: string, f: (v: number) => string) => (r: RowRef) => {
      const v = num(r.table, column, r.i);
      return <span className={tone(v)}>{f(v)}</span>;
    };
    return [
      { key: 'key', label: by === 'sector' ? 'Sector' : 'Symbol', width: 190, sort: 'key', cell: (r) => <span className="strong">{str(r.table, 'key', r.i)}</span> },
      { key: 'pnl', label: 'P&L', width: 130, align: 'right', sort: 'pnl', cell: signed('pnl', pnl) },
      {
        key: 'contribution',
        label: 'Contribution',
        width: 124,
        align: 'right',
        sort: 'contribution',
        title: 'P&L as a share of the selected runs’ capital',
        cell: signed('contribution', (v) => percent(v, { signed: true, digits: 3 })),
      },
      { key: 'trades', label: 'Trades', width: 90, align: 'right', sort: 'trades', cell: (r) => count(num(r.table, 'trades', r.i)) },
      { key: 'win_rate', label: 'Win rate', width: 90, align: 'right', sort: 'win_rate', cell: (r) => percent(num(r.table, 'win_rate', r.i), { digits: 1 }) },
      { key: 'avg_exposure', label: 'Avg exposure', width: 120, align: 'right', sort: 'avg_exposure', cell: (r) => dollars(num(r.table, 'avg_exposure', r.i)) },
      { key: 'fees', label: 'Fees', width: 100, align: 'right', sort: 'fees', cell: (r) => dollars(num(r.table, 'fees', r.i)) },
      {
        key: 'spark',
        label: 'P&L curve',
        width: 120,
        cell: (r) => <Sparkline route={route} by={by} name={str(r.table, 'key', r.i)} dataset={dataset} />,
      },
    ];
  }, [by, route, dataset]);

  const title = by === 'sector' ? 'P&L by sector' : sector ? `Symbols of ${sector}` : 'P&L by symbol';
  const rows = list.total;

  return (
    <div className="view breakdown" data-testid="breakdown" data-by={by}>
      <Card title={sector ? `${sector}: cumulative P&L` : 'Portfolio: cumulative P&L'} aside={<QueryNote state={curve} />}>
        <TimeChart testId="breakdown-chart" state={curve} empty={eq?.points === 0} data={curveData} height={150} time={time} route={route} />
      </Card>
      <Card
        title={title}
        aside={
          <span className="hint">
            {rows !== null ? `${count(rows)} ${by === 'sector' ? 'sectors' : 'symbols'} · ` : ''}click a row (or ↑↓ Enter) to drill down · Esc goes up
            <DownloadMenu spec={listDownload(base)} testId="breakdown-download" what={`this table of ${by === 'sector' ? 'sectors' : 'symbols'}`} />
            <DownloadMenu spec={barsDownload(sector ? { ...route, sector } : route)} testId="bars-download" what="the bars in view" label="bars" />
          </span>
        }
      >
        <VirtualTable
          testId="breakdown-table"
          {...list}
          autoFocus
          label={title}
          columns={columns}
          height={by === 'sector' ? Math.min(520, 26 * Math.max(3, rows ?? 11) + 4) : 'calc(100vh - 420px)'}
          sort={sort}
          onSort={onSort}
          onSortHover={onSortHover}
          onActivate={open}
          onHover={hover}
          empty={sector ? `No symbols of ${sector} in this range.` : 'Nothing in this range.'}
        />
      </Card>
    </div>
  );
}
