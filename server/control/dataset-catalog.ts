// The datasets this server can open, and their preparation into stores. Preparation runs in a
// child process (server/prepare), so bad input or a crash there cannot take any tab down.
import { errorMessage } from '../../shared/errors.js';
import type { DataQualityEntry, DatasetInfo, DatasetState } from '../../shared/http-api.js';
import type { BadRowPolicy } from '../prepare/description.js';
import { prepareInChild } from '../prepare/run-in-child.js';
import { controlErrors } from './errors.js';

export interface DatasetSpec {
  id: string;
  /** The dataset folder (see server/prepare for the layout it accepts). */
  input: string;
  /** `serve --mapping FILE`: the description read instead of the folder's tickscope.json. */
  mappingFile?: string;
  /** `serve --on-bad-rows`: wins over the description's onBadRows. */
  onBadRows?: BadRowPolicy;
}

interface DatasetEntry extends DatasetSpec {
  state: DatasetState;
  progress: number;
  phase: string | null;
  error: string | null;
  rows: number | null;
  totalRows: number | null;
  etaSeconds: number | null;
  descriptionPath: string | null;
  dataQuality: DataQualityEntry[];
  prepared: Promise<string> | null;
}

export class DatasetCatalog {
  private readonly entries = new Map<string, DatasetEntry>();

  constructor(
    specs: readonly DatasetSpec[],
    private readonly storeDir: string,
    private readonly log: (event: string, fields: Record<string, unknown>) => void,
  ) {
    for (const spec of specs) {
      if (this.entries.has(spec.id)) throw new Error(`two datasets are named "${spec.id}" (${spec.input})`);
      this.entries.set(spec.id, { ...spec, state: 'pending', progress: 0, phase: null, error: null, rows: null, totalRows: null, etaSeconds: null, descriptionPath: null, dataQuality: [], prepared: null });
    }
  }

  /** The id of the requested dataset, or of the default (the first) when none is named. */
  resolve(requested: string | undefined): string {
    const id = requested ?? this.entries.keys().next().value;
    if (id === undefined || !this.entries.has(id)) throw controlErrors.unknownDataset(id ?? '(default)', [...this.entries.keys()]);
    return id;
  }

  list(): DatasetInfo[] {
    return [...this.entries.values()].map(({ id, input, state, progress, phase, error, rows, totalRows, etaSeconds, descriptionPath, dataQuality }) => ({
      id,
      inputs: [input],
      state,
      progress,
      phase,
      error,
      rows,
      totalRows,
      etaSeconds,
      descriptionPath,
      dataQuality,
    }));
  }

  /** Starts preparing every dataset now rather than on the first tab that asks. */
  prepareAll(): void {
    // A failure is kept in the entry (listed as `failed`, logged as dataset.failed) and given to
    // each session that asks for the dataset; nobody waits here.
    for (const id of this.entries.keys()) this.whenReady(id).catch(() => undefined);
  }

  /** The prepared store's path; prepares the dataset once, on first demand. */
  whenReady(id: string): Promise<string> {
    const entry = this.entries.get(id);
    if (!entry) return Promise.reject(controlErrors.unknownDataset(id, [...this.entries.keys()]));
    entry.prepared ??= this.prepare(entry);
    return entry.prepared;
  }

  private async prepare(entry: DatasetEntry): Promise<string> {
    entry.state = 'preparing';
    const started = Date.now();
    this.log('dataset.preparing', { dataset: entry.id, input: entry.input });
    try {
      const result = await prepareInChild({
        input: entry.input,
        storeDir: this.storeDir,
        ...(entry.mappingFile ? { mappingFile: entry.mappingFile } : {}),
        ...(entry.onBadRows ? { onBadRows: entry.onBadRows } : {}),
        onProgress: ({ phase, fraction, rows, totalRows, etaSeconds }) => {
          entry.phase = phase;
          entry.progress = fraction;
          entry.rows = rows;
          entry.totalRows = totalRows;
          entry.etaSeconds = etaSeconds;
        },
      });
      entry.state = 'ready';
      entry.progress = 1;
      entry.phase = null;
      entry.rows = entry.totalRows = entry.etaSeconds = null;
      entry.descriptionPath = result.descriptionPath;
      entry.dataQuality = result.dataQuality;
      this.log('dataset.ready', { dataset: entry.id, store: result.storePath, reused: result.reused, ms: Date.now() - started, dataQuality: result.dataQuality.length });
      return result.storePath;
    } catch (error) {
      entry.state = 'failed';
      entry.phase = null;
      entry.rows = entry.totalRows = entry.etaSeconds = null;
      entry.error = `dataset "${entry.id}" failed to prepare: ${errorMessage(error)}`;
      this.log('dataset.failed', { dataset: entry.id, error: entry.error });
      throw new Error(entry.error, { cause: error });
    }
  }
}
