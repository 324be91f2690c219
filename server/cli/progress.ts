// A terminal progress bar (phase, percent, ETA) over cli-progress; silent when stderr is not a
// terminal, so logs and CI output stay clean.
import { SingleBar, Presets } from 'cli-progress';

export class ProgressBar {
  private readonly bar: SingleBar | null;
  private started = false;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.bar = stream.isTTY
      ? new SingleBar(
          { stream, format: ' {bar} {percentage}% | {phase} | ETA {eta_formatted}', hideCursor: true, etaBuffer: 20 },
          Presets.shades_classic,
        )
      : null;
  }

  update(phase: string, fraction: number): void {
    if (!this.bar) return;
    const value = Math.round(Math.min(1, Math.max(0, fraction)) * 1000);
    if (!this.started) {
      this.bar.start(1000, value, { phase });
      this.started = true;
    } else {
      this.bar.update(value, { phase });
    }
  }

  stop(): void {
    if (this.started) this.bar?.stop();
    this.started = false;
  }
}
