// Risk tiles (from `risk`): the benchmark-relative metrics against the dataset's benchmark, named,
// and the robustness of the result (the probabilistic Sharpe ratio; P&L and Sharpe without the
// best trades and symbols, every variant in the tooltip), with the risk-free rate the return
// metrics are in excess of. One value per run, colored by run when runs are overlaid.
import { memo, useLayoutEffect, useRef, useState } from 'react';
import { count, percent, pnl, pnlCompact, ratio, tone } from '../format.js';
import { markDrawn } from '../perf.js';
import { KpiTiles, type KpiTile } from './KpiTiles.js';
import type { QueryState } from '../query.js';
import { setRiskFreeRate } from '../risk-free.js';
import { num, str } from '../table.js';
import type { ColumnTable, DatasetSchema } from '../worker/types.js';


const byTone = (column: string) => (t: ColumnTable, i: number) => tone(num(t, column, i));

/** Every concentration variant, one per line: what the tooltips list. */
function concentration(t: ColumnTable, i: number): string {
  const line = (label: string, key: string) => `${label}: ${pnl(num(t, `pnl_ex_${key}`, i))}, Sharpe ${ratio(num(t, `sharpe_ex_${key}`, i))}`;
  return [
    `All ${count(num(t, 'trades', i))} trades and ${count(num(t, 'symbols', i))} symbols: ${pnl(num(t, 'total_pnl', i))}, Sharpe ${ratio(num(t, 'sharpe', i))}`,
    line('Without the best 1% of trades', 'top1pct_trades'),
    line('Without the best 5% of trades', 'top5pct_trades'),
    line('Without the best symbol', 'top1_symbols'),
    line('Without the best 5 symbols', 'top5_symbols'),
    line('Without the best 10 symbols', 'top10_symbols'),
    `Best symbols: ${str(t, 'top_symbols', i) || '—'}`,
  ].join('\n');
}

const without = (key: string, label: string): KpiTile => ({
  key: `ex_${key}`,
  label,
  value: (t, i) => pnlCompact(num(t, `pnl_ex_${key}`, i)),
  tone: byTone(`pnl_ex_${key}`),
  title: concentration,
});

const ROBUSTNESS: KpiTile[] = [
  {
    key: 'psr',
    label: 'PSR',
    value: (t, i) => percent(num(t, 'psr', i), { digits: 1 }),
    title: (t, i) =>
      `Probabilistic Sharpe ratio (Bailey & López de Prado): the probability that the true Sharpe ratio is above 0, from ${count(num(t, 'days', i))} daily returns with skew ${ratio(
        num(t, 'skew', i),
      )} and kurtosis ${ratio(num(t, 'kurtosis', i))}`,
  },
  without('top5pct_trades', 'Ex top 5% trades'),
  without('top5_symbols', 'Ex top 5 symbols'),
];

const BENCHMARK: KpiTile[] = [
  { key: 'alpha', label: 'Alpha', value: (t, i) => percent(num(t, 'alpha', i), { signed: true }), tone: byTone('alpha'), title: (t, i) => `annualised, ${count(num(t, 'benchmark_days', i))} days with a benchmark return` },
  { key: 'beta', label: 'Beta', value: (t, i) => ratio(num(t, 'beta', i)), title: (t, i) => `OLS on daily returns over ${count(num(t, 'benchmark_days', i))} days` },
  { key: 'correlation', label: 'Correlation', value: (t, i) => ratio(num(t, 'correlation', i)), title: () => 'of daily returns' },
  { key: 'information_ratio', label: 'Info ratio', value: (t, i) => ratio(num(t, 'information_ratio', i)), tone: byTone('information_ratio'), title: () => 'annualised mean active return / tracking error' },
  { key: 'tracking_error', label: 'Tracking error', value: (t, i) => percent(num(t, 'tracking_error', i)), title: () => 'annualised standard deviation of the daily active return' },
  {
    key: 'active_return',
    label: 'Active return',
    value: (t, i) => percent(num(t, 'active_return', i), { signed: true }),
    tone: byTone('active_return'),
    title: (t, i) => `annual return minus the benchmark's; the benchmark returned ${percent(num(t, 'benchmark_return', i), { signed: true })} over these days`,
  },
  {
    key: 'capture',
    label: 'Capture ↑ / ↓',
    value: (t, i) => `${ratio(num(t, 'up_capture', i))} / ${ratio(num(t, 'down_capture', i))}`,
    title: () => "annual return on the benchmark's up (down) days over the benchmark's on them",
  },
];

/** The annual risk-free rate, in percent; empty means the dataset's. */
function RiskFreeInput({ dataset, chosen }: { dataset: DatasetSchema; chosen: number | undefined }) {
  const [text, setText] = useState(chosen === undefined ? '' : String(+(chosen * 100).toFixed(6)));
  const commit = () => {
    const value = text.trim() === '' ? undefined : Number(text) / 100;
    if (value === undefined || (Number.isFinite(value) && value >= -1 && value <= 1)) setRiskFreeRate(value);
    else setText(chosen === undefined ? '' : String(+(chosen * 100).toFixed(6)));
  };
  return (
    <label className="hint risk-free" title="Annual risk-free rate that Sharpe, Sortino, alpha and the probabilistic Sharpe ratio are in excess of; empty: the dataset's (tickscope.json riskFreeRate)">
      risk-free rate{' '}
      <input
        data-testid="risk-free-rate"
        type="number"
        step="0.25"
        inputMode="decimal"
        style={{ width: '5em' }}
        placeholder={String(+(dataset.riskFreeRate * 100).toFixed(6))}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === 'Enter') commit();
        }}
      />
      %
    </label>
  );
}

export const RiskTiles = memo(function RiskTiles({ state, dataset, riskFreeRate }: { state: QueryState<'risk'>; dataset: DatasetSchema; riskFreeRate: number | undefined }) {
  const ref = useRef<HTMLDivElement>(null);
  const t = state.answer?.data;
  useLayoutEffect(() => {
    if (t) markDrawn(ref.current, !state.stale);
  }, [t, state.stale]);
  const benchmark = dataset.benchmark;
  return (
    <section className="risk" data-testid="risk-tiles" ref={ref} aria-busy={state.loading}>
      <div className="risk-head" style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'baseline', gap: 12, marginBottom: 6 }}>
        <span className="hint" title={benchmark.source}>
          vs <strong data-testid="benchmark-name">{benchmark.name}</strong>
          {benchmark.kind === 'market' ? ' (the dataset’s own symbols, equally weighted; set benchmark in tickscope.json for another)' : ''}
        </span>
        <RiskFreeInput key={String(riskFreeRate)} dataset={dataset} chosen={riskFreeRate} />
      </div>
      {state.error && !t && <div className="error-box">Could not load the risk metrics: {state.error}</div>}
      <div className="kpis">
        <KpiTiles tiles={BENCHMARK} t={t} stale={state.stale} dataset={dataset} />
        <KpiTiles tiles={ROBUSTNESS} t={t} stale={state.stale} dataset={dataset} />
      </div>
    </section>
  );
});
