// What each view asks the worker, built in one place so a prefetch (on hover) asks for exactly
// what the view will ask when it opens, and the worker's cache answers the click at once.
import { useEffect, useState } from 'react';
import type { BreakdownColumn, BreakdownDimension, TradeSortColumn } from '../../shared/constants.js';
import { riskFreeParams } from './risk-free.js';
import { scopeOf, type Route } from './route.js';
import type { DownloadSpec, Spec } from './worker/types.js';
import { pageSpec, type ListSpec } from './windows.js';
import { MAX_WINDOW_ROWS, type LeaderboardMetric } from '../../shared/constants.js';
import { paramFilters } from './run-params.js';
import type { SurfaceChoice } from './sweep-route.js';
import type { DatasetSchema } from './worker/types.js';

export const PAGE_SIZE = { trades: 100, breakdown: 200, symbolTrades: 200 } as const;
export const SPARK_WIDTH = 80;
export const MAX_MARKERS = 2000;
const MAX_REQUEST_WIDTH = 4096;

/** Layout constants mirrored from styles.css. */
const APP_MAX_WIDTH = 1600;
const APP_PADDING = 2 * 20;
const CARD_INSET = 2 * 16 + 2;
const Y_AXIS = 84 + 16;
export const SIDEBAR_WIDTH = 470;
const GAP = 12;

function dpr(): number {
  return typeof devicePixelRatio === 'number' && devicePixelRatio > 0 ? devicePixelRatio : 1;
}

function pixels(css: number): number {
  return Math.max(16, Math.min(MAX_REQUEST_WIDTH, Math.round(css * dpr())));
}

/** Request widths (M4 pixel columns) of the views' charts, from the window's width. */
export function requestWidths(innerWidth: number): { main: number; symbol: number } {
  const content = Math.min(innerWidth, APP_MAX_WIDTH) - APP_PADDING;
  const plot = content - CARD_INSET - Y_AXIS;
  return { main: pixels(plot), symbol: pixels(plot - SIDEBAR_WIDTH - GAP) };
}

/** The window's width, debounced on resize. */
export function useRequestWidths(): { main: number; symbol: number } {
  const [w, setW] = useState(() => window.innerWidth);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onResize = () => {
      clearTimeout(timer);
      timer = setTimeout(() => setW(window.innerWidth), 150);
    };
    window.addEventListener('resize', onResize);
    return () => {
      clearTimeout(timer);
      window.removeEventListener('resize', onResize);
    };
  }, []);
  return requestWidths(w);
}

// ---------------------------------------------------------------------------------------------
// Overview

export function summarySpec(route: Route): Spec<'summary'> {
  return { query: 'summary', params: { ...scopeOf(route), ...riskFreeParams(route) } };
}

/** Benchmark-relative metrics and robustness per run, at the chosen risk-free rate. */
export function riskSpec(route: Route): Spec<'risk'> {
  return { query: 'risk', params: { ...scopeOf(route), ...riskFreeParams(route) } };
}

/** The benchmark's line on the equity chart: the runs' capital in the benchmark. */
export function benchmarkSpec(route: Route): Spec<'benchmark'> {
  return { query: 'benchmark', params: scopeOf(route) };
}

export function equitySpec(route: Route, width: number, dims: { sectors?: string[]; symbols?: string[] } = {}): Spec<'equity'> {
  const scope = scopeOf(route);
  const filters = { ...scope.filters, ...dims };
  return { query: 'equity', params: { ...scope, ...(Object.keys(filters).length ? { filters } : {}), width } };
}

export function exposureSpec(route: Route, width: number): Spec<'exposure'> {
  return { query: 'exposure', params: { ...scopeOf(route), width } };
}

export function heatmapSpec(route: Route): Spec<'heatmap'> {
  return { query: 'heatmap', params: scopeOf(route) };
}

export function histogramSpec(route: Route): Spec<'histogram'> {
  return { query: 'histogram', params: { ...scopeOf(route), field: 'pnl', bins: 60 } };
}

/** P&L, trades and win rate by exchange hour, weekday or month, in key order (every group: at most 24, 7, or a month per month of data). */
export function timeBreakdownSpec(route: Route, by: 'hour' | 'weekday' | 'month'): Spec<'breakdown'> {
  return { query: 'breakdown', params: { ...scopeOf(route), by, sort: { column: 'key', descending: false }, limit: 10_000 } };
}

/** Every trade in scope as a point (MAE, MFE, return), sampled by the server past its cap. */
export function scatterSpec(route: Route): Spec<'scatter'> {
  return { query: 'scatter', params: scopeOf(route) };
}

