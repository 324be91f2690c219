// The session's queries, whatever carries them. This core is given a `send` function and told
// what the server says; the connection (connection.ts) owns the socket. It joins identical asks
// into one flight, sends flights by priority (what a view waits for preempts background work),
// cancels what nobody waits for any more, decodes answers into the byte-bounded cache, answers
// from that cache, and cuts previews of zooms from coarser cached data. No DOM: it runs in the
// worker and under the unit tests in Node.
import { tableFromIPC } from 'apache-arrow';
import { errorMessage } from '../../../shared/errors.js';
import {
  clientMessageValidator,
  type ClientMessage,
  type DatasetSchema,
  type DoneMessage,
  type ErrorMessage,
  type QueryRequest,
} from '../../../shared/messages.js';
import { askError, kindOfCode } from '../errors.js';
import { manyRuns } from '../pinned-runs.js';
import { specKey } from '../spec-key.js';
import { answerFrom, cutFromCache, entryOf } from './answers.js';
import { AnswerCache, type Entry } from './cache.js';
import type { Frame } from './decode.js';
import { FlightQueue } from './flight-queue.js';
import type { Answer, AskOptions, AskQuery, CacheStats, Spec } from './types.js';

export interface SchedulerOptions {
  /** Puts a message on the wire; throws when there is no wire (the flight stays queued). */
  send(message: ClientMessage): void;
  /** Decoded answers kept for instant re-use (back, zoom out, scroll back, hover then click). */
  cacheBytes: number;
  /** Requests in flight at most (the server allows 32 per socket). */
  maxInFlight: number;
  /** Background flights in flight at most, so a click is never queued behind them. */
  maxBackgroundInFlight: number;
  /** How long to wait before asking again when the server was too busy. */
  overloadedRetryMs: number;
}

/** One ask waiting for a flight's answer. */
interface Waiter {
  flight: Flight;
  /** The view slot it holds: a newer ask in the slot supersedes it. */
  view: string | undefined;
  askedAt: number;
  resolve(answer: Answer): void;
  reject(error: Error): void;
}

/** One distinct query in progress, shared by every ask (and prefetch) that wants it. */
interface Flight {
  key: string;
  spec: Spec;
  /** Request id while on the wire; null while queued (before the first send or after a reconnect). */
  id: number | null;
  frames: Frame[];
  waiters: Set<Waiter>;
  /** Scheduled after everything else, few at a time (prefetches, low-priority asks). */
  low: boolean;
  /** A prefetch: finishes into the cache even when nobody waits for it. */
  keep: boolean;
  /** The prefetch group that asked for it. */
  group: string | null;
  /** When its request last went out (performance.now()); null while queued. */
  sentAt: number | null;
}

/**
 * up: hello received, flights go out. down: no wire now, flights wait for the next hello.
 * lost: asks are refused until the connection tries again.
 */
type Link = 'up' | 'down' | 'lost';

export class QueryScheduler {
  private readonly cache: AnswerCache;
  private readonly flights = new Map<string, Flight>(); // by cache key
  private readonly wire = new Map<number, Flight>(); // sent, by request id, in send order
  private readonly slots = new Map<string, Waiter>(); // by view slot
  private readonly queue = new FlightQueue<Flight>();
  private readonly counts = { hits: 0, previews: 0, misses: 0, prefetched: 0, preempted: 0 };
  private nextRequestId = 1;
  private link: Link = 'down';
  private dataset: DatasetSchema | undefined;
  /** The first view's prefetches, until the hello says which runs it shows (prefetchFirstView). */
  private firstView: Spec[] | null = null;

  constructor(private readonly options: SchedulerOptions) {
    this.cache = new AnswerCache(options.cacheBytes);
  }

  // -------------------------------------------------------------------------------------------
  // The views' side

