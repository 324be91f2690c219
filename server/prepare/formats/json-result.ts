// What the adapters of a tool's result JSON (Lean, Freqtrade) read it with: the whole document as
// one JSON value, and the tools' UTC times.
import { sqlString } from '../../sql/text.js';
import type { CandidateFile } from './adapter.js';

/** The file's JSON document as a relation of one row, `doc` (a result can be hundreds of MB). */
export function jsonDocumentSql(file: CandidateFile): string {
  return `(SELECT json AS doc FROM read_json_objects(${sqlString(file.path)}, maximum_object_size = 2147483647))`;
}

/** A UTC time written as ISO text, with or without an offset, as TIMESTAMPTZ. */
export function utcTimeSql(text: string): string {
  return `CASE WHEN regexp_matches(${text}, '(Z|[+-]\\d\\d:?\\d\\d)$') THEN ${text}::TIMESTAMPTZ ELSE timezone('UTC', ${text}::TIMESTAMP) END`;
}