/** Most drawdown episodes the overview lists per run. */
export const EPISODE_ROWS = 10;

export function episodesSpec(route: Route): Spec<'episodes'> {
  return { query: 'episodes', params: { ...scopeOf(route), limit: EPISODE_ROWS } };
}

/** The attribution of the route's range: by sector, or by symbol within `sector`. */
export function attributionSpec(route: Route, sector?: string): Spec<'attribution'> {
  return { query: 'attribution', params: { ...scopeOf(route), ...(sector !== undefined ? { sector } : {}) } };
}

// ---------------------------------------------------------------------------------------------
// Breakdown

export function breakdownSpec(route: Route, by: BreakdownDimension, sector?: string): ListSpec {
  const scope = scopeOf(route);
  const filters = { ...scope.filters, ...(sector ? { sectors: [sector] } : {}) };
  const sort: { column: BreakdownColumn; descending: boolean } = route.bsort ?? { column: 'pnl', descending: true };
  return {
    query: 'breakdown',
    params: { ...scope, ...(Object.keys(filters).length ? { filters } : {}), by, sort, limit: PAGE_SIZE.breakdown },
  };
}

/** A row's P&L curve in a breakdown table. */
export function sparkSpec(route: Route, by: 'sector' | 'symbol', key: string): Spec<'equity'> {
  return equitySpec(route, SPARK_WIDTH, by === 'sector' ? { sectors: [key] } : { symbols: [key] });
}

// ---------------------------------------------------------------------------------------------
// Symbol

export function seriesSpec(route: Route, symbol: string, width: number): Spec<'series'> {
  return { query: 'series', params: { ...scopeOf(route), symbol, width, maxTrades: MAX_MARKERS } };
}

export function symbolTradesSpec(route: Route, symbol: string): ListSpec {
  const scope = scopeOf(route);
  return {
    query: 'trades',
    params: {
      ...scope,
      filters: { ...scope.filters, symbols: [symbol] },
      sort: { column: 'entry_ts', descending: false },
      limit: PAGE_SIZE.symbolTrades,
    },
  };
}

/** The one selected trade (found among its symbol's trades closing in the window). */
export function tradeDetailSpec(route: Route, symbol: string, run: string): Spec<'trades'> {
  return {
    query: 'trades',
    params: {
      runs: [run],
      ...(route.from !== undefined && route.to !== undefined ? { from: route.from, to: route.to } : {}),
      filters: { symbols: [symbol] },
      sort: { column: 'entry_ts', descending: false },
      limit: 500,
    },
  };
}

/** The range a trade click zooms to: the trade with some context either side. */
export function tradeWindow(entryTs: number, exitTs: number): { from: number; to: number } {
  const end = Number.isFinite(exitTs) ? exitTs : entryTs;
  const pad = Math.max((end - entryTs) * 0.6, 45 * 60_000);
  return { from: Math.floor((entryTs - pad) / 1000) * 1000, to: Math.ceil((end + pad) / 1000) * 1000 };
}

/** Where a click on a trade goes. */
export function tradeRoute(route: Route, t: { run: string; id: number; symbol: string; entryTs: number; exitTs: number }, via?: 'trades'): Route {
  const { from, to } = tradeWindow(t.entryTs, t.exitTs);
  return {
    ...route,
    level: 'symbol',
    symbol: t.symbol,
    trade: { run: t.run, id: t.id },
    from,
    to,
    ...(via ? { via, sector: undefined } : {}),
  };
}

/** What the symbol view asks first, for prefetching on hover. */
export function symbolViewSpecs(route: Route, symbol: string, width: number): Spec[] {
  return [seriesSpec(route, symbol, width), pageSpec(symbolTradesSpec(route, symbol), 0, PAGE_SIZE.symbolTrades)];
}

// ---------------------------------------------------------------------------------------------
// Trades

export function tradesSpec(route: Route): ListSpec {
  const sort: { column: TradeSortColumn; descending: boolean } = route.sort ?? { column: 'entry_ts', descending: false };
  const scope = scopeOf(route);
  // The trade list of one sector (from the attribution of a range): the sector is a dimension filter.
  const filters = route.level === 'trades' && route.sector ? { filters: { ...scope.filters, sectors: [route.sector] } } : {};
  return { query: 'trades', params: { ...scope, ...filters, sort, limit: PAGE_SIZE.trades } };
}

