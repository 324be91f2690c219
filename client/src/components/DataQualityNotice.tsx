// The data-quality notice: what preparation dropped from the dataset (onBadRows "drop"), what
// it found without changing anything (e.g. trades that do not reconcile with the bars), with
// counts and the first examples, and the input files it did not read (a .7z, a cut-off .xz), each
// with why: so numbers computed without those rows or files are never a surprise.
import type { DataQualityEntry } from '../../../shared/http-api.js';
import { count } from '../format.js';

export function DataQualityNotice({ entries, notRead }: { entries: readonly DataQualityEntry[]; notRead: readonly string[] }) {
  if (entries.length === 0 && notRead.length === 0) return null;
  const dropped = entries.filter((e) => e.kind === 'dropped');
  const findings = entries.filter((e) => e.kind !== 'dropped');
  const droppedRows = dropped.reduce((n, e) => n + e.count, 0);
  const summary = [
    dropped.length ? `${count(droppedRows)} bad row${droppedRows === 1 ? '' : 's'} dropped at preparation` : null,
    findings.length ? `${count(findings.length)} data-quality finding${findings.length === 1 ? '' : 's'}` : null,
    notRead.length ? `${count(notRead.length)} input file${notRead.length === 1 ? '' : 's'} not read` : null,
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
        {notRead.map((file, i) => (
          <li key={`not-read-${i}`} data-testid="not-read">
            <strong>not read</strong> {file}
          </li>
        ))}
      </ul>
    </details>
  );
}
