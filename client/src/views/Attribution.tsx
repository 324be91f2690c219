// "Explain this range": the attribution of the route's range (from `attribution`) as a waterfall
// of sector contributions summing to the range's P&L; a click on a sector shows its symbols', a
// click on a symbol opens it with its trades in the range. Under each, the split into what the
// positions held at the range's start made and what trading inside the range made.
import { memo, useLayoutEffect, useMemo, useRef } from 'react';
import { Card } from '../components/Card.js';
import { Waterfall, type WaterfallPart } from '../components/Waterfall.js';
import { count, pnl, pnlCompact } from '../format.js';
import { markDrawn } from '../perf.js';
import { useQuery } from '../query.js';
import { navigate, type Route } from '../route.js';
import { runLabel } from '../runs.js';
import { attributionSpec } from '../specs.js';
import { num, str } from '../table.js';
import type { DatasetSchema } from '../worker/types.js';
import { QueryNote } from './common.js';
import { DownloadMenu } from '../components/DownloadMenu.js';

interface RunParts {
  run: string;
  parts: WaterfallPart[];
  held: number;
  traded: number;
  trades: number;
}

export const Attribution = memo(function Attribution({ route, dataset }: { route: Route; dataset: DatasetSchema }) {
  const sector = route.explain?.sector;
  const state = useQuery(attributionSpec(route, sector), { name: 'overview.attribution' });
  const ref = useRef<HTMLDivElement>(null);
  const t = state.answer?.data;
  useLayoutEffect(() => {
    if (t) markDrawn(ref.current, !state.stale);
  }, [t, state.stale]);

  const runs = useMemo((): RunParts[] => {
    if (!t) return [];
    const byRun = new Map<string, RunParts>();
    for (let i = 0; i < t.length; i++) {
      const run = str(t, 'run_id', i);
      const r = byRun.get(run) ?? byRun.set(run, { run, parts: [], held: 0, traded: 0, trades: 0 }).get(run)!;
      const held = num(t, 'held_pnl', i);
      const traded = num(t, 'traded_pnl', i);
      const trades = num(t, 'trades', i);
      const key = str(t, 'key', i);
      r.parts.push({
        key,
        label: key,
        value: num(t, 'pnl', i),
        detail: `held ${pnlCompact(held)} · traded ${pnlCompact(traded)} · ${count(trades)} trades`,
        clickable: true,
      });
      r.held += held;
      r.traded += traded;
      r.trades += trades;
    }
    return [...byRun.values()];
  }, [t]);

  const onSelect = (key: string) => {
    if (sector === undefined) navigate({ ...route, explain: { sector: key } });
    else navigate({ ...route, level: 'symbol', symbol: key, sector, via: undefined, trade: undefined });
  };

  const title = sector === undefined ? 'What made this range: P&L by sector' : `What made this range: ${sector} by symbol`;
  return (
    <Card
      title={title}
      aside={
        <span className="hint">
          <QueryNote state={state} />
          <DownloadMenu spec={attributionSpec(route, sector)} testId="attribution-download" what="this attribution" />
        </span>
      }
      data-testid="attribution"
      data-sector={sector ?? ''}
    >
      <div ref={ref} className={state.stale ? 'stale' : undefined} data-testid="attribution-body">
        {state.error && <div className="error-box">Could not explain this range: {state.error}</div>}
        {!t && !state.error && <div className="chart-placeholder static">Loading…</div>}
        {t && runs.length === 0 && <div className="empty-state small">No P&L in this range{sector ? ` for ${sector}` : ''}.</div>}
        {runs.map((r) => (
          <div key={r.run} data-run={r.run}>
            {runs.length > 1 && <h3>{runLabel(dataset, r.run)}</h3>}
            <div className="attribution-split">
              <span title="Each symbol's position at the range's start, held unchanged and marked at its last price in the range">
                Held at the start: <strong className={r.held >= 0 ? 'pos' : 'neg'}>{pnl(r.held)}</strong>
              </span>
              <span title="The rest: every position change inside the range (trades opened, added to, cut, closed) and the fees">
                Traded in the range: <strong className={r.traded >= 0 ? 'pos' : 'neg'}>{pnl(r.traded)}</strong>
              </span>
              <span>{count(r.trades)} trades closed</span>
            </div>
            <Waterfall
              testId={`waterfall-${r.run}`}
              parts={r.parts}
              totalLabel={sector === undefined ? 'Range P&L' : `${sector} P&L`}
              format={pnl}
              onSelect={onSelect}
            />
          </div>
        ))}
        <div className="attribution-actions">
          {sector !== undefined && (
            <button type="button" className="link" data-testid="attribution-up" onClick={() => navigate({ ...route, explain: {} })}>
              ← all sectors
            </button>
          )}
          <button
            type="button"
            className="link"
            onClick={() =>
              navigate(
                sector === undefined
                  ? { ...route, level: 'trades', sector: undefined, symbol: undefined, trade: undefined, via: undefined }
                  : { ...route, level: 'trades', sector, symbol: undefined, trade: undefined, via: undefined },
              )
            }
          >
            {sector === undefined ? 'The trades closed in this range →' : `The trades of ${sector} closed in this range →`}
          </button>
          <button type="button" className="link" data-testid="attribution-close" onClick={() => navigate({ ...route, explain: undefined })}>
            Close
          </button>
        </div>
      </div>
    </Card>
  );
});
