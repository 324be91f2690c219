// What answering a request came to, as the socket handler reports it in `done` and the shared
// answer cache keeps it beside the batches (answer-cache.ts): its own module, since the query
// runner makes it and the answer cache, which the runner uses, stores it.
import type { Timings } from '../../shared/messages.js';

export interface QueryOutcome {
  rows: number;
  batches: number;
  bytes: number;
  timings: Timings;
  total?: number;
  source: string;
  notes: string[];
  approximate: boolean;
  /** Read from the store's shared answer cache (answer-cache.ts), not computed. */
  cached?: boolean;
}
