// The data-quality notice: what preparation dropped from the dataset (onBadRows "drop") and what
// it found without changing anything (e.g. trades that do not reconcile with the bars), with
// counts and the first examples, so numbers computed without those rows are never a surprise.
import type { DataQualityEntry } from '../../../shared/http-api.js';
import { count } from '../format.js';

export function DataQualityNotice({ entries }: { entries: readonly DataQualityEntry[] }) {
  if (entries.length === 0) return null;
  const dropped = entries.filter((e) => e.kind === 'dropped');
  const findings = entries.filter((e) => e.kind !== 'dropped');
  const droppedRows = dropped.reduce((n, e) => n + e.count, 0);
  const summary = [
    dropped.length ? `${count(droppedRows)} bad row${droppedRows === 1 ? '' : 's'} dropped at preparation` : null,
    findings.length ? `${count(findings.length)} data-quality finding${findings.length === 1 ? '' : 's'}` : null,
  ]
    .filter(Boolean)
    .join(' · ');
  return (
    <details className="banner banner-warn data-quality" data-testid="data-quality">
      <summary>
        <strong>Data quality:</strong> {summary}
      </summary>
      <ul>
        {entries.map((e, i) => (
          <li key={i}>
            <strong>
              {e.kind === 'dropped' ? 'dropped' : 'found'} {count(e.count)}
            </strong>{' '}
            {e.table}
            {e.column ? `.${e.column}` : ''}: {e.problem} — {e.message}
            {e.examples.length > 0 && (
              <ul className="data-quality-examples">
                {e.examples.map((x, j) => (
                  <li key={j}>
                    <code>{x}</code>
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ul>
    </details>
  );
}
