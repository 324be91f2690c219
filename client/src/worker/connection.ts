// The session connection: POST /api/sessions with the tab's key, the session's WebSocket and its
// hello, and reconnects with backoff when the socket drops. It publishes the session's state to
// the UI and tells the scheduler when the wire is up (hello), down (dropped) or lost for good.
import { errorMessage } from '../../../shared/errors.js';
import type { CreateSessionReply, DatasetInfo } from '../../../shared/http-api.js';
import type { ClientMessage, HelloMessage } from '../../../shared/messages.js';
import { dispatch, type Recipients } from './dispatch.js';
import type { Downloads } from './downloads.js';
import type { QueryScheduler } from './query-scheduler.js';
import { datasetInfo, HttpError, waitForSession, watchPreparation } from './session-http.js';
import type { ConnectOptions, SessionView } from './types.js';

const MAX_RECONNECT_ATTEMPTS = 6;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 8_000;
const HELLO_TIMEOUT_MS = 10_000;

export class SessionConnection implements Recipients {
  /** Wall-clock marks of the connection's first steps (Date.now()), reported with the view. */
  private readonly marks: Record<string, number> = { workerStart: Date.now() };
  private view: SessionView = { state: 'connecting' };
  private listener: ((s: SessionView) => void) | null = null;
  private options: ConnectOptions | null = null;
  private socket: WebSocket | null = null;
  /** Bumps on every connection attempt; stale callbacks compare against it. */
  private generation = 0;
  private attempts = 0;
  private epoch = 0;
  private replaced = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private helloTimer: ReturnType<typeof setTimeout> | null = null;
  private closedForGood = false;
  private settleWaiters: Array<(v: SessionView) => void> = [];
  /** The dataset's data-quality entries and files not read, read once its store is ready; kept across every view. */
  private dataQuality: SessionView['dataQuality'];
  private notRead: SessionView['notRead'];

  constructor(
    readonly scheduler: QueryScheduler,
    readonly downloads: Downloads,
  ) {}

  /** Resolves with the view once the session is first ready or lost; later states go to `onState`. */
  connect(opts: ConnectOptions, onState: (s: SessionView) => void): Promise<SessionView> {
    this.marks.connect ??= Date.now();
    this.options = { key: opts.key, ...(opts.dataset ? { dataset: opts.dataset } : {}) };
    this.listener = onState;
    this.closedForGood = false;
    this.attempts = 0;
    const settled = new Promise<SessionView>((resolve) => this.settleWaiters.push(resolve));
    this.setView({ state: 'connecting' });
    void this.open();
    return settled;
  }

  /** After 'lost': starts over with a fresh set of reconnect attempts. */
  async retry(): Promise<void> {
    if (!this.options) throw new Error('retry() before connect()');
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.closedForGood = false;
    this.attempts = 0;
    this.setView({ ...this.base(), state: 'connecting' });
    await this.open();
  }

  /** Closes the socket for good (no reconnect); every ask rejects. */
  close(): void {
    this.closedForGood = true;
    this.generation++;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.detachSocket();
    this.scheduler.lost('session connection closed');
    this.downloads.lost('session connection closed');
  }

