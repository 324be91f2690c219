// A terminal progress bar (phase, percent, rows, ETA) over cli-progress. When stderr is not a
// terminal it prints one plain line per phase instead, so logs and CI output stay short.
import { SingleBar, Presets } from 'cli-progress';
import { printable } from '../../shared/printable.js';

export interface ProgressUpdate {
  phase: string;
  fraction: number;
  rows?: number | null;
  totalRows?: number | null;
  etaSeconds?: number | null;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  return String(Math.round(n));
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '-';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function rowsText(u: ProgressUpdate): string {
  if (u.totalRows == null || u.totalRows <= 0) return u.rows != null && u.rows > 0 ? `${formatCount(u.rows)} rows` : '';
  return `${formatCount(u.rows ?? 0)}/${formatCount(u.totalRows)} rows`;
}

export class ProgressBar {
  private readonly bar: SingleBar | null;
  private started = false;
  private lastPhase = '';

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.bar = stream.isTTY
      ? new SingleBar(
          { stream, format: ' {bar} {percentage}% | {phase} | {rows} | ETA {etaText}', hideCursor: true },
          Presets.shades_classic,
        )
      : null;
  }

  update(u: ProgressUpdate): void;
  update(phase: string, fraction: number): void;
  update(a: ProgressUpdate | string, fraction?: number): void {
    const given: ProgressUpdate = typeof a === 'string' ? { phase: a, fraction: fraction ?? 0 } : a;
    // A phase names input files: never write their control bytes to the terminal.
    const u: ProgressUpdate = { ...given, phase: printable(given.phase, 200) };
    const value = Math.round(Math.min(1, Math.max(0, u.fraction)) * 1000);
    const payload = { phase: u.phase, rows: rowsText(u) || '-', etaText: u.etaSeconds == null ? '-' : formatDuration(u.etaSeconds) };
    if (!this.bar) {
      if (u.phase !== this.lastPhase) {
        this.lastPhase = u.phase;
        const eta = u.etaSeconds == null ? '' : `, ETA ${payload.etaText}`;
        this.stream.write(`  ${(u.fraction * 100).toFixed(0).padStart(3)}% ${u.phase}${payload.rows !== '-' ? ` (${payload.rows})` : ''}${eta}\n`);
      }
      return;
    }
    if (!this.started) {
      this.bar.start(1000, value, payload);
      this.started = true;
    } else {
      this.bar.update(value, payload);
    }
  }

  stop(): void {
    if (this.started) this.bar?.stop();
    this.started = false;
  }
}
