// Types shared by the UI thread and the session worker. Type-only on the UI side, so the UI
// bundle never pulls in Arrow or the validators.
import type { DownloadableQuery, DownloadFormat, QueryName, RundiffPart } from '../../../shared/constants.js';
import type { DataQualityEntry } from '../../../shared/http-api.js';
import type { DatasetSchema, Filters, QueryParamsByName, Timings } from '../../../shared/messages.js';

export type { DatasetSchema, DownloadFormat, Filters, QueryName, Timings };

export type SessionState = 'connecting' | 'ready' | 'reconnecting' | 'lost';

/** The dataset's preparation, while a tab waits for its store (from GET /api/datasets). */
export interface PreparationView {
  dataset: string;
  phase: string | null;
  /** 0..1 over the whole preparation. */
  progress: number;
  rows: number | null;
  totalRows: number | null;
  etaSeconds: number | null;
}

/** The tab's place in the server's queue, while every session slot is taken (POST /api/sessions answered 202). */
export interface QueueView {
  /** 1 = next to get a session. */
  position: number;
  waiting: number;
  etaSeconds: number | null;
}

export interface SessionView {
  state: SessionState;
  sessionId?: string;
  dataset?: DatasetSchema;
  /** Set while connecting to a dataset that is still being prepared. */
  preparation?: PreparationView;
  /** Set while connecting and waiting in the queue for a free session slot. */
  queue?: QueueView;
  /** Plain-words description of the latest problem (reconnect reason, invalid message, ...). */
  error?: string;
  /** What preparation dropped or found in the dataset's rows (GET /api/datasets), once it is known. */
  dataQuality?: DataQualityEntry[];
  /** Files among the dataset's inputs that were not read, each with why (GET /api/datasets), known with dataQuality. */
  notRead?: string[];
  /** Why the session is lost for good, when retrying cannot help (e.g. the dataset failed to prepare). */
  failure?: { kind: 'dataset-failed' | 'protocol'; message: string };
  /** Counts hellos: bumps each time a (new or re-opened) session connection becomes ready. */
  epoch?: number;
  /** How many times the session process was replaced by a new one since the tab opened. */
  replaced?: number;
  /** Wall-clock (Date.now()) marks of the first connection: worker start, connect, session request and reply, hello. */
  marks?: Record<string, number>;
}

export interface ConnectOptions {
  /** Session key: the same key reattaches to the same live server-side session. */
  key: string;
  dataset?: string;
}

// ---------------------------------------------------------------------------------------------
// Answers, as the UI receives them: column buffers, transferred (never row objects).

/** A string column, dictionary-coded in the worker: codes index `dict`; -1 is null. */
export interface StringColumn {
  codes: Int32Array;
  dict: string[];
}
export type Column = Float64Array | StringColumn;

/** Rows of an answer as columns. Numbers are Float64 (null = NaN); times are epoch ms. */
export interface ColumnTable {
  length: number;
  columns: Record<string, Column>;
}

/**
 * Per-run time series on one shared x axis (what uPlot's aligned data wants), built in the
 * worker. `x` is epoch SECONDS (uPlot's unit; the wire carries ms). values[name][runIndex] is
 * aligned with x; when the runs have different timestamps each run is interpolated linearly
 * between its own points (the drawn polyline is unchanged) and NaN outside them (gapFree false).
 */
export interface TimeSeries {
  x: Float64Array;
  runs: string[];
  values: Record<string, Float64Array[]>;
  gapFree: boolean;
  /** Points actually delivered (sum over runs). */
  points: number;
}

export interface SeriesData {
  points: TimeSeries;
  trades: ColumnTable;
}

/** A `rundiff` answer: one column table per part (RUNDIFF_PARTS). */
export type RundiffData = Record<RundiffPart, ColumnTable>;

/** What the UI asks for: every query but the raw export, which no view draws. */
export type QueryParams = Omit<QueryParamsByName, 'export'>;
export type AskQuery = keyof QueryParams;

export interface QueryData {
  summary: ColumnTable;
  equity: TimeSeries;
  exposure: TimeSeries;
  breakdown: ColumnTable;
  series: SeriesData;
  trades: ColumnTable;
  histogram: ColumnTable;
  heatmap: ColumnTable;
  rolling: ColumnTable;
  risk: ColumnTable;
  benchmark: ColumnTable;
  scatter: ColumnTable;
  episodes: ColumnTable;
  attribution: ColumnTable;
  leaderboard: ColumnTable;
  surface: ColumnTable;
  rundiff: RundiffData;
}

