// "Download" beside a table: the table's whole answer (for the trade list, every trade in scope
// in its sort; for a view's bars, the bars in view) as CSV, Parquet or an Arrow stream, with the
// view's range and filters. The session writes the file, the worker gathers it in the browser's
// blob store; this only shows progress, offers a cancel, and saves the result under the name the
// session gave it.
import * as Comlink from 'comlink';
import { useEffect, useRef, useState } from 'react';
import { DOWNLOAD_FORMATS, type DownloadFormat } from '../../../shared/constants.js';
import { errorKind } from '../errors.js';
import { bytes as formatBytes, count } from '../format.js';
import { session } from '../session.js';
import type { DownloadProgress, DownloadSpec } from '../worker/types.js';

const LABELS: Record<DownloadFormat, string> = { csv: 'CSV', parquet: 'Parquet', arrow: 'Arrow' };

type State =
  | { kind: 'idle' }
  | { kind: 'running'; format: DownloadFormat; ticket: string; progress: DownloadProgress | null }
  | { kind: 'failed'; message: string };

let tickets = 0;

/** Hands the file to the browser's own download: saved to disk from the blob store, not copied. */
function save(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.style.display = 'none';
  document.body.append(link);
  link.click();
  link.remove();
  // The download has started from the URL; the blob can go once the browser has it.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function DownloadMenu({ spec, testId, what, label }: { spec: DownloadSpec | null; testId: string; what: string; label?: string }) {
  const [open, setOpen] = useState(false);
  const [state, setState] = useState<State>({ kind: 'idle' });
  const root = useRef<HTMLDivElement>(null);
  const running = state.kind === 'running' ? state.ticket : null;

  useEffect(() => {
    if (!open) return;
    const close = (event: PointerEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', close);
    return () => document.removeEventListener('pointerdown', close);
  }, [open]);
  // A download does not outlive its table.
  useEffect(() => () => void (running && session.cancelDownload(running)), [running]);

  const start = async (format: DownloadFormat) => {
    if (!spec) return;
    setOpen(false);
    const ticket = `download-${++tickets}`;
    setState({ kind: 'running', format, ticket, progress: null });
    const onProgress = Comlink.proxy((progress: DownloadProgress) =>
      setState((s) => (s.kind === 'running' && s.ticket === ticket ? { ...s, progress } : s)),
    );
    try {
      const file = await session.download(spec, format, ticket, onProgress);
      save(file.blob, file.name);
      setState({ kind: 'idle' });
    } catch (error) {
      setState(errorKind(error) === 'aborted' ? { kind: 'idle' } : { kind: 'failed', message: (error as Error).message });
    }
  };

  return (
    <div className="download" ref={root} data-testid={testId}>
      {state.kind === 'running' ? (
        <span className="download-progress" data-testid={`${testId}-progress`} role="status">
          {LABELS[state.format]}: {state.progress ? `${formatBytes(state.progress.bytes)} · ${count(state.progress.rows)} rows` : "writing the file…"}
          <button type="button" className="link" onClick={() => session.cancelDownload(state.ticket)} data-testid={`${testId}-cancel`}>
            cancel
          </button>
        </span>
      ) : (
        <button
          type="button"
          className="link"
          disabled={!spec}
          aria-haspopup="menu"
          aria-expanded={open}
          title={`download ${what} with the current range and filters`}
          onClick={() => setOpen((o) => !o)}
          data-testid={`${testId}-button`}
        >
          Download{label ? ` ${label}` : ''} ▾
        </button>
      )}
      {state.kind === 'failed' && (
        <span className="download-error" role="alert" title={state.message}>
          download failed
        </span>
      )}
      {open && (
        <ul className="download-menu" role="menu">
          {DOWNLOAD_FORMATS.map((format) => (
            <li key={format} role="none">
              <button type="button" role="menuitem" onClick={() => void start(format)} data-testid={`${testId}-${format}`}>
                {LABELS[format]}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