  /** The scheduler's way onto the wire; throws when the socket is not open. */
  send(message: ClientMessage): void {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) throw new Error('session is not connected');
    this.socket.send(JSON.stringify(message));
  }

  // -------------------------------------------------------------------------------------------
  // What the session says (see dispatch.ts)

  get awaitingHello(): boolean {
    return this.view.state !== 'ready';
  }

  hello(message: HelloMessage): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.attempts = 0;
    if (this.view.sessionId && this.view.sessionId !== message.sessionId) this.replaced++;
    this.epoch++;
    this.marks.hello ??= Date.now();
    this.setView({ state: 'ready', sessionId: message.sessionId, dataset: message.dataset, epoch: this.epoch, replaced: this.replaced, marks: { ...this.marks } });
    this.scheduler.online(message.dataset); // re-sends what was in flight when the connection dropped
  }

  unreadableHello(problem: string): void {
    // A hello we cannot read will not get better by retrying.
    this.closedForGood = true;
    this.detachSocket();
    const message = `the server's hello is not one this client understands: ${problem}`;
    this.setView({ state: 'lost', error: message, failure: { kind: 'protocol', message } });
  }

  /** Reports a problem without changing the connection state. */
  report(problem: string): void {
    console.warn(`[tickscope worker] ${problem}`);
    this.setView({ ...this.view, error: problem });
  }

  // -------------------------------------------------------------------------------------------
  // State

  private setView(next: SessionView): void {
    if (this.dataQuality) next = { ...next, dataQuality: this.dataQuality, notRead: this.notRead ?? [] };
    this.view = next;
    if (next.state === 'ready' || next.state === 'lost') {
      const waiters = this.settleWaiters;
      this.settleWaiters = [];
      for (const w of waiters) w(next);
    }
    if (next.state === 'lost') this.scheduler.lost(next.failure?.message ?? next.error ?? 'the session is lost');
    // A proxied callback, which fails when the UI is gone (the worker is about to be terminated):
    // there is nobody left to tell.
    const unheard = (error: unknown) => console.debug(`[tickscope worker] the UI did not take the session state: ${errorMessage(error)}`);
    try {
      void Promise.resolve(this.listener?.(next)).catch(unheard);
    } catch (error) {
      unheard(error);
    }
  }

  /** The store is ready: what its preparation dropped, found or did not read, for the UI's data-quality notice. */
  private async loadDataQuality(dataset: string | undefined): Promise<void> {
    try {
      const info = await datasetInfo(dataset);
      if (!info) return;
      this.notRead = info.notRead;
      this.dataQuality = info.dataQuality;
      this.setView({ ...this.view });
    } catch (error) {
      // The notice is a courtesy: the session works without it.
      console.debug(`[tickscope worker] data-quality list unavailable: ${errorMessage(error)}`);
    }
  }

  private base(): Pick<SessionView, 'sessionId' | 'dataset' | 'epoch' | 'replaced'> {
    const { sessionId, dataset, epoch, replaced } = this.view;
    return { sessionId, dataset, epoch, replaced };
  }

  // -------------------------------------------------------------------------------------------
  // The socket

  private async open(): Promise<void> {
    const options = this.options;
    if (!options || this.closedForGood) return;
    const gen = ++this.generation;
    this.detachSocket();
    let reply: CreateSessionReply;
    const stopWatching = watchPreparation(options.dataset, (preparation) => {
      if (gen === this.generation && this.view.state === 'connecting') this.setView({ ...this.view, preparation });
    });
    try {
      this.marks.sessionRequest ??= Date.now();
      reply = await waitForSession(
        options,
        () => gen === this.generation,
        (queue) => this.setView({ ...this.view, queue }),
      );
      this.marks.sessionReply ??= Date.now();
    } catch (error) {
      if (gen !== this.generation) return;
      // A dataset that failed to prepare will not prepare by retrying: say why and stop.
      const failed = error instanceof HttpError && error.status >= 500 ? await failedDataset(options.dataset) : undefined;
      if (gen !== this.generation) return;
      if (failed) {
        this.closedForGood = true;
        const message = failed.error ?? `dataset "${failed.id}" failed to prepare`;
        this.setView({ ...this.base(), state: 'lost', error: message, failure: { kind: 'dataset-failed', message } });
        return;
      }
      this.scheduleReconnect(`could not get a session: ${errorMessage(error)}`, error instanceof HttpError ? error.retryAfterMs : undefined);
      return;
    } finally {
      stopWatching();
    }
    if (gen !== this.generation) return;
    if (!this.dataQuality) void this.loadDataQuality(options.dataset);
    if (this.view.preparation || this.view.queue) {
      const { preparation: _done, queue: _served, ...rest } = this.view;
      this.setView(rest);
    }

    let s: WebSocket;
    try {
      s = new WebSocket(webSocketUrl(reply.wsUrl));
    } catch (error) {
      this.scheduleReconnect(`could not open the session socket: ${errorMessage(error)}`);
      return;
    }
    s.binaryType = 'arraybuffer';
    this.socket = s;
    this.helloTimer = setTimeout(() => {
      if (this.socket !== s) return;
      this.detachSocket();
      this.scheduleReconnect(`session ${reply.id} sent no hello within ${HELLO_TIMEOUT_MS / 1000} s`);
    }, HELLO_TIMEOUT_MS);
    s.onmessage = (event: MessageEvent<unknown>) => {
      if (this.socket === s) dispatch(event.data, this);
    };
    s.onerror = () => {
      // A close event always follows; it carries the useful detail.
    };
    s.onclose = (event: CloseEvent) => {
      if (this.socket !== s) return;
      this.socket = null;
      this.dropSocket();
      this.scheduleReconnect(describeClose(event));
    };
  }

  /** `retryAfterMs`: when the server said when to come back (503 Retry-After), that instead of the backoff. */
  private scheduleReconnect(reason: string, retryAfterMs?: number): void {
    if (this.closedForGood) return;
    if (this.attempts >= MAX_RECONNECT_ATTEMPTS) {
      this.setView({ ...this.base(), state: 'lost', error: `${reason} (gave up after ${this.attempts} attempts to reconnect)` });
      return;
    }
    this.attempts += 1;
    // The first retry is quick: a crashed session is replaced by a new process from the warm pool.
    const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.attempts - 1));
    const delay = (retryAfterMs ?? backoff) * (0.8 + 0.4 * Math.random());
    this.setView({
      ...this.base(),
      state: 'reconnecting',
      error: `${reason}; reconnecting (attempt ${this.attempts} of ${MAX_RECONNECT_ATTEMPTS}) in ${(delay / 1000).toFixed(1)} s`,
    });
    const gen = this.generation;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (gen === this.generation) void this.open();
    }, delay);
  }

  /** Closes the socket (if any) without a reconnect; what was in flight on it is queued again. */
  private detachSocket(): void {
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      if (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING) s.close(1000, 'client closing');
    }
    this.dropSocket();
  }

  /** The socket is gone: no hello to wait for, and the scheduler sends nothing until the next one. */
  private dropSocket(): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.scheduler.offline();
    this.downloads.lost('the session connection dropped');
  }
}

/** The dataset's state when it failed to prepare; undefined otherwise (or when it cannot be read). */
async function failedDataset(dataset: string | undefined): Promise<DatasetInfo | undefined> {
  try {
    const info = await datasetInfo(dataset);
    return info?.state === 'failed' ? info : undefined;
  } catch (error) {
    console.debug(`[tickscope worker] dataset state unavailable: ${errorMessage(error)}`);
    return undefined;
  }
}

function webSocketUrl(wsUrl: string): string {
  const url = new URL(wsUrl, self.location.href);
  if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol === 'http:') url.protocol = 'ws:';
  return url.href;
}

function describeClose(event: CloseEvent): string {
  const reason = event.reason ? `: ${event.reason}` : '';
  switch (event.code) {
    case 1000:
      return `the server closed the session connection${reason}`;
    case 1001:
      return `the session is shutting down${reason}`;
    case 1006:
      return 'the session connection dropped (no close frame)';
    case 1011:
      return `the session failed${reason}`;
    default:
      return `the session connection closed with code ${event.code}${reason}`;
  }
}
