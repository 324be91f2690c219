// One symbol: price with trade entry/exit markers, position, cumulative P&L, and its trade
// list beside them. A trade (clicked here or in the trade list) zooms the view to it with its
// MAE and MFE marked.
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef } from 'react';
import type uPlot from 'uplot';
import { Card } from '../components/Card.js';
import { chartX, type ChartData } from '../components/Chart.js';
import { VirtualTable, type RowRef, type TableColumn } from '../components/VirtualTable.js';
import { compactCount, count, dollars, dollarsCompact, duration, percent, pnl, price, signedCount, tone, dateTimeText, dateTimeShort } from '../format.js';
import { useQuery } from '../query.js';
import { goUp, navigate, upTarget, type Route } from '../route.js';
import { prefetch } from '../session.js';
import { barsDownload, PAGE_SIZE, seriesSpec, symbolTradesSpec, symbolViewSpecs, tradeDetailSpec, tradeRoute, useRequestWidths } from '../specs.js';
import { num, str } from '../table.js';
import { cssVar, useTheme } from '../theme.js';
import { tradingTimeOf } from '../time-axis.js';
import type { TradingTime } from '../../../shared/trading-time.js';
import { useWindowedList } from '../windows.js';
import { markDrawn } from '../perf.js';
import type { ColumnTable, DatasetSchema } from '../worker/types.js';
import { runLabel, runTitle } from '../runs.js';
import { zoneLabel } from '../display-zone.js';
import { columnSourceNote } from '../column-sources.js';
import { ErrorBox, QueryNote, seriesLines, TimeChart } from './common.js';
import { DownloadMenu } from '../components/DownloadMenu.js';

interface SelectedTrade {
  run: string;
  id: number;
  side: string;
  entryTs: number;
  exitTs: number;
  entryPrice: number;
  exitPrice: number;
  qty: number;
  pnl: number;
  ret: number;
  mae: number;
  mfe: number;
  fees: number;
  barsHeld: number;
  holdingMs: number;
  tag: string;
}

function readTrade(t: ColumnTable, i: number): SelectedTrade {
  return {
    run: str(t, 'run_id', i),
    id: num(t, 'trade_id', i),
    side: str(t, 'side', i),
    entryTs: num(t, 'entry_ts', i),
    exitTs: num(t, 'exit_ts', i),
    entryPrice: num(t, 'entry_price', i),
    exitPrice: num(t, 'exit_price', i),
    qty: num(t, 'qty', i),
    pnl: num(t, 'pnl', i),
    ret: num(t, 'ret', i),
    mae: num(t, 'mae', i),
    mfe: num(t, 'mfe', i),
    fees: num(t, 'fees', i),
    barsHeld: num(t, 'bars_held', i),
    holdingMs: num(t, 'holding_ms', i),
    tag: str(t, 'tag', i),
  };
}

/** Price levels of a trade's maximum adverse / favourable excursion (fractions of the entry price). */
function excursionPrices(t: SelectedTrade): { mae: number; mfe: number } {
  const dir = t.side === 'short' ? -1 : 1;
  return { mae: t.entryPrice * (1 + dir * t.mae), mfe: t.entryPrice * (1 + dir * t.mfe) };
}

