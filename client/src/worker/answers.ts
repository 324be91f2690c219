// Answers as the views get them: a finished request's batches decoded into a cache entry, an
// entry made an answer, and a zoom's preview cut from a coarser cached entry.
import type { DatasetSchema, DoneMessage } from '../../../shared/messages.js';
import { specKey } from '../spec-key.js';
import { familyKey, sliceEntry, type AnswerCache, type Entry } from './cache.js';
import { decodeAnswer, sizeOf, type Frame } from './decode.js';
import type { Answer, Spec } from './types.js';

/** The spec's effective range in epoch ms: the dataset's where the params leave it open. */
function rangeOf(spec: Spec, dataset: DatasetSchema | undefined): { from: number; to: number } {
  const p = spec.params as { from?: number; to?: number };
  return {
    from: p.from ?? dataset?.range?.from ?? Number.NEGATIVE_INFINITY,
    to: p.to ?? dataset?.range?.to ?? Number.POSITIVE_INFINITY,
  };
}

/** A finished request's batches decoded into a cache entry; throws when they cannot be read. */
export function entryOf(spec: Spec, frames: Frame[], done: DoneMessage, dataset: DatasetSchema | undefined): Entry {
  const data = decodeAnswer(spec.query, frames);
  const range = rangeOf(spec, dataset);
  return {
    key: specKey(spec),
    family: familyKey(spec),
    spec,
    data,
    meta: {
      approximate: done.approximate,
      total: done.total ?? null,
      notes: done.notes,
      rows: done.rows,
      bytes: done.bytes,
      timings: done.timings,
      source: done.source,
    },
    bytes: sizeOf(data),
    from: range.from,
    to: range.to,
  };
}

export function answerFrom(entry: Entry, askedAt: number, extra: { cached: boolean; provisional?: boolean; sentAt?: number | null }): Answer {
  return {
    query: entry.spec.query,
    data: entry.data,
    ...entry.meta,
    cached: extra.cached,
    provisional: extra.provisional ?? false,
    elapsedMs: performance.now() - askedAt,
    queuedMs: extra.sentAt === undefined || extra.sentAt === null ? 0 : Math.max(0, extra.sentAt - askedAt),
  } as Answer;
}

/**
 * For a time series zoomed inside a range the cache already covers: that data cut to the range
 * (approximate, provisional) while the exact answer loads. Null when no cached entry covers it.
 */
export function cutFromCache(cache: AnswerCache, spec: Spec, dataset: DatasetSchema | undefined, askedAt: number): Answer | null {
  const family = familyKey(spec);
  if (!family) return null;
  const { from, to } = rangeOf(spec, dataset);
  for (const entry of cache.covering(family, from, to)) {
    const data = sliceEntry(entry, from, to);
    if (!data) continue;
    const answer = answerFrom({ ...entry, data }, askedAt, { cached: true, provisional: true });
    return { ...answer, approximate: true, notes: ['a preview cut from coarser data; the exact answer is on its way'] };
  }
  return null;
}
