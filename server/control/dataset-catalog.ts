// The datasets this server can open, and their preparation into stores. Preparation runs in a
// child process (server/prepare), so bad input or a crash there cannot take any tab down.
//
// New runs in a served folder: once watchForNewRuns is started, each ready dataset's input
// listing (paths, sizes, times) is read every few seconds; when it differs from what was prepared
// and has stopped changing (the same on two reads in a row), the dataset is prepared again (a
// delta of the new runs, server/prepare/add-runs.ts, or the whole when that cannot be). The old
// store keeps serving meanwhile; then new sessions open the new one, and onRunsAdded tells the
// session manager, which tells the open tabs.
import { errorMessage } from '../../shared/errors.js';
import type { DataQualityEntry, DatasetInfo, DatasetState } from '../../shared/http-api.js';
import type { BadRowPolicy } from '../prepare/description.js';
import { resolveInputs, unreadArchivesText } from '../prepare/inputs/index.js';
import { prepareInChild } from '../prepare/run-in-child.js';
import { inputStamps } from '../prepare/segment-manifest.js';
import { controlErrors } from './errors.js';

/** A dataset prepared again with new runs: its store revision and the runs it added. */
export interface RunsAdded {
  dataset: string;
  revision: number;
  runs: string[];
}

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
  /** The inputs' files not read, with why (DatasetInfo.notRead). */
  notRead: string[];
  prepared: Promise<string> | null;
  /** Bumped each time the dataset is prepared again with new files; 0 for the first store. */
  revision: number;
  /** The runs each revision added (revision i at index i - 1). */
  added: string[][];
  /** The input listing the current store was prepared from, and the last one read. */
  preparedListing: string | null;
  seenListing: string | null;
  /** The last failure: the listing whose preparation failed, or the error reading the listing. */
  lastFailure: string | null;
  /** A preparation with new files is running. */
  growing: boolean;
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
      this.entries.set(spec.id, {
        ...spec, state: 'pending', progress: 0, phase: null, error: null, rows: null, totalRows: null, etaSeconds: null, descriptionPath: null, dataQuality: [], notRead: [], prepared: null,
        revision: 0, added: [], preparedListing: null, seenListing: null, lastFailure: null, growing: false,
      });
    }
  }

  private readonly runsAddedListeners = new Set<(added: RunsAdded) => void>();
  private watchTimer: NodeJS.Timeout | null = null;

  /** Calls `listener` each time a dataset is prepared again with new files. */
  onRunsAdded(listener: (added: RunsAdded) => void): void {
    this.runsAddedListeners.add(listener);
  }

  /** The revision of the dataset's current store (see DatasetEntry.revision). */
  revision(id: string): number {
    return this.entries.get(id)?.revision ?? 0;
  }

  /** The store path and its revision, read together (a dataset may grow while one waits). */
  async whenReadyAt(id: string): Promise<{ storePath: string; revision: number }> {
    for (;;) {
      const revision = this.revision(id);
      const storePath = await this.whenReady(id);
      if (this.revision(id) === revision) return { storePath, revision };
    }
  }

  /** The runs added to the dataset after store revision `revision`. */
  runsAddedSince(id: string, revision: number): string[] {
    return this.entries.get(id)?.added.slice(revision).flat() ?? [];
  }

  /** Reads each ready dataset's input listing every `intervalMs` and prepares it again when it grew. */
  watchForNewRuns(intervalMs: number): void {
    if (this.watchTimer || intervalMs <= 0) return;
    this.watchTimer = setInterval(() => {
      for (const entry of this.entries.values()) void this.lookForNewFiles(entry);
    }, intervalMs);
    this.watchTimer.unref();
  }

  /** Stops watching the served folders. */
  close(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = null;
  }

  private async lookForNewFiles(entry: DatasetEntry): Promise<void> {
    if (entry.state !== 'ready' || entry.growing || entry.preparedListing === null) return;
    entry.growing = true;
    let listing: string | null = null;
    try {
      listing = await this.listing(entry);
      const stable = listing === entry.seenListing;
      entry.seenListing = listing;
      if (listing === entry.preparedListing || listing === entry.lastFailure || !stable) return;
      this.log('dataset.growing', { dataset: entry.id, input: entry.input });
      const started = Date.now();
      const result = await prepareInChild({
        input: entry.input,
        storeDir: this.storeDir,
        ...(entry.mappingFile ? { mappingFile: entry.mappingFile } : {}),
        ...(entry.onBadRows ? { onBadRows: entry.onBadRows } : {}),
        onProgress: ({ phase }) => {
          entry.phase = phase;
        },
      });
      entry.phase = null;
      entry.preparedListing = listing;
      entry.dataQuality = result.dataQuality;
      entry.notRead = result.unreadArchives ?? [];
      entry.prepared = Promise.resolve(result.storePath);
      entry.revision++;
      const runs = result.addedRuns ?? [];
      entry.added.push(runs);
      this.log('dataset.grown', { dataset: entry.id, store: result.storePath, revision: entry.revision, addedRuns: runs, segments: result.segments ?? 1, ms: Date.now() - started });
      for (const listener of this.runsAddedListeners) listener({ dataset: entry.id, revision: entry.revision, runs });
    } catch (error) {
      // The current store keeps serving. The same files fail the same way (a corrupt file, a
      // run with bad rows): a preparation at every poll would keep a core busy for nothing and
      // the log would repeat itself, so the next try and the next line wait for a change.
      entry.phase = null;
      const failure = listing ?? `listing: ${errorMessage(error)}`;
      if (failure !== entry.lastFailure) this.log('dataset.grow-failed', { dataset: entry.id, error: errorMessage(error) });
      entry.lastFailure = failure;
    } finally {
      entry.growing = false;
    }
  }

  /** The dataset's input files with their sizes and times (archives and workbooks as they are, unopened), as one comparable text. */
  private async listing(entry: DatasetEntry): Promise<string> {
    const resolved = await resolveInputs([entry.input]);
    return JSON.stringify([inputStamps(resolved), resolved.containers ?? []]);
  }

  /** The id of the requested dataset, or of the default (the first) when none is named. */
  resolve(requested: string | undefined): string {
    const id = requested ?? this.entries.keys().next().value;
    if (id === undefined || !this.entries.has(id)) throw controlErrors.unknownDataset(id ?? '(default)', [...this.entries.keys()]);
    return id;
  }

  list(): DatasetInfo[] {
    return [...this.entries.values()].map(({ id, input, state, progress, phase, error, rows, totalRows, etaSeconds, descriptionPath, dataQuality, notRead, revision, added }) => ({
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
      notRead,
      revision,
      addedRuns: added.flat(),
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
      // Read before preparing: files added meanwhile differ from it and are prepared next.
      entry.preparedListing = await this.listing(entry).catch(() => null);
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
      entry.notRead = result.unreadArchives ?? [];
      this.log('dataset.ready', {
        dataset: entry.id,
        store: result.storePath,
        reused: result.reused,
        ms: Date.now() - started,
        dataQuality: result.dataQuality.length,
        ...(result.unreadArchives ? { notRead: unreadArchivesText(result.unreadArchives) } : {}),
      });
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
