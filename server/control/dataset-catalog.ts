// The datasets this server can open, and their preparation into stores. Preparation runs in a
// child process (server/prepare), so bad input or a crash there cannot take any tab down.
import type { DatasetInfo, DatasetState } from '../../shared/protocol.js';
import { prepareInChild } from '../prepare/run-in-child.js';

export interface DatasetSpec {
  id: string;
  /** The dataset folder (see server/prepare for the layout it accepts). */
  input: string;
}

export class UnknownDatasetError extends Error {
  constructor(id: string, known: readonly string[]) {
    super(`unknown dataset "${id}"; this server has ${known.map((k) => `"${k}"`).join(', ') || 'none'}`);
    this.name = 'UnknownDatasetError';
  }
}

interface DatasetEntry extends DatasetSpec {
  state: DatasetState;
  progress: number;
  phase: string | null;
  error: string | null;
  rows: number | null;
  totalRows: number | null;
  etaSeconds: number | null;
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
      this.entries.set(spec.id, { ...spec, state: 'pending', progress: 0, phase: null, error: null, rows: null, totalRows: null, etaSeconds: null, prepared: null });
    }
  }

  /** The id of the requested dataset, or of the default (the first) when none is named. */
  resolve(requested: string | undefined): string {
    const id = requested ?? this.entries.keys().next().value;
    if (id === undefined || !this.entries.has(id)) throw new UnknownDatasetError(id ?? '(default)', [...this.entries.keys()]);
    return id;
  }

  list(): DatasetInfo[] {
    return [...this.entries.values()].map(({ id, input, state, progress, phase, error, rows, totalRows, etaSeconds }) => ({
      id,
      inputs: [input],
      state,
      progress,
      phase,
      error,
      rows,
      totalRows,
      etaSeconds,
    }));
  }

  /** Starts preparing every dataset now rather than on the first tab that asks. */
  prepareAll(): void {
    for (const id of this.entries.keys()) this.whenReady(id).catch(() => undefined);
  }

  /** The prepared store's path; prepares the dataset once, on first demand. */
  whenReady(id: string): Promise<string> {
    const entry = this.entries.get(id);
    if (!entry) return Promise.reject(new UnknownDatasetError(id, [...this.entries.keys()]));
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
      this.log('dataset.ready', { dataset: entry.id, store: result.storePath, reused: result.reused, ms: Date.now() - started });
      return result.storePath;
    } catch (error) {
      entry.state = 'failed';
      entry.error = `dataset "${entry.id}" failed to prepare: ${(error as Error).message}`;
      this.log('dataset.failed', { dataset: entry.id, error: entry.error });
      throw new Error(entry.error);
    }
  }
}
