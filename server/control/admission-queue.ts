// The requests waiting for a session slot: first come, first served, bounded (a full queue is a
// 503 with Retry-After), with an estimate of each place's wait from the pace at which slots have
// been freed lately.

/** Slot releases remembered for the pace; old ones say little about now. */
const PACE_SAMPLES = 12;
/** A release older than this no longer counts towards the pace. */
const PACE_WINDOW_MS = 10 * 60_000;

export class AdmissionQueue<T> {
  private readonly waiting: T[] = [];
  private readonly releases: number[] = [];
  /** Recent times from admission to ready, for the last leg of the estimate. */
  private startMs: number | null = null;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.waiting.length;
  }

  get full(): boolean {
    return this.waiting.length >= this.capacity;
  }

  /** Adds at the back; false when the queue is full. */
  push(item: T): boolean {
    if (this.full) return false;
    this.waiting.push(item);
    return true;
  }

  shift(): T | undefined {
    return this.waiting.shift();
  }

  remove(item: T): boolean {
    const index = this.waiting.indexOf(item);
    if (index < 0) return false;
    this.waiting.splice(index, 1);
    return true;
  }

  /** 1-based place, or null when not queued. */
  positionOf(item: T): number | null {
    const index = this.waiting.indexOf(item);
    return index < 0 ? null : index + 1;
  }

  items(): readonly T[] {
    return this.waiting;
  }

  /** A slot was freed (a session ended and its process exited). */
  recordRelease(now = Date.now()): void {
    this.releases.push(now);
    if (this.releases.length > PACE_SAMPLES) this.releases.shift();
  }

  /** A session took `ms` from admission to ready. */
  recordStart(ms: number): void {
    this.startMs = this.startMs === null ? ms : 0.8 * this.startMs + 0.2 * ms;
  }

  /**
   * Seconds until place `position` gets a session: `position` more slots must be freed at the
   * recent pace, then the session starts. Null with fewer than two recent releases to go by.
   */
  etaSeconds(position: number, now = Date.now()): number | null {
    const recent = this.releases.filter((t) => now - t <= PACE_WINDOW_MS);
    if (recent.length < 2) return null;
    const intervalMs = (recent.at(-1)! - recent[0]!) / (recent.length - 1);
    // Counted from the last release, not from now: a slot is due one interval after it.
    const sinceLast = now - recent.at(-1)!;
    const waitMs = Math.max(0, position * intervalMs - sinceLast) + (this.startMs ?? 0);
    return Math.round(waitMs / 100) / 10;
  }
}
