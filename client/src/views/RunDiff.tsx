// Two runs compared trade by trade (`rundiff`): the totals, the difference of their P&L
// attributed by sector (summing exactly to it) and by symbol, the matched trades (same symbol,
// overlapping holding periods) by their P&L difference, and the trades only one of them made.
// A trade opens as in the trade list: its symbol zoomed to it.
import { useCallback, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { Card } from '../components/Card.js';
import { VirtualTable, type RowRef, type TableColumn } from '../components/VirtualTable.js';
import { Waterfall, type WaterfallPart } from '../components/Waterfall.js';
import { zoneLabel } from '../display-zone.js';
import { count, dateTimeShort, duration, percent, pnl, pnlCompact, tone } from '../format.js';
import { markDrawn } from '../perf.js';
import { pinRun, type PinState } from '../pinned-runs.js';
import { useQuery } from '../query.js';
import { navigate, type Route } from '../route.js';
import { runColorOf, runLabel, runTitle } from '../runs.js';
import { rundiffSpec, tradeRoute } from '../specs.js';
import { num, str } from '../table.js';
import { useTheme } from '../theme.js';
import type { ColumnTable, DatasetSchema } from '../worker/types.js';
import { QueryNote } from './common.js';
import './sweep.css';

/** Most symbols drawn in the symbol waterfall; the rest are one row. */
const SYMBOL_ROWS = 20;

/** A whole (small) answer as a VirtualTable's rows. */
function staticRows(table: ColumnTable | undefined) {
  return {
    total: table ? table.length : null,
    getRow: (index: number): RowRef | undefined => (table && index < table.length ? { table, i: index, index } : undefined),
    version: table,
  };
}

/** The listed parts, plus one row for what the list left out, so the parts sum to `total`. */
function withRest(parts: WaterfallPart[], total: number, label: string): WaterfallPart[] {
  const listed = parts.reduce((a, p) => a + p.value, 0);
  const rest = total - listed;
  return Math.abs(rest) > 1e-9 * Math.max(1, Math.abs(total)) ? [...parts, { key: '', label, value: rest }] : parts;
}

export function RunDiff({ route, dataset, pin }: { route: Route; dataset: DatasetSchema; pin: PinState }) {
  const theme = useTheme();
  const a = route.diff!.a;
  const b = route.diff!.b;
  const state = useQuery(rundiffSpec(route, a, b), { name: 'diff' });
  const ref = useRef<HTMLDivElement>(null);
  const d = state.answer?.data;
  useLayoutEffect(() => {
    if (d) markDrawn(ref.current, !state.stale);
  }, [d, state.stale]);
  const [sector, setSector] = useState<string | null>(null);

  const choices = [...new Set([...(pin.pinned ?? []), a, b])];
  const choose = (which: 'a' | 'b', run: string) => {
    const next = which === 'a' ? { a: run, b: run === b ? a : b } : { a: run === a ? b : a, b: run };
    setSector(null);
    navigate({ ...route, diff: next }, { urgent: true });
  };

  const summary = d?.summary;
  const s = summary && summary.length > 0 ? (column: string) => num(summary, column, 0) : null;

  const sectorParts = useMemo((): WaterfallPart[] => {
    const t = d?.sectors;
    if (!t) return [];
    const parts: WaterfallPart[] = [];
    for (let i = 0; i < t.length; i++) {
      const key = str(t, 'sector', i);
      parts.push({ key, label: key, value: num(t, 'difference', i), detail: `A ${pnlCompact(num(t, 'a_pnl', i))} · B ${pnlCompact(num(t, 'b_pnl', i))}`, clickable: true });
    }
    return parts;
  }, [d]);

  const symbolParts = useMemo((): { parts: WaterfallPart[]; total: number } => {
    const t = d?.symbols;
    if (!t || !s) return { parts: [], total: 0 };
    const inSector = (i: number) => sector === null || str(t, 'sector', i) === sector;
    const parts: WaterfallPart[] = [];
    for (let i = 0; i < t.length && parts.length < SYMBOL_ROWS; i++) {
      if (!inSector(i)) continue;
      const key = str(t, 'symbol', i);
      parts.push({ key, label: key, value: num(t, 'difference', i), detail: `A ${pnlCompact(num(t, 'a_pnl', i))} · B ${pnlCompact(num(t, 'b_pnl', i))}`, clickable: true });
    }
    const sectorPart = sector === null ? null : sectorParts.find((p) => p.key === sector);
    const total = sectorPart ? sectorPart.value : s('pnl_difference');
    return { parts: withRest(parts, total, `other symbols${sector ? ` of ${sector}` : ''}`), total };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [d, sector, sectorParts]);

  const open = useCallback(
    (run: string, t: ColumnTable, i: number, prefix = '') => {
      const withRun = pinRun(route, dataset, pin.defaults, run) ?? { ...route, runs: [a, b] };
      navigate(
        tradeRoute(
          withRun,
          {
            run,
            id: num(t, `${prefix}trade_id`, i),
            symbol: str(t, 'symbol', i),
            entryTs: num(t, `${prefix}entry_ts`, i),
            exitTs: num(t, `${prefix}exit_ts`, i),
          },
          'trades',
        ),
      );
    },
    [route, dataset, pin.defaults, a, b],
  );

  const tradeColumns = useMemo((): TableColumn[] => {
    const n = (column: string, f: (v: number) => string, signed = false) => (r: RowRef) => {
      const v = num(r.table, column, r.i);
      return signed ? <span className={tone(v)}>{f(v)}</span> : f(v);
    };
    return [
      { key: 'symbol', label: 'Symbol', width: 76, cell: (r) => <span className="strong">{str(r.table, 'symbol', r.i)}</span> },
      { key: 'pnl', label: 'P&L', width: 96, align: 'right', cell: n('pnl', pnl, true) },
      { key: 'ret', label: 'Return', width: 72, align: 'right', cell: n('ret', (v) => percent(v, { signed: true }), true) },
      { key: 'side', label: 'Side', width: 52, cell: (r) => <span className={`side side-${str(r.table, 'side', r.i)}`}>{str(r.table, 'side', r.i)}</span> },
      { key: 'entry_ts', label: `Entry (${zoneLabel()})`, width: 118, cell: n('entry_ts', dateTimeShort) },
      { key: 'exit_ts', label: `Exit (${zoneLabel()})`, width: 118, cell: n('exit_ts', dateTimeShort) },
      { key: 'qty', label: 'Qty', width: 70, align: 'right', cell: n('qty', count) },
      { key: 'trade_id', label: 'ID', width: 64, align: 'right', cell: n('trade_id', (v) => String(v)) },
    ];
  }, []);

  const matchedColumns = useMemo((): TableColumn[] => {
    const n = (column: string, f: (v: number) => string, signed = false) => (r: RowRef) => {
      const v = num(r.table, column, r.i);
      return signed ? <span className={tone(v)}>{f(v)}</span> : f(v);
    };
    return [
      { key: 'symbol', label: 'Symbol', width: 76, cell: (r) => <span className="strong">{str(r.table, 'symbol', r.i)}</span> },
      { key: 'sector', label: 'Sector', width: 130, cell: (r) => str(r.table, 'sector', r.i) },
      { key: 'pnl_difference', label: 'A − B', width: 96, align: 'right', cell: n('pnl_difference', pnl, true) },
      { key: 'a_pnl', label: 'A P&L', width: 96, align: 'right', cell: n('a_pnl', pnl, true) },
      { key: 'b_pnl', label: 'B P&L', width: 96, align: 'right', cell: n('b_pnl', pnl, true) },
      { key: 'sides', label: 'Sides', width: 90, cell: (r) => `${str(r.table, 'a_side', r.i)} / ${str(r.table, 'b_side', r.i)}` },
      { key: 'a_entry_ts', label: `A entry (${zoneLabel()})`, width: 118, cell: n('a_entry_ts', dateTimeShort) },
      { key: 'b_entry_ts', label: `B entry (${zoneLabel()})`, width: 118, cell: n('b_entry_ts', dateTimeShort) },
      { key: 'overlap_ms', label: 'Overlap', width: 70, align: 'right', cell: n('overlap_ms', duration) },
      { key: 'a_trade_id', label: 'A trade', width: 64, align: 'right', cell: n('a_trade_id', (v) => String(v)) },
      { key: 'b_trade_id', label: 'B trade', width: 64, align: 'right', cell: n('b_trade_id', (v) => String(v)) },
    ];
  }, []);

  const dot = (run: string) => <span className="dot" style={{ background: runColorOf(dataset, run, theme) }} />;
  const shownOf = (t: ColumnTable | undefined, total: number | undefined) =>
    t && total !== undefined && total > t.length ? ` · the ${count(t.length)} largest of ${count(total)}` : total !== undefined ? ` · ${count(total)}` : '';

  return (
    <div className="view rundiff" data-testid="rundiff-view" data-a={a} data-b={b}>
      <Card
        title={
          <>
            {dot(a)} {runLabel(dataset, a)} vs {dot(b)} {runLabel(dataset, b)}
          </>
        }
        aside={
          <span className="hint compare-runs">
            A{' '}
            <select aria-label="Run A" data-testid="rundiff-a" value={a} onChange={(e) => choose('a', e.target.value)}>
              {choices.map((r) => (
                <option key={r} value={r}>
                  {runLabel(dataset, r)}
                </option>
              ))}
            </select>{' '}
            B{' '}
            <select aria-label="Run B" data-testid="rundiff-b" value={b} onChange={(e) => choose('b', e.target.value)}>
              {choices.map((r) => (
                <option key={r} value={r}>
                  {runLabel(dataset, r)}
                </option>
              ))}
            </select>{' '}
            <QueryNote state={state} />
          </span>
        }
      >
        <div ref={ref} className={state.stale ? 'stale' : undefined} data-testid="rundiff-body">
          {state.error && <div className="error-box">Could not compare {runTitle(dataset, a)} with {runTitle(dataset, b)}: {state.error}</div>}
          {!d && !state.error && <div className="chart-placeholder static">Loading…</div>}
          {s && (
            <div
              className="rundiff-summary"
              data-testid="rundiff-summary"
              data-a-pnl={s('a_pnl')}
              data-b-pnl={s('b_pnl')}
              data-difference={s('pnl_difference')}
              data-matched={s('matched')}
              data-only-a={s('only_a')}
              data-only-b={s('only_b')}
            >
              <span>
                A: <strong className={tone(s('a_pnl'))}>{pnl(s('a_pnl'))}</strong> over {count(s('a_trades'))} trades
              </span>
              <span>
                B: <strong className={tone(s('b_pnl'))}>{pnl(s('b_pnl'))}</strong> over {count(s('b_trades'))} trades
              </span>
              <span>
                A − B: <strong className={tone(s('pnl_difference'))}>{pnl(s('pnl_difference'))}</strong>
              </span>
              <span title="Pairs of trades of the same symbol whose holding periods overlap, matched one to one by largest overlap">
                {count(s('matched'))} matched trades, A − B <span className={tone(s('matched_pnl_difference'))}>{pnl(s('matched_pnl_difference'))}</span>
              </span>
              <span>
                only in A: {count(s('only_a'))} (<span className={tone(s('only_a_pnl'))}>{pnl(s('only_a_pnl'))}</span>)
              </span>
              <span>
                only in B: {count(s('only_b'))} (<span className={tone(s('only_b_pnl'))}>{pnl(s('only_b_pnl'))}</span>)
              </span>
            </div>
          )}
          {d && s && (
            <div className="rundiff-grid">
              <div>
                <h3>A − B by sector</h3>
                <Waterfall testId="rundiff-sectors" parts={sectorParts} totalLabel="A − B" format={pnl} onSelect={(key) => setSector(key === sector ? null : key)} />
              </div>
              <div>
                <h3>
                  A − B by symbol{sector ? ` in ${sector}` : ''}{' '}
                  {sector && (
                    <button type="button" className="link" onClick={() => setSector(null)}>
                      all sectors
                    </button>
                  )}
                </h3>
                <Waterfall
                  testId="rundiff-symbols"
                  parts={symbolParts.parts}
                  totalLabel={sector ? `${sector} A − B` : 'A − B'}
                  format={pnl}
                  maxRows={SYMBOL_ROWS + 1}
                  onSelect={(symbol) => navigate({ ...route, level: 'symbol', symbol, sector: undefined, via: 'symbols', trade: undefined })}
                />
              </div>
            </div>
          )}
        </div>
      </Card>
      {d && s && (
        <>
          <Card title="Matched trades" aside={<span className="hint">by |A − B|{shownOf(d.matched, s('matched'))} · click to open A’s trade</span>}>
            <VirtualTable
              testId="rundiff-matched"
              {...staticRows(d.matched)}
              label="Matched trades"
              columns={matchedColumns}
              height={Math.min(360, 26 * Math.max(3, d.matched.length) + 4)}
              onActivate={(r) => open(a, r.table, r.i, 'a_')}
              empty="No trade of A overlaps a trade of B in the same symbol."
            />
          </Card>
          <div className="rundiff-grid">
            {(['a', 'b'] as const).map((side) => {
              const run = side === 'a' ? a : b;
              const other = side === 'a' ? 'B' : 'A';
              const rows = side === 'a' ? d.only_a : d.only_b;
              return (
                <Card key={side} title={<>Only in {dot(run)} {runLabel(dataset, run)}</>} aside={<span className="hint">by |P&L|{shownOf(rows, s(`only_${side}`))}</span>}>
                  <VirtualTable
                    testId={`rundiff-only-${side}`}
                    {...staticRows(rows)}
                    label={`Trades only in ${side.toUpperCase()}`}
                    columns={tradeColumns}
                    height={Math.min(360, 26 * Math.max(3, rows.length) + 4)}
                    onActivate={(r) => open(run, r.table, r.i)}
                    empty={`Every trade of ${side.toUpperCase()} has a match in ${other}.`}
                  />
                </Card>
              );
            })}
          </div>
        </>
      )}
    </div>
  );
}