function drawMarkers(u: uPlot, time: TradingTime, trades: ColumnTable | undefined, selected: SelectedTrade | null, colors: { pos: string; neg: string; text: string; band: string }) {
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  const dpr = devicePixelRatio || 1;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  const xMin = u.scales.x?.min ?? -Infinity;
  const xMax = u.scales.x?.max ?? Infinity;
  if (selected) {
    const x0 = u.valToPos(chartX(time, selected.entryTs / 1000), 'x', true);
    const x1 = u.valToPos(chartX(time, (Number.isFinite(selected.exitTs) ? selected.exitTs : selected.entryTs) / 1000), 'x', true);
    ctx.fillStyle = colors.band;
    ctx.fillRect(x0, top, Math.max(2, x1 - x0), height);
    const { mae, mfe } = excursionPrices(selected);
    const levels: [number, string, string][] = [
      [mae, colors.neg, `MAE ${percent(selected.mae, { signed: true })}`],
      [mfe, colors.pos, `MFE ${percent(selected.mfe, { signed: true })}`],
    ];
    ctx.font = `${11 * dpr}px system-ui, sans-serif`;
    ctx.setLineDash([5 * dpr, 4 * dpr]);
    ctx.lineWidth = 1.5 * dpr;
    for (const [level, color, label] of levels) {
      if (!Number.isFinite(level)) continue;
      const y = u.valToPos(level, 'y', true);
      ctx.strokeStyle = color;
      ctx.beginPath();
      ctx.moveTo(x0, y);
      ctx.lineTo(Math.max(x1, x0 + 2), y);
      ctx.stroke();
      ctx.fillStyle = color;
      ctx.fillText(label, Math.min(x1 + 4 * dpr, left + width - 80 * dpr), y + (level === mae ? 12 : -4) * dpr);
    }
    ctx.setLineDash([]);
  }
  if (trades) {
    const entry = trades.columns.entry_ts as Float64Array;
    const exit = trades.columns.exit_ts as Float64Array;
    const entryPx = trades.columns.entry_price as Float64Array;
    const exitPx = trades.columns.exit_price as Float64Array;
    const pnlCol = trades.columns.pnl as Float64Array;
    const sides = trades.columns.side;
    const size = (trades.length > 400 ? 3 : 4.5) * dpr;
    for (let i = 0; i < trades.length; i++) {
      // In the chart's x (trading seconds); NaN (no exit) stays NaN.
      const e = chartX(time, entry[i]! / 1000);
      const x = chartX(time, exit[i]! / 1000);
      if ((e < xMin || e > xMax) && (!(x >= xMin) || x > xMax)) continue;
      const isSelected = selected && selected.id === num(trades, 'trade_id', i) && selected.run === str(trades, 'run_id', i);
      const short = sides && !(sides instanceof Float64Array) && sides.dict[sides.codes[i]!] === 'short';
      const ex = u.valToPos(e, 'x', true);
      const ey = u.valToPos(entryPx[i]!, 'y', true);
      const s = isSelected ? size * 1.8 : size;
      const good = pnlCol[i]! >= 0;
      if (Number.isFinite(x) && Number.isFinite(exitPx[i]!)) {
        const xx = u.valToPos(x, 'x', true);
        const xy = u.valToPos(exitPx[i]!, 'y', true);
        ctx.strokeStyle = good ? colors.pos : colors.neg;
        ctx.globalAlpha = isSelected ? 1 : 0.5;
        ctx.lineWidth = (isSelected ? 2 : 1) * dpr;
        ctx.beginPath();
        ctx.moveTo(ex, ey);
        ctx.lineTo(xx, xy);
        ctx.stroke();
        ctx.globalAlpha = 1;
        ctx.fillStyle = colors.text;
        ctx.beginPath();
        ctx.arc(xx, xy, s * 0.7, 0, Math.PI * 2);
        ctx.fill();
      }
      // Entry: ▲ long (green), ▼ short (red).
      ctx.fillStyle = short ? colors.neg : colors.pos;
      ctx.beginPath();
      if (short) {
        ctx.moveTo(ex - s, ey - s);
        ctx.lineTo(ex + s, ey - s);
        ctx.lineTo(ex, ey + s * 0.6);
      } else {
        ctx.moveTo(ex - s, ey + s);
        ctx.lineTo(ex + s, ey + s);
        ctx.lineTo(ex, ey - s * 0.6);
      }
      ctx.closePath();
      ctx.fill();
    }
  }
  ctx.restore();
}

/**
 * The position axis: from 0 (or a round number below it) to a round number above, so that the
 * axis labels its extremes on a short chart instead of a lone "0"; a flat zero position gets ±1.
 */
