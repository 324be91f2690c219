// Schema problems: what is wrong with a dataset's columns, found while its inputs are inspected
// (footers, schemas and CSV sniffs only), before any row is read. They are collected over every
// table rather than thrown one by one, so that a user learns every problem of the dataset from one
// try: preparation raises them as one PrepareError (formats/index.ts inspectInputs), `tickscope
// inspect` lists them per table and file. Problems that make further inspection meaningless (an
// input that does not exist, a file that is not Parquet) are still thrown at once where found.
import { PrepareError } from './errors.js';
import type { TableKind } from './inputs/index.js';

export interface SchemaProblem {
  table: TableKind;
  /** The input files the problem is in (every file of the table when it is the table's as a whole). */
  files: string[];
  /** The canonical columns concerned ([] for a problem of the files, such as mixed schemas). */
  canonical: string[];
  /** The input columns concerned, where they exist. */
  columns: string[];
  /** What the inputs hold, e.g. "type VARCHAR" or "columns ts, sym, close". */
  found: string;
  /** What preparation needs instead, e.g. "a number". */
  expected: string;
  /** The tickscope.json entry that fixes it, when a mapping can, e.g. `"bars": { "pnl": "<your column>" }`. */
  fix: string | null;
  /** The whole sentence, naming the table, the file(s) and the column, as the error gives it. */
  message: string;
}

/** The tickscope.json entry mapping the `canonical` columns of `table` to columns of the user's. */
export function mappingFix(table: TableKind, canonical: readonly string[]): string {
  return `"${table}": { ${canonical.map((c) => `"${c}": "<your column>"`).join(', ')} }`;
}

/** The schema problems of one dataset, in the order found. */
export class SchemaProblems {
  readonly list: SchemaProblem[] = [];

  add(problem: SchemaProblem): void {
    this.list.push(problem);
  }

  /** The problems naming `file`. */
  of(file: string): SchemaProblem[] {
    return this.list.filter((p) => p.files.includes(file));
  }

  /**
   * One error listing every problem; a single problem keeps its own sentence as the message, so
   * that the common case reads as it always has.
   */
  throwIfAny(): void {
    if (this.list.length === 0) return;
    if (this.list.length === 1) throw new PrepareError(this.list[0]!.message);
    throw new PrepareError([
      `${this.list.length} schema problems in the dataset's inputs (found from the files' columns, before any row was read):`,
      ...this.list.map((p) => `- ${p.message}`),
    ]);
  }
}
