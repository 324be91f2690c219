// Types shared by the UI thread and the session worker. Type-only on the UI side, so the UI
// bundle never pulls in Arrow or the validators.
import type { DatasetSchema, EquityParams, Timings } from '../../../shared/protocol.js';

export type { DatasetSchema, EquityParams, Timings };

export type SessionState = 'connecting' | 'ready' | 'reconnecting' | 'lost';

export interface SessionView {
  state: SessionState;
  sessionId?: string;
  dataset?: DatasetSchema;
  /** Plain-words description of the latest problem (reconnect reason, invalid message, ...). */
  error?: string;
}

export interface ConnectOptions {
  /** Session key: the same key reattaches to the same live server-side session. */
  key: string;
  dataset?: string;
}

export interface RunSeries {
  runId: string;
  /** Epoch SECONDS (UTC), ascending: uPlot's x unit. The wire carries ms; the worker divides. */
  ts: Float64Array;
  /** Cumulative P&L in dollars. */
  equity: Float64Array;
  /** Drawdown in dollars, <= 0. */
  drawdown: Float64Array;
}

/**
 * The runs resampled onto one shared x axis (what uPlot's aligned data wants), built in the
 * worker. When every run has the same timestamps the arrays are the runs' own (same buffers);
 * otherwise each run is linearly interpolated between its own points (so the drawn polyline is
 * unchanged) and is NaN outside its own first..last range (`gapFree` is then false).
 */
export interface AlignedSeries {
  x: Float64Array;
  equity: Float64Array[];
  drawdown: Float64Array[];
  gapFree: boolean;
}

export interface EquityResult {
  runs: RunSeries[];
  aligned: AlignedSeries;
  rows: number;
  bytes: number;
  approximate: boolean;
  timings: Timings;
  /** Request sent -> last batch decoded and assembled, in the worker (ms). */
  elapsedMs: number;
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
   * Portfolio equity + drawdown, downsampled to `width` pixel columns. A newer call cancels the
   * one in flight, whose promise rejects with an error named 'AbortError'.
   */
  equity(params: EquityParams): Promise<EquityResult>;
  /** Closes the socket for good (no reconnect). */
  close(): void;
}
