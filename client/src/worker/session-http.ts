// The control server's HTTP API as the worker uses it: create (or reattach to) a session, read
// the datasets' state, poll a dataset's preparation while the session request waits for it, and
// keep the tab's place in the queue while every session slot is taken.
import { Type } from '@sinclair/typebox';
import { errorMessage } from '../../../shared/errors.js';
import { CreateSessionReply, DatasetInfo, QueuedSessionReply } from '../../../shared/http-api.js';
import { compileValidator, parseMessage } from '../../../shared/validate.js';
import type { ConnectOptions, PreparationView, QueueView } from './types.js';

const createReplies = compileValidator(CreateSessionReply, 'POST /api/sessions reply');
const queuedReplies = compileValidator(QueuedSessionReply, 'POST /api/sessions 202 reply');
const datasetLists = compileValidator(Type.Array(DatasetInfo), 'GET /api/datasets reply');

const PREPARATION_POLL_MS = 500;
/** A prepared dataset answers POST /api/sessions sooner than this: no polling for it. */
const PREPARATION_FIRST_POLL_MS = 300;
/** Least time between two asks for a session while queued. */
const MIN_QUEUE_POLL_MS = 500;

/** A reply with an HTTP error status; the status tells a server failure from a refusal. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Retry-After of a 503, in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** 200: the session; 202: a place in the queue (asking again keeps it). */
export async function createSession(opts: ConnectOptions): Promise<CreateSessionReply | QueuedSessionReply> {
  const body: { key: string; dataset?: string } = { key: opts.key };
  if (opts.dataset) body.dataset = opts.dataset;
  const response = await fetch(new URL('/api/sessions', self.location.href), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new HttpError(
      response.status,
      `POST /api/sessions answered ${response.status}${describeBody(text)}`,
      response.status === 503 && retryAfter > 0 ? Math.min(60, retryAfter) * 1000 : undefined,
    );
  }
  const checked = response.status === 202 ? parseMessage(text, queuedReplies) : parseMessage(text, createReplies);
  if (!checked.ok) throw new Error(checked.error);
  return checked.value;
}

/**
 * Asks for the session until it is ready. While every slot is taken the server answers 202 with
 * the tab's place (after holding the request about a second); `onQueued` shows it and this asks
 * again, which keeps the place. Throws what createSession throws; once `isCurrent()` is false (a
 * newer connection attempt) it stops asking.
 */
export async function waitForSession(
  opts: ConnectOptions,
  isCurrent: () => boolean,
  onQueued: (queue: QueueView) => void,
): Promise<CreateSessionReply> {
  for (;;) {
    const askedAt = Date.now();
    const reply = await createSession(opts);
    if (reply.status !== 'queued') return reply as CreateSessionReply;
    if (!isCurrent()) throw new Error('superseded by a newer connection attempt');
    onQueued({ position: reply.position, waiting: reply.waiting, etaSeconds: reply.etaSeconds });
    // The server holds the request about a second; should something in between answer at once, do not spin.
    const heldMs = Date.now() - askedAt;
    if (heldMs < MIN_QUEUE_POLL_MS) await new Promise((resolve) => setTimeout(resolve, MIN_QUEUE_POLL_MS - heldMs));
  }
}

/** An error reply's message (`{ message }` JSON), else the start of its text. */
function describeBody(text: string): string {
  let detail = text.slice(0, 200);
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') detail = parsed.message;
  } catch {
    // Not JSON (a proxy's page, say): the text itself is the detail.
  }
  return detail ? `: ${detail}` : '';
}

/** The dataset's entry in GET /api/datasets (the default dataset when none is named); undefined when unknown. */
export async function datasetInfo(dataset: string | undefined): Promise<DatasetInfo | undefined> {
  const response = await fetch(new URL('/api/datasets', self.location.href));
  if (!response.ok) return undefined;
  const checked = datasetLists.check(await response.json());
  if (!checked.ok) return undefined;
  return dataset ? checked.value.find((d) => d.id === dataset) : checked.value[0];
}

/**
 * POST /api/sessions answers once the dataset's store is prepared, which for a new dataset can
 * take minutes. Meanwhile polls GET /api/datasets and reports the preparation's phase, rows and
 * ETA while the dataset is being prepared. Returns a function that stops polling.
 */
export function watchPreparation(dataset: string | undefined, onProgress: (preparation: PreparationView) => void): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const poll = async () => {
    try {
      const info = await datasetInfo(dataset);
      if (stopped) return;
      if (info && (info.state === 'preparing' || info.state === 'pending')) {
        onProgress({
          dataset: info.id,
          phase: info.phase,
          progress: info.progress,
          rows: info.rows ?? null,
          totalRows: info.totalRows ?? null,
          etaSeconds: info.etaSeconds ?? null,
        });
      }
    } catch (error) {
      // Progress is a courtesy; the session request itself reports real failures.
      console.debug(`[tickscope worker] preparation progress unavailable: ${errorMessage(error)}`);
    } finally {
      if (!stopped) timer = setTimeout(() => void poll(), PREPARATION_POLL_MS);
    }
  };
  timer = setTimeout(() => void poll(), PREPARATION_FIRST_POLL_MS);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
