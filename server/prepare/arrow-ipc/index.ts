// The door of the Arrow IPC room: Arrow files and streams among the inputs (file and stream
// format, pre-0.15 streams, compressed bodies) read one record batch at a time into DuckDB
// (read.ts), checked for schemas apache-arrow would misread (schema-check.ts). inputs/file-kinds.ts sniffs
// pre-0.15 streams with legacy-stream.ts directly: these readers take its DataFile.
export { readArrowSchema, stageArrowFiles, type StageOptions } from './read.js';