function positionRange(_u: uPlot, min: number, max: number): [number, number] {
  const extent = Math.max(Math.abs(min), Math.abs(max));
  if (!(extent > 0)) return [-1, 1];
  const step = 10 ** Math.floor(Math.log10(extent));
  const round = Math.ceil(extent / step) * step;
  return [min < 0 ? -round : 0, max > 0 ? round : 0];
}

export function SymbolView({ route, dataset }: { route: Route; dataset: DatasetSchema }) {
  const theme = useTheme();
  const time = tradingTimeOf(dataset);
  const widths = useRequestWidths();
  const symbol = route.symbol!;
  const series = useQuery(seriesSpec(route, symbol, widths.symbol), { previewable: true, name: 'symbol.series' });
  const detail = useQuery(route.trade ? tradeDetailSpec(route, symbol, route.trade.run) : null, { name: 'symbol.trade' });
  const listBase = useMemo(() => symbolTradesSpec(route, symbol), [route, symbol]);
  const list = useWindowedList(listBase, PAGE_SIZE.symbolTrades, 'symbol.trades');
  const multiRun = (route.runs?.length ?? dataset.runs.length) > 1;

  const selected = useMemo((): SelectedTrade | null => {
    const t = detail.answer?.data;
    if (!route.trade || !t) return null;
    for (let i = 0; i < t.length; i++) if (num(t, 'trade_id', i) === route.trade.id) return readTrade(t, i);
    return null;
  }, [detail.answer, route.trade]);

  // Zoomed to a trade, the likely next step is back up to the whole symbol: have it ready.
  const seriesReady = !!series.answer && !series.stale;
  useEffect(() => {
    if (!route.trade || !seriesReady) return;
    const up = upTarget();
    if (up && up.route.level === 'symbol' && up.route.symbol === symbol) prefetch(symbolViewSpecs(up.route, symbol, widths.symbol), 'up');
  }, [route, seriesReady, symbol, widths.symbol]);

  const detailRef = useRef<HTMLElement>(null);
  useLayoutEffect(() => {
    if (selected) markDrawn(detailRef.current, !detail.stale);
  }, [selected, detail.stale]);

  const data = series.answer?.data;
  const points = data?.points;
  const [priceData, positionData, pnlData] = useMemo((): [ChartData | null, ChartData | null, ChartData | null] => {
    if (!points || points.points === 0) return [null, null, null];
    const priceLine = { label: 'Price', color: theme === 'dark' ? '#e2e8f0' : '#334155', values: points.values.price![0]!, format: price };
    return [
      { x: points.x, lines: [priceLine], gapFree: points.gapFree, points: points.points },
      {
        x: points.x,
        lines: seriesLines(points, 'position_qty', dataset, theme, { fill: true }).map((l) => ({ ...l, format: signedCount })),
        gapFree: points.gapFree,
        points: points.points,
      },
      { x: points.x, lines: seriesLines(points, 'cum_pnl', dataset, theme), gapFree: points.gapFree, points: points.points },
    ];
  }, [points, dataset, theme]);

  const colors = useMemo(
    () => ({ pos: cssVar('--pos') || '#16a34a', neg: cssVar('--neg') || '#dc2626', text: cssVar('--text') || '#0f172a', band: theme === 'dark' ? 'rgba(96,165,250,0.12)' : 'rgba(37,99,235,0.08)' }),
    [theme],
  );
  const trades = data?.trades;
  const overlay = useCallback((u: uPlot) => drawMarkers(u, time, trades, selected, colors), [time, trades, selected, colors]);

  const openTrade = useCallback(
    (row: RowRef) => {
      const t = readTrade(row.table, row.i);
      navigate(tradeRoute(route, { run: t.run, id: t.id, symbol: str(row.table, 'symbol', row.i) || symbol, entryTs: t.entryTs, exitTs: t.exitTs }));
    },
    [route, symbol],
  );
  const hoverTrade = useCallback(
    (row: RowRef) => {
      const t = readTrade(row.table, row.i);
      const next = tradeRoute(route, { run: t.run, id: t.id, symbol, entryTs: t.entryTs, exitTs: t.exitTs });
      prefetch([seriesSpec(next, symbol, widths.symbol), tradeDetailSpec(next, symbol, t.run)], 'hover');
    },
    [route, symbol, widths.symbol],
  );

  const columns = useMemo((): TableColumn[] => {
    const cols: TableColumn[] = [
      { key: 'entry', label: `Entry (${zoneLabel()})`, width: 130, cell: (r) => dateTimeShort(num(r.table, 'entry_ts', r.i)) },
      { key: 'side', label: 'Side', width: 48, cell: (r) => <span className={`side side-${str(r.table, 'side', r.i)}`}>{str(r.table, 'side', r.i)}</span> },
      { key: 'pnl', label: 'P&L', width: 80, align: 'right', cell: (r) => <span className={tone(num(r.table, 'pnl', r.i))}>{pnl(num(r.table, 'pnl', r.i))}</span> },
      { key: 'ret', label: 'Return', width: 66, align: 'right', cell: (r) => <span className={tone(num(r.table, 'ret', r.i))}>{percent(num(r.table, 'ret', r.i), { signed: true })}</span> },
      { key: 'held', label: 'Held', width: 74, align: 'right', cell: (r) => duration(num(r.table, 'holding_ms', r.i)) },
    ];
    if (multiRun) cols.splice(1, 0, { key: 'run', label: 'Run', width: 44, cell: (r) => runLabel(dataset, str(r.table, 'run_id', r.i)) });
    return cols;
  }, [multiRun, dataset]);

  const isSelected = useCallback(
    (r: RowRef) => !!route.trade && num(r.table, 'trade_id', r.i) === route.trade.id && str(r.table, 'run_id', r.i) === route.trade.run,
    [route.trade],
  );

  const markerCount = trades?.length ?? 0;
  // The three charts draw the one answer, on one synchronised time axis.
  const chart = { state: series, route, time, syncKey: 'tickscope-symbol', empty: points?.points === 0, emptyText: `No bars of ${symbol} in this range.` };

  return (
    <div className="view symbol" data-testid="symbol-view" data-symbol={symbol}>
      {series.errorKind === 'bad-params' && <ErrorBox message={series.error!} kind="bad-params" />}
      <div className="symbol-layout">
        <div className="symbol-charts">
          <Card
            title={<>{symbol} <span className="muted">price</span></>}
            aside={
              <span className="hint">
                ▲ long entry · ▼ short entry · ● exit{markerCount ? ` · ${count(markerCount)} ${markerCount === 1 ? 'trade enters or exits' : 'trades enter or exit'} in range` : ''}
                {series.answer?.approximate && !series.answer.provisional ? ' (truncated)' : ''} · <QueryNote state={series} />
                <DownloadMenu spec={barsDownload(route)} testId="bars-download" what={`the bars of ${symbol} in view`} label="bars" />
              </span>
            }
          >
            <TimeChart testId="price-chart" {...chart} data={priceData} height={300} yFormat={(v) => price(v)} valueFormat={price} overlay={overlay} overlayKey={overlay} />
          </Card>
          <Card title="Position" aside={<span className="hint">shares held{multiRun ? ', per run' : ''}</span>}>
            <TimeChart testId="position-chart" {...chart} data={positionData} height={120} yFormat={(v) => compactCount(v)} valueFormat={signedCount} yRange={positionRange} />
          </Card>
          <Card title="Cumulative P&L" aside={<span className="hint">from the start of the range</span>}>
            <TimeChart testId="symbol-pnl-chart" {...chart} data={pnlData} height={150} yFormat={dollarsCompact} />
          </Card>
        </div>
        <aside className="symbol-side">
          {route.trade && (
            <Card
              ref={detailRef}
              className="trade-card"
              data-testid="trade-detail"
              data-trade={`${route.trade.run}:${route.trade.id}`}
              data-found={String(!!selected)}
              title={
                <>
                  Trade {route.trade.id} <span className="muted" title={runTitle(dataset, route.trade.run)}>{runLabel(dataset, route.trade.run)}</span>
                </>
              }
              aside={
                <button type="button" className="link" onClick={goUp} title="Esc">
                  All trades of {symbol}
                </button>
              }
            >
              {selected ? (
                <dl className="trade-facts">
                  <dt>Side</dt>
                  <dd className={`side side-${selected.side}`}>{selected.side}</dd>
                  <dt>Quantity</dt>
                  <dd>{count(selected.qty)}</dd>
                  <dt>Entry</dt>
                  <dd>
                    {price(selected.entryPrice)} · {dateTimeText(selected.entryTs)}
                  </dd>
                  <dt>Exit</dt>
                  <dd>{Number.isFinite(selected.exitTs) ? `${price(selected.exitPrice)} · ${dateTimeText(selected.exitTs)}` : 'open'}</dd>
                  <dt>P&amp;L</dt>
                  <dd className={tone(selected.pnl)} data-testid="trade-pnl">
                    {pnl(selected.pnl)} ({percent(selected.ret, { signed: true })}) after {dollars(selected.fees)} fees
                    <SourceNote dataset={dataset} columns={['ret', 'fees']} labels={['return', 'fees']} />
                  </dd>
                  <dt>MAE</dt>
                  <dd className="neg" data-testid="trade-mae">
                    {percent(selected.mae, { signed: true })} · {price(excursionPrices(selected).mae)}
                    <SourceNote dataset={dataset} columns={['mae']} />
                  </dd>
                  <dt>MFE</dt>
                  <dd className="pos" data-testid="trade-mfe">
                    {percent(selected.mfe, { signed: true })} · {price(excursionPrices(selected).mfe)}
                    <SourceNote dataset={dataset} columns={['mfe']} />
                  </dd>
                  <dt>Held</dt>
                  <dd>
                    {duration(selected.holdingMs)} · {count(selected.barsHeld)} bars
                    <SourceNote dataset={dataset} columns={['bars_held']} />
                  </dd>
                  {selected.tag && (
                    <>
                      <dt>Tag</dt>
                      <dd>{selected.tag}</dd>
                    </>
                  )}
                </dl>
              ) : detail.error ? (
                <ErrorBox message={detail.error} kind={detail.errorKind} />
              ) : detail.answer ? (
                <div className="empty-state small">Trade {route.trade.id} of {symbol} does not close in this range.</div>
              ) : (
                <div className="empty-state small">Loading the trade…</div>
              )}
            </Card>
          )}
          <Card title={<>Trades of {symbol}</>} aside={<span className="hint">{list.total !== null ? `${count(list.total)} ${list.total === 1 ? 'trade closes' : 'trades close'} in range (as every trade list and measure counts them)` : ''}</span>}>
            <VirtualTable
              testId="symbol-trades"
              {...list}
              autoFocus
              label={`Trades of ${symbol}`}
              columns={columns}
              height={route.trade ? 300 : 560}
              onActivate={openTrade}
              onHover={hoverTrade}
              isSelected={isSelected}
              empty="No trades of this symbol close in this range."
            />
          </Card>
        </aside>
      </div>
    </div>
  );
}

/** Where trade columns came from when preparation derived them ("MAE — derived from 5-minute bars"). */
function SourceNote({ dataset, columns, labels }: { dataset: DatasetSchema; columns: string[]; labels?: string[] }) {
  const notes = columns.flatMap((c, i) => {
    const note = columnSourceNote(dataset, 'trades', c);
    return note ? [labels ? `${labels[i]} ${note}` : note] : [];
  });
  if (notes.length === 0) return null;
  return (
    <span className="source-note muted" data-testid="column-source">
      {' '}— {notes.join('; ')}
    </span>
  );
}
