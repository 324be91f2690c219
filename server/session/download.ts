// A request's answer as a file (a request with `download`): the trade list in scope in its sort,
// the bars of the view, or a table a view shows (breakdown, attribution, episodes, leaderboard).
// The session writes the file into a folder of its own under the OS temp folder (process-folders.ts): CSV and Parquet
// with DuckDB's COPY (query-runner.ts copyToFile), Arrow as one IPC stream of the answer's
// batches. The socket handler then streams the file's bytes in data frames and removes it.
// Writing first, then sending, keeps DuckDB's writers (their own buffering, Parquet's row
// groups) as they are, and lets the done message give the file's exact rows and size.
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { RecordBatchReader, RecordBatchStreamWriter } from 'apache-arrow';
import { DOWNLOADABLE_QUERIES, type DownloadFormat } from '../../shared/constants.js';
import type { QueryRequest } from '../../shared/messages.js';
import { BadParamsError } from './queries/errors.js';
import { planExport } from './queries/export.js';
import { planRequest } from './queries/index.js';
import { makeProcessFolder } from './process-folders.js';
import type { Planner } from './queries/plan.js';
import type { QueryRunner } from './query-runner.js';
import type { Catalog } from './store.js';

const MEDIA_TYPES: Record<DownloadFormat, string> = {
  csv: 'text/csv',
  parquet: 'application/vnd.apache.parquet',
  arrow: 'application/vnd.apache.arrow.stream',
};

export interface DownloadFile {
  /** Where the file is; `remove()` deletes it and its folder. */
  path: string;
  /** The name offered to save it as, and its media type. */
  name: string;
  mediaType: string;
  rows: number;
  bytes: number;
  source: string;
  notes: string[];
  writeMs: number;
  remove(): Promise<void>;
}

/** Writes the answer of `request` (which has `download`) to a file. */
export async function writeDownload(request: QueryRequest, context: { datasetId: string; catalog: Catalog; runner: QueryRunner }, signal: AbortSignal): Promise<DownloadFile> {
  const format = request.download!.format;
  if (!(DOWNLOADABLE_QUERIES as readonly string[]).includes(request.query)) {
    throw new BadParamsError(`${request.query} cannot be downloaded; these can: ${DOWNLOADABLE_QUERIES.join(', ')}`);
  }
  const planner = plannerOf(request, context.catalog);
  const dir = await makeProcessFolder('download');
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const file = path.join(dir, `answer.${format}`);
    const started = performance.now();
    const written =
      format === 'arrow'
        ? await writeArrow(context.runner, planner, signal, file)
        : await context.runner.copyToFile({ planner, signal, path: file, format });
    return {
      path: file,
      name: fileName(context.datasetId, request, format),
      mediaType: MEDIA_TYPES[format],
      rows: written.rows,
      bytes: (await stat(file)).size,
      source: written.source,
      notes: written.notes,
      writeMs: performance.now() - started,
      remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

/**
 * The trade list downloads every trade in scope in the table's sort (its offset and limit are the
 * window on screen, not what is asked for); times are written as timestamps.
 */
function plannerOf(request: QueryRequest, catalog: Catalog): Planner {
  if (request.query === 'trades') {
    const { offset: _offset, limit: _limit, sort, ...scope } = request.params;
    const plan = planExport({ ...scope, table: 'trades', sort: sort ?? { column: 'entry_ts' } }, catalog, 'timestamp');
    return () => plan;
  }
  if (request.query === 'export') {
    const plan = planExport(request.params, catalog, 'timestamp');
    return () => plan;
  }
  return planRequest(request, catalog);
}

/** The answer's Arrow batches as one IPC stream (one schema, then every batch). */
async function writeArrow(runner: QueryRunner, planner: Planner, signal: AbortSignal, file: string) {
  const writer = new RecordBatchStreamWriter();
  const written = pipeline(writer.toNodeStream(), createWriteStream(file));
  let rows = 0;
  try {
    const outcome = await runner.run({
      planner,
      signal,
      onBatch: async (ipc) => {
        for (const batch of RecordBatchReader.from(ipc)) {
          rows += batch.numRows;
          writer.write(batch);
        }
      },
    });
    return { rows, source: outcome.source, notes: outcome.notes };
  } finally {
    writer.finish();
    await written;
  }
}

/** e.g. demo-trades-2024-01-02_2024-03-29.csv: the dataset, the table, the range asked. */
function fileName(datasetId: string, request: QueryRequest, format: DownloadFormat): string {
  const params = request.params as { from?: number; to?: number; table?: string };
  const table = request.query === 'export' ? (params.table ?? 'export') : request.query;
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const range = params.from !== undefined || params.to !== undefined ? `-${params.from !== undefined ? day(params.from) : 'start'}_${params.to !== undefined ? day(params.to) : 'end'}` : '';
  const safe = datasetId.replace(/[^A-Za-z0-9_.-]/g, '_');
  return `${safe}-${table}${range}.${format === 'arrow' ? 'arrows' : format}`;
}