export type Spec<Q extends AskQuery = AskQuery> = { [K in Q]: { query: K; params: QueryParams[K] } }[Q];

/** What can be downloaded as a file (DOWNLOADABLE_QUERIES): a view's table, or the bars in view (`export`). */
export type DownloadSpec = { [Q in DownloadableQuery]: { query: Q; params: QueryParamsByName[Q] } }[DownloadableQuery];

export interface DownloadProgress {
  /** Rows of the file (known once the session has written it), and bytes received so far. */
  rows: number;
  bytes: number;
}

export interface DownloadedFile {
  blob: Blob;
  /** The name the session offers to save it as. */
  name: string;
  rows: number;
  bytes: number;
}

export interface Answer<Q extends AskQuery = AskQuery> {
  query: Q;
  data: QueryData[Q];
  /** Not exact: the server said so (done.approximate), or this is a preview made from the cache. */
  approximate: boolean;
  /** A preview from coarser cached data, to be replaced by the exact answer. */
  provisional: boolean;
  /** Served from the worker's cache without a round trip. */
  cached: boolean;
  /** Windowed answers: rows or groups in total. */
  total: number | null;
  notes: string[];
  rows: number;
  bytes: number;
  timings: Timings | null;
  source: string;
  /** Ask -> answer ready in the worker (ms). */
  elapsedMs: number;
  /**
   * Of that, the time the ask waited in the worker before its request went out (behind the
   * in-flight limit, or a background flight it lifted): 0 when it was sent at once, joined a
   * flight already sent, or was answered from the cache.
   */
  queuedMs: number;
}

export interface AskOptions {
  /** 'low': scheduled like a prefetch (few at a time, after everything else), e.g. table sparklines. */
  priority?: 'low';
  /**
   * A view slot, known to the worker only: a newer ask with the same view supersedes the older
   * one, whose promise rejects (kind 'aborted', errors.ts) and whose server query is cancelled
   * (unless someone else still wants it).
   */
  view?: string;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  budget: number;
  hits: number;
  previews: number;
  misses: number;
  prefetched: number;
  /** Background flights cancelled (and queued again) because a view asked for something. */
  preempted: number;
  inFlight: number;
}

export interface SessionWorkerApi {
  /**
   * Creates (or reattaches to) the session and opens its WebSocket. `onState` must be passed
   * through `Comlink.proxy`. Resolves with the view once the session is first ready or lost;
   * state changes keep flowing to `onState` afterwards (reconnects included).
   */
  connect(opts: ConnectOptions, onState: (s: SessionView) => void): Promise<SessionView>;
  /** After 'lost': start over with a fresh set of reconnect attempts. */
  retry(): Promise<void>;
  /**
   * The exact answer to a query: from the cache, by joining the same query in flight, or from the
   * session. Asks made while the connection is down wait for it (and are re-sent after a
   * reconnect); they reject only when the session is lost.
   */
  ask<Q extends AskQuery>(spec: Spec<Q>, options?: AskOptions): Promise<Answer<Q>>;
  /**
   * What the cache can say at once, without the network: the exact answer if cached, or for a
   * time series zoomed inside a range already cached, that data cut to the range (approximate,
   * provisional). Null when the cache has nothing useful.
   */
  preview<Q extends AskQuery>(spec: Spec<Q>): Promise<Answer<Q> | null>;
  /**
   * Low-priority fetches into the cache (the likely next step). `group` names a set: a newer
   * prefetch of the same group drops the older one's requests not yet sent.
   */
  prefetch(specs: Spec[], group: string): void;
  /**
   * The first view's queries, asked before the hello says what the dataset is: prefetched once it
   * has. A spec naming no runs is of the runs the tab shows, which for a dataset of more runs than
   * a tab pins is the hello's default pin.
   */
  prefetchFirstView(specs: Spec[]): void;
  /** Cancels the ask of a view slot, if any. */
  release(view: string): void;
  /**
   * The answer to `spec` as a file the session writes (CSV, Parquet or an Arrow stream): for the
   * trade list, every trade in scope in its sort. `onProgress` (through `Comlink.proxy`) hears
   * the bytes received; `cancelDownload(ticket)` stops it.
   */
  download(spec: DownloadSpec, format: DownloadFormat, ticket: string, onProgress: (progress: DownloadProgress) => void): Promise<DownloadedFile>;
  cancelDownload(ticket: string): void;
  cacheStats(): CacheStats;
  /** Closes the socket for good (no reconnect). */
  close(): void;
}
