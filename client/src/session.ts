// The one session of this tab: its worker is created as soon as the page script runs (before
// React renders) so the session request is already in flight while the first frame is built.
import * as Comlink from 'comlink';
import { errorMessage } from '../../shared/errors.js';
import type { Answer, AskOptions, AskQuery, SessionView, SessionWorkerApi, Spec } from './worker/types.js';

const KEY_STORAGE = 'tickscope.sessionKey';

function randomKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // randomUUID needs a secure context; plain http on a LAN address is not one.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The session key lives in sessionStorage so a reload reattaches to the same server process. */
export function sessionKey(): string {
  try {
    const existing = sessionStorage.getItem(KEY_STORAGE);
    if (existing && /^[A-Za-z0-9_.-]{1,128}$/.test(existing)) return existing;
    const key = randomKey();
    sessionStorage.setItem(KEY_STORAGE, key);
    return key;
  } catch {
    return randomKey(); // storage disabled: a fresh session per load
  }
}

function datasetFromUrl(): string | undefined {
  const value = new URLSearchParams(self.location.search).get('dataset');
  return value || undefined;
}

const worker = new Worker(new URL('./worker/session-worker.ts', import.meta.url), {
  type: 'module',
  name: 'tickscope-session',
});
export const session: Comlink.Remote<SessionWorkerApi> = Comlink.wrap<SessionWorkerApi>(worker);

let current: SessionView = { state: 'connecting' };
const listeners = new Set<() => void>();

function publish(view: SessionView): void {
  current = view;
  if (view.marks && !(window as { __tickscopeMarks?: unknown }).__tickscopeMarks) {
    // Page-clock (performance.now()) times of the connection's first steps, for measurements.
    const origin = performance.timeOrigin;
    (window as { __tickscopeMarks?: unknown }).__tickscopeMarks = Object.fromEntries(Object.entries(view.marks).map(([k, v]) => [k, Math.round(v - origin)]));
  }
  for (const listener of listeners) listener();
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function getView(): SessionView {
  return current;
}

worker.addEventListener('error', (event) => {
  publish({ ...current, state: 'lost', error: `the session worker failed: ${event.message || 'unknown error'}` });
});

const dataset = datasetFromUrl();
session
  .connect({ key: sessionKey(), ...(dataset ? { dataset } : {}) }, Comlink.proxy(publish))
  .catch((error: unknown) => {
    publish({ ...current, state: 'lost', error: `could not start the session: ${errorMessage(error)}` });
  });

/** Typed wrappers (Comlink's Remote type loses the methods' generics). */
export function ask<Q extends AskQuery>(spec: Spec<Q>, options?: AskOptions): Promise<Answer<Q>> {
  return session.ask(spec as Spec, options) as unknown as Promise<Answer<Q>>;
}

export function preview<Q extends AskQuery>(spec: Spec<Q>): Promise<Answer<Q> | null> {
  return session.preview(spec as Spec) as unknown as Promise<Answer<Q> | null>;
}

/** Prefetch and release fail only when the worker does (its error event reports that): logged, not shown. */
function logFailure(what: string): (error: unknown) => void {
  return (error) => console.warn(`[tickscope] ${what} failed: ${errorMessage(error)}`);
}

export function prefetch(specs: Spec[], group: string): void {
  if (specs.length) void session.prefetch(specs, group).catch(logFailure('prefetch'));
}

export function prefetchFirstView(specs: Spec[]): void {
  if (specs.length) void session.prefetchFirstView(specs).catch(logFailure('prefetch'));
}

export function release(view: string): void {
  void session.release(view).catch(logFailure('release'));
}

export function retry(): void {
  session.retry().catch((error: unknown) => publish({ ...current, state: 'lost', error: errorMessage(error) }));
}

if (import.meta.hot) {
  import.meta.hot.dispose(() => worker.terminate());
}