  ask<Q extends AskQuery>(typed: Spec<Q>, opts: AskOptions = {}): Promise<Answer<Q>> {
    const spec = typed as Spec;
    const askedAt = performance.now();
    if (opts.view) {
      const previous = this.slots.get(opts.view);
      if (previous) this.detach(previous, `superseded by a newer ${spec.query} request`);
    }
    return new Promise<Answer<Q>>((resolve, reject) => {
      const invalid = validate(spec);
      if (invalid) {
        reject(askError('bad-params', `${spec.query}: ${invalid}`));
        return;
      }
      if (this.link === 'lost') {
        reject(askError('connection', `${spec.query}: the session is lost`));
        return;
      }
      const key = specKey(spec);
      const cached = this.cache.get(key);
      if (cached) {
        this.counts.hits++;
        resolve(answerFrom(cached, askedAt, { cached: true }) as Answer<Q>);
        return;
      }
      this.counts.misses++;
      const low = opts.priority === 'low';
      let flight = this.flights.get(key);
      if (!flight) {
        flight = { key, spec, id: null, frames: [], waiters: new Set(), low, keep: false, group: null, sentAt: null };
        this.flights.set(key, flight);
        this.queue.push(flight);
      } else if (flight.low && !low) {
        // Someone wants it now: it stops being low priority (and jumps the queue).
        flight.low = false;
        if (this.queue.has(flight)) this.queue.pushFront(flight);
      }
      const waiter: Waiter = { flight, view: opts.view, askedAt, resolve: resolve as (a: Answer) => void, reject };
      flight.waiters.add(waiter);
      if (opts.view) this.slots.set(opts.view, waiter);
      this.pump();
    });
  }

  /**
   * What the cache can say at once: the exact answer, or for a time series zoomed inside a range
   * already cached, that data cut to the range (approximate, provisional). Null otherwise.
   */
  preview<Q extends AskQuery>(typed: Spec<Q>): Answer<Q> | null {
    const spec = typed as Spec;
    const askedAt = performance.now();
    const exact = this.cache.get(specKey(spec));
    if (exact) return answerFrom(exact, askedAt, { cached: true }) as Answer<Q>;
    const cut = cutFromCache(this.cache, spec, this.dataset, askedAt);
    if (cut) this.counts.previews++;
    return cut as Answer<Q> | null;
  }

  /** Fetches into the cache at low priority; a newer prefetch of `group` drops its older unsent ones. */
  prefetch(specs: Spec[], group: string): void {
    const wanted = new Set<string>();
    for (const spec of specs) {
      if (validate(spec)) continue;
      const key = specKey(spec);
      wanted.add(key);
      if (this.cache.has(key) || this.flights.has(key)) continue;
      const flight: Flight = { key, spec, id: null, frames: [], waiters: new Set(), low: true, keep: true, group, sentAt: null };
      this.flights.set(key, flight);
      this.queue.push(flight);
    }
    // The pointer moved on: drop this group's earlier prefetches that were not sent yet.
    for (const flight of this.queue.all()) {
      if (flight.keep && flight.group === group && !wanted.has(flight.key) && flight.waiters.size === 0) this.drop(flight, 'prefetch no longer wanted');
    }
    this.pump();
  }

  /**
   * The first view's queries, asked before the hello (main.tsx): prefetched as group 'boot' once
   * the dataset is known, a spec naming no runs with the default pin on a dataset of many runs.
   */
  prefetchFirstView(specs: Spec[]): void {
    if (this.dataset) this.prefetch(ofShownRuns(specs, this.dataset), 'boot');
    else this.firstView = specs;
  }

  /** Cancels the ask holding the view slot, if any. */
  release(view: string): void {
    const waiter = this.slots.get(view);
    if (waiter) this.detach(waiter, 'released');
  }

  stats(): CacheStats {
    return { entries: this.cache.size, bytes: this.cache.bytes, budget: this.cache.budget, ...this.counts, inFlight: this.wire.size };
  }

  // -------------------------------------------------------------------------------------------
  // The connection's side

  /** A hello: flights go out, those that were on the wire when it dropped first. */
  online(dataset: DatasetSchema): void {
    if (!sameDataset(this.dataset, dataset)) this.cache.clear();
    this.dataset = dataset;
    this.link = 'up';
    if (this.firstView) {
      this.prefetch(ofShownRuns(this.firstView, dataset), 'boot');
      this.firstView = null;
    }
    this.pump();
  }

