// Which files make up a dataset, and which table each belongs to: the door of the inputs room.
//
// Inputs are files, folders, globs (`*`, `?`, `**`, `[...]`) and hive-partitioned folders
// (`key=value` path components become columns). Each data file is assigned to a table by the
// deepest path component, from the file's own name up to the input's own folder name, that names
// one: `bars`, `trades`, `symbols` or `runs` (or a singular, or a prefix such as `trades_2024`).
// Files that no component assigns are bars. So a dataset folder (bars/, trades/, symbols.parquet,
// runs.arrow ...), a bare hive folder of bars, `prepare ds/trades/*.parquet` and
// `prepare bars.parquet trades.arrow` all do what they say.
//
// Formats: Parquet (.parquet .parq .pq) and Arrow IPC (.arrow .arrows .feather .ipc; file or
// stream format, told apart by the magic bytes), both sniffed whatever the extension; CSV (.csv
// .tsv, read by DuckDB's read_csv, which sniffs the delimiter and types) and JSON (.json
// .jsonl .ndjson), known by extension, also with .gz or .zst after it (DuckDB inflates them).
// Any other file compressed whole (.bz2, .xz, a .gz of a pickle) is an archive of the one file
// it holds (archives/).
// Inside folders only those extensions are read, and hidden or `_`-prefixed files (`_SUCCESS`,
// `.crc`, a manifest) and the dataset description (tickscope.json) are skipped.
//
// Which tables a dataset has is settled only after the format adapters (formats/index.ts) have
// claimed the files they recognise (a pyfolio `positions.parquet` is not bars), so the check that
// there are bars at all is formats/index.ts's, not this room's.
//
// The room: types.ts (what the inputs come to), naming.ts (which table a path names),
// file-kinds.ts (what a file is), listing.ts (folders and globs), containers.ts (files that hold
// tables, written out and placed as files), run-folders.ts (one backtest per folder), resolve.ts
// (all of it, in order), messages.ts (what is said of inputs that give no data).

export { TABLE_KINDS, sourceLabel, stampPath, type DataFile, type FileFormat, type ResolvedInputs, type Source, type TableKind } from './types.js';
export { commonFolder } from './naming.js';
export { formatByExtension, nameWithoutExtension, sniffFormat } from './file-kinds.js';
export { hasGlob } from './listing.js';
export { resolveInputs, type ResolveOptions } from './resolve.js';
export { looseKind, noBarsError, unreadArchivesText, type LooseKind } from './messages.js';