/** What a tab asks first when opened: prefetched when the pointer is on the tab. */
export function tabSpecs(level: 'overview' | 'sectors' | 'symbols' | 'trades', route: Route, widths: { main: number }): Spec[] {
  const r: Route = { ...route, level, sector: undefined, symbol: undefined, trade: undefined, via: undefined };
  switch (level) {
    case 'overview':
      return [equitySpec(r, widths.main), exposureSpec(r, widths.main), summarySpec(r), heatmapSpec(r), histogramSpec(r), riskSpec(r), benchmarkSpec(r)];
    case 'sectors':
      return [pageSpec(breakdownSpec(r, 'sector'), 0, PAGE_SIZE.breakdown), equitySpec(r, widths.main)];
    case 'symbols':
      return [pageSpec(breakdownSpec(r, 'symbol'), 0, PAGE_SIZE.breakdown), equitySpec(r, widths.main)];
    case 'trades':
      return [pageSpec(tradesSpec(r), 0, PAGE_SIZE.trades)];
  }
}

// ---------------------------------------------------------------------------------------------
// Parameter sweeps: the leaderboard, the surface and the run diff answer for every run in the
// range and filters (the pinned runs are what the other views show, not what these rank).

export const LEADERBOARD_PAGE = 100;
export const DEFAULT_LEADERBOARD_SORT = { column: 'sharpe', descending: true } as const;
/** Most rows of each list of a run diff (matched, only A, only B, symbols); the summary has the totals. */
export const RUNDIFF_ROWS = 1000;

/** The scope of the sweep queries: the route's range and trade filters, every run. */
function sweepScope(route: Route) {
  const { runs: _pinned, ...scope } = scopeOf(route);
  return scope;
}

export function leaderboardSpec(route: Route, dataset: DatasetSchema): Spec<'leaderboard'> {
  const params = paramFilters(route, dataset);
  return {
    query: 'leaderboard',
    params: { ...sweepScope(route), ...riskFreeParams(route), ...(params ? { params } : {}), sort: route.lsort ?? DEFAULT_LEADERBOARD_SORT, limit: LEADERBOARD_PAGE },
  };
}

/**
 * Every run of the leaderboard at once, by Sharpe: what the line above it says (the best run's
 * deflated Sharpe, the share beating the benchmark). With no range, filters or rate it is also
 * the request the default pin is chosen from, so one answer serves both.
 */
export function sweepStatsSpec(route: Route, dataset: DatasetSchema): Spec<'leaderboard'> {
  const params = paramFilters(route, dataset);
  return {
    query: 'leaderboard',
    params: {
      ...sweepScope(route),
      ...riskFreeParams(route),
      ...(params ? { params } : {}),
      sort: DEFAULT_LEADERBOARD_SORT,
      limit: Math.max(1, Math.min(dataset.runs.length, MAX_WINDOW_ROWS)),
    },
  };
}

export function surfaceSpec(route: Route, dataset: DatasetSchema, choice: SurfaceChoice): Spec<'surface'> {
  const params = paramFilters(route, dataset);
  const metric: LeaderboardMetric = choice.metric;
  return {
    query: 'surface',
    params: { ...sweepScope(route), ...riskFreeParams(route), ...(params ? { params } : {}), x: choice.x, ...(choice.y ? { y: choice.y } : {}), metric },
  };
}

export function rundiffSpec(route: Route, a: string, b: string): Spec<'rundiff'> {
  return { query: 'rundiff', params: { ...sweepScope(route), a, b, limit: RUNDIFF_ROWS } };
}

/** What the Runs tab asks first (the leaderboard's first page and the line above it), for prefetching on hover. */
export function runsViewSpecs(route: Route, dataset: DatasetSchema): Spec[] {
  const r: Route = { ...route, level: 'runs' };
  return [pageSpec(leaderboardSpec(r, dataset), 0, LEADERBOARD_PAGE), sweepStatsSpec(r, dataset)];
}

// ---------------------------------------------------------------------------------------------
// Downloads

/**
 * A windowed list as a file: every row from the first (the trade list's window is ignored by the
 * session; a breakdown or leaderboard gives its first MAX_WINDOW_ROWS groups, more than any view
 * shows).
 */
export function listDownload(spec: ListSpec): DownloadSpec {
  const { offset: _offset, ...params } = spec.params as ListSpec['params'] & { offset?: number };
  return { ...spec, params: { ...params, limit: MAX_WINDOW_ROWS } } as DownloadSpec;
}

/** The bars in view: the route's runs and range, of its sector or symbol when it has one (trade filters do not apply to bars). */
export function barsDownload(route: Route): DownloadSpec {
  const { filters: _tradeFilters, ...scope } = scopeOf(route);
  const dims = route.symbol ? { filters: { symbols: [route.symbol] } } : route.sector ? { filters: { sectors: [route.sector] } } : {};
  return { query: 'export', params: { ...scope, ...dims, table: 'bars' } };
}
