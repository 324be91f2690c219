// What a preparation is asked (the settings a preparation child process can be sent) and what it
// answers: prepare.ts's API, in a module of its own because the module that grows a prepared
// dataset by a delta (grow-dataset.ts) answers the same.
import type { DataQualityEntry } from './data-quality.js';
import type { BadRowPolicy, DatasetDescription } from './description.js';
import type { PrepareProgress } from './progress.js';

/** What to prepare, and how: the options that can be sent to a preparation child process. */
export interface PrepareSettings {
  /** Dataset folder(s), files or globs. */
  input: string | readonly string[];
  storeDir: string;
  /** Memory budget of the whole preparation process (default: defaultMemoryLimit(), a quarter of
   * the machine). DuckDB gets most of it (duckdbMemoryLimit) and spills beyond. */
  memoryLimit?: string;
  /** DuckDB threads (default: DuckDB's, the number of cores). */
  threads?: number;
  /** The dataset description given in code; wins over the `tickscope.json` beside the data. */
  description?: DatasetDescription;
  /** `--mapping FILE`: a description file read instead of the one beside the data. Wins over `description`. */
  mappingFile?: string;
  /** `--on-bad-rows`: wins over the description's `onBadRows`. */
  onBadRows?: BadRowPolicy;
  /** Where DuckDB spills; default <storeDir>/.tmp/<build>. */
  tempDir?: string;
}

export interface PrepareOptions extends PrepareSettings {
  onProgress?: (p: PrepareProgress) => void;
  /** Give up waiting for another preparation of the same dataset after this long (default: never). */
  lockTimeoutMs?: number;
}

export interface PrepareResult {
  storePath: string;
  fingerprint: string;
  reused: boolean;
  /** True when another process prepared it while this one waited. */
  waited?: boolean;
  /** How timestamps were normalised to UTC (also in the store's meta table). */
  timezoneNote?: string;
  /** Input rows read (bars + trades) when built here. */
  rows?: number;
  /** The description file used, or where `tickscope.json` would be read from. */
  descriptionPath: string;
  /** What preparation dropped or found (the store's data_quality table). */
  dataQuality: DataQualityEntry[];
  /** The stores the dataset is read from (server/store/segments.ts) when more than one may be:
   * storePath is then their manifest. */
  segments?: number;
  /** The runs this preparation added to a prepared dataset as a delta segment. */
  addedRuns?: string[];
  /** Archives among the inputs that were not read (inputs/types.ts ResolvedInputs.archives), to be said beside the result. */
  unreadArchives?: string[];
}