  /** The wire is gone: what was sent is queued again, to go out on the next hello (restoring every view). */
  offline(): void {
    this.link = 'down';
    const sent = [...this.wire.values()];
    for (const flight of sent) this.unsend(flight, false);
    this.queue.pushFront(...sent.filter((f) => !f.low));
    this.queue.push(...sent.filter((f) => f.low));
  }

  /** No answer will come: every waiting ask rejects, and new asks too until the connection tries again. */
  lost(reason: string): void {
    this.link = 'lost';
    for (const flight of [...this.flights.values()]) {
      this.settle(flight, (w) => w.reject(askError('connection', `${flight.spec.query}: ${reason}`)));
    }
  }

  // -------------------------------------------------------------------------------------------
  // The server's side

  /** One Arrow IPC stream of an answer, decoded as it arrives so the last batch does not wait on the first. */
  receiveBatch(requestId: number, batchIndex: number, ipc: Uint8Array): void {
    const flight = this.wire.get(requestId);
    if (!flight) return; // a late batch of a cancelled request
    try {
      flight.frames.push({ batchIndex, table: tableFromIPC(ipc) });
    } catch (error) {
      const failure = askError('failed', `${flight.spec.query}: batch ${batchIndex} is not a readable Arrow IPC stream: ${errorMessage(error)}`, { cause: error });
      this.settle(flight, (w) => w.reject(failure), true);
    }
  }

  finish(done: DoneMessage): void {
    const flight = this.wire.get(done.id);
    if (!flight) return;
    let entry: Entry;
    try {
      entry = entryOf(flight.spec, flight.frames, done, this.dataset);
    } catch (error) {
      const failure = askError('failed', `${flight.spec.query}: unreadable answer: ${errorMessage(error)}`, { cause: error });
      this.settle(flight, (w) => w.reject(failure));
      return;
    }
    this.cache.set(entry);
    if (flight.keep && flight.waiters.size === 0) this.counts.prefetched++;
    this.settle(flight, (w) => w.resolve(answerFrom(entry, w.askedAt, { cached: false, sentAt: flight.sentAt })));
  }

  /** The session's error reply to a request (one with an id). */
  serverError(message: ErrorMessage & { id: number }): void {
    const flight = this.wire.get(message.id);
    if (!flight) {
      // An answer to a request nobody waits for any more (cancelled, superseded, a dropped
      // prefetch): not the user's business.
      if (message.code !== 'cancelled') console.warn(`[tickscope worker] request ${message.id} (dropped): ${message.code}: ${message.message}`);
      return;
    }
    if (message.code === 'overloaded') {
      // Too many at once: try again shortly rather than fail the view.
      this.unsend(flight, false);
      setTimeout(() => {
        if (this.flights.get(flight.key) !== flight) return;
        this.queue.push(flight);
        this.pump();
      }, this.options.overloadedRetryMs);
      return;
    }
    if (message.code === 'session-ending') {
      // The session drains and its socket is about to close: nothing more goes out on it, and
      // this request goes first on the next session's hello, like those the close interrupts.
      this.unsend(flight, false);
      this.link = 'down';
      this.queue.pushFront(flight);
      return;
    }
    const failure = askError(kindOfCode(message.code), `${flight.spec.query} (${message.code}): ${message.message}`);
    this.settle(flight, (w) => w.reject(failure));
  }

