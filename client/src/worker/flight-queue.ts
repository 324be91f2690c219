// The flights not sent yet, and the order they go out in: what a view waits for first (in ask
// order), then prefetches, the newest first (the pointer's latest row is the likeliest next
// click), then low-priority asks (sparklines).

/** What the queue needs to know of a flight. */
export interface Queued {
  /** Scheduled after everything else, few at a time (prefetches, low-priority asks). */
  low: boolean;
  /** A prefetch: finishes into the cache even when nobody waits for it. */
  keep: boolean;
}

export class FlightQueue<F extends Queued> {
  private readonly flights: F[] = [];

  has(flight: F): boolean {
    return this.flights.includes(flight);
  }

  /** Queues a flight behind the others. */
  push(...flights: F[]): void {
    this.flights.push(...flights);
  }

  /** Queues flights ahead of the others (a send that failed, a flight someone now waits for). */
  pushFront(...flights: F[]): void {
    this.remove(...flights);
    this.flights.unshift(...flights);
  }

  remove(...flights: F[]): void {
    for (const flight of flights) {
      const at = this.flights.indexOf(flight);
      if (at >= 0) this.flights.splice(at, 1);
    }
  }

  /** What views wait for, in ask order. */
  urgent(): F[] {
    return this.flights.filter((f) => !f.low);
  }

  /**
   * Background work in the order it goes out: prefetches the newest first, then low-priority
   * asks. The caller sends from the front and stops at the first it cannot send, so a low ask
   * never goes while a prefetch waits.
   */
  background(): F[] {
    const prefetches = this.flights.filter((f) => f.low && f.keep).reverse();
    return [...prefetches, ...this.flights.filter((f) => f.low && !f.keep)];
  }

  /** A snapshot, safe to iterate while flights are removed. */
  all(): F[] {
    return [...this.flights];
  }
}
