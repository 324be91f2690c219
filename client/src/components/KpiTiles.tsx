// A row of KPI tiles over a per-run answer (summary, risk): one value per run in each tile, with the
// run's color dot when several runs are shown, a skeleton until the answer is there.
import { runColorOf, runTitle } from '../runs.js';
import { useTheme } from '../theme.js';
import type { ColumnTable, DatasetSchema } from '../worker/types.js';
import { str } from '../table.js';

export interface KpiTile {
  key: string;
  label: string;
  /**
   * What it is computed on, where two definitions could disagree ("end of day" against the
   * drawdown chart's bars, "trades" against "days"): shown beside the label.
   */
  basis?: string;
  value: (t: ColumnTable, i: number) => string;
  tone?: (t: ColumnTable, i: number) => string;
  /** The tooltip; the value itself when absent. */
  title?: (t: ColumnTable, i: number) => string;
}

export function KpiTiles({ tiles, t, dataset, stale = false }: { tiles: readonly KpiTile[]; t: ColumnTable | undefined; dataset: DatasetSchema; stale?: boolean }) {
  const theme = useTheme();
  const rows = t ? Array.from({ length: t.length }, (_, i) => i) : [];
  const multi = rows.length > 1;
  return (
    <>
      {tiles.map((tile) => (
        <div className={`kpi${stale ? ' stale' : ''}`} key={tile.key} data-kpi={tile.key}>
          <div className="kpi-label" title={tile.basis ? `${tile.label}, ${tile.basis}` : tile.label}>
            {tile.label}
            {tile.basis && <span className="kpi-basis"> · {tile.basis}</span>}
          </div>
          {t ? (
            rows.map((i) => {
              const runId = str(t, 'run_id', i);
              return (
                <div key={runId} className={`kpi-value ${tile.tone ? tile.tone(t, i) : ''}`} title={`${multi ? `${runTitle(dataset, runId)}: ` : ''}${tile.title?.(t, i) ?? tile.value(t, i)}`}>
                  {multi && <span className="dot" style={{ background: runColorOf(dataset, runId, theme) }} />}
                  {tile.value(t, i)}
                </div>
              );
            })
          ) : (
            <div className="kpi-value">
              <span className="skeleton-bar" />
            </div>
          )}
        </div>
      ))}
    </>
  );
}