  /** A message about request `requestId` that could not be read; false when no flight has that id. */
  failUnreadable(requestId: number, problem: string): boolean {
    const flight = this.wire.get(requestId);
    if (!flight) return false;
    const failure = askError('failed', `${flight.spec.query}: unreadable answer from the server: ${problem}`);
    this.settle(flight, (w) => w.reject(failure));
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Scheduling

  /**
   * Sends queued flights, most urgent first: what a view is waiting for, at once (preempting
   * background work in progress); then, only while no view is waiting, background work a few at
   * a time. A click never queues behind a guess.
   */
  private pump(): void {
    if (this.link !== 'up') return;
    const urgent = this.queue.urgent();
    // A view waits: the session's DuckDB threads go to it, not to guesses.
    if (urgent.length > 0) this.preemptBackground();
    let foreground = 0;
    let background = 0;
    for (const flight of this.wire.values()) {
      if (flight.low) background++;
      else foreground++;
    }
    const { maxInFlight, maxBackgroundInFlight } = this.options;
    for (const flight of urgent) {
      if (this.wire.size >= maxInFlight || !this.send(flight)) return;
      foreground++;
    }
    if (foreground > 0) return;
    for (const flight of this.queue.background()) {
      if (background >= maxBackgroundInFlight || this.wire.size >= maxInFlight || !this.send(flight)) return;
      background++;
    }
  }

  /** Cancels the background flights in progress (the server interrupts their queries) and queues them again. */
  private preemptBackground(): void {
    for (const flight of [...this.wire.values()]) {
      if (!flight.low) continue;
      this.unsend(flight, true);
      this.queue.push(flight);
      this.counts.preempted++;
    }
  }

  private send(flight: Flight): boolean {
    const id = this.nextRequestId++;
    try {
      this.options.send({ type: 'request', id, query: flight.spec.query, params: flight.spec.params } as QueryRequest);
    } catch {
      // The socket closed since the hello; its close queues what was sent, and this flight stays queued.
      return false;
    }
    this.queue.remove(flight);
    flight.id = id;
    flight.sentAt = performance.now();
    flight.frames = [];
    this.wire.set(id, flight);
    return true;
  }

  /** Takes the flight off the wire; with `cancel`, the server is told to stop its query. */
  private unsend(flight: Flight, cancel: boolean): void {
    if (flight.id === null) return;
    this.wire.delete(flight.id);
    if (cancel) {
      try {
        this.options.send({ type: 'cancel', id: flight.id });
      } catch {
        // The socket is gone; the server drops the request with it.
      }
    }
    flight.id = null;
    flight.frames = [];
  }

  /**
   * Ends a flight: it leaves the queue and the wire (cancelled on the server with `cancel`), and
   * every waiter, freed from its view slot, gets `outcome`. Then the next flights go out.
   */
  private settle(flight: Flight, outcome: (waiter: Waiter) => void, cancel = false): void {
    this.flights.delete(flight.key);
    this.queue.remove(flight);
    this.unsend(flight, cancel);
    for (const waiter of flight.waiters) {
      this.freeSlot(waiter);
      outcome(waiter);
    }
    flight.waiters.clear();
    this.pump();
  }

  private drop(flight: Flight, why: string): void {
    this.settle(flight, (w) => w.reject(askError('aborted', `${flight.spec.query}: ${why}`)), true);
  }

  /** Takes a waiter off its flight; the flight is cancelled when nobody else wants it. */
  private detach(waiter: Waiter, why: string): void {
    const { flight } = waiter;
    this.freeSlot(waiter);
    if (!flight.waiters.delete(waiter)) return;
    waiter.reject(askError('aborted', `${flight.spec.query}: ${why}`));
    if (flight.waiters.size === 0 && !flight.keep) this.drop(flight, why);
  }

  private freeSlot(waiter: Waiter): void {
    if (waiter.view && this.slots.get(waiter.view) === waiter) this.slots.delete(waiter.view);
  }
}

// ---------------------------------------------------------------------------------------------

function validate(spec: Spec): string | null {
  const checked = clientMessageValidator.check({ type: 'request', id: 1, query: spec.query, params: spec.params });
  return checked.ok ? null : checked.error;
}

function sameDataset(a: DatasetSchema | undefined, b: DatasetSchema): boolean {
  return (
    !!a &&
    a.id === b.id &&
    a.barCount === b.barCount &&
    a.tradeCount === b.tradeCount &&
    a.range?.from === b.range?.from &&
    a.range?.to === b.range?.to
  );
}

/**
 * Specs naming no runs, made specs of the runs a tab shows: with more runs than a tab pins, the
 * default pin (a spec of every run would be refused, or computed for nobody); dropped when the
 * hello brought none (the tab then ranks the runs first, see use-pinned-runs.ts).
 */
function ofShownRuns(specs: readonly Spec[], dataset: DatasetSchema): Spec[] {
  if (!manyRuns(dataset)) return [...specs];
  const pin = dataset.defaultPin?.runs ?? [];
  return specs.flatMap((spec) => {
    if ('runs' in spec.params && spec.params.runs?.length) return [spec];
    return pin.length ? [{ ...spec, params: { ...spec.params, runs: pin } } as Spec] : [];
  });
}
