// What preparation found wrong with a dataset's rows, and what it did about it: rows dropped
// (onBadRows "drop"), rows refused (onBadRows "fail": every problem in one error), and findings
// that change nothing but must be said (e.g. a reconciliation of trades against bars). Kept in the
// store's data_quality table (server/store/format.ts), shown by GET /api/datasets and the UI.
import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBInstance } from '@duckdb/node-api';
import { errorMessage } from '../../shared/errors.js';
import type { DataQualityEntry } from '../../shared/http-api.js';
import { StoreTable } from '../store/format.js';
import { sqlString } from '../sql/text.js';
import type { BadRowPolicy } from './description.js';
import { PrepareError } from './errors.js';

export type { DataQualityEntry, DataQualityKind } from '../../shared/http-api.js';

/** How many example rows an entry keeps. */
export const EXAMPLES_KEPT = 3;

/** A problem with some rows, before the policy decides whether they are dropped or refused. */
export type RowProblem = Omit<DataQualityEntry, 'kind'>;

/** The data-quality entries of one build, and the bad-row policy that applies to them. */
export class DataQuality {
  readonly entries: DataQualityEntry[] = [];
  private readonly refused: RowProblem[] = [];

  /**
   * @param policy what to do with bad rows
   * @param descriptionPath the dataset description file, named in the error's fix
   */
  constructor(
    readonly policy: BadRowPolicy,
    private readonly descriptionPath: string,
  ) {}

  get dropping(): boolean {
    return this.policy === 'drop';
  }

  /** Rows with a problem: dropped (the caller deletes them) or refused at `failIfRefused`. */
  badRows(problem: RowProblem): void {
    if (this.dropping) this.entries.push({ kind: 'dropped', ...problem });
    else this.refused.push(problem);
  }

  /** Rows already reported for `problem` in `table`.`column` (dropped or refused). */
  countOf(table: string, column: string, problem: string): number {
    return [...this.entries, ...this.refused].filter((e) => e.table === table && e.column === column && e.problem === problem).reduce((n, e) => n + e.count, 0);
  }

  /** A finding that changes no row (never fatal). */
  finding(problem: RowProblem): void {
    this.entries.push({ kind: 'finding', ...problem });
  }

  /** Under "fail": one error listing every refused problem, with where to write the fix. */
  failIfRefused(): void {
    if (this.refused.length === 0) return;
    const lines = this.refused.map((p) => `- ${p.message}`);
    throw new PrepareError([
      `${this.refused.length} problem(s) in the dataset's rows:`,
      ...lines,
      `To prepare without these rows, add "onBadRows": "drop" to ${this.descriptionPath} (or pass --on-bad-rows drop); what is dropped is listed with the dataset.`,
    ]);
  }
}

/** Writes the data_quality table (empty when nothing was found). */
export async function writeDataQuality(con: DuckDBConnection, entries: readonly DataQualityEntry[]): Promise<void> {
  await con.run(`CREATE TABLE ${StoreTable.dataQuality} (kind VARCHAR, table_name VARCHAR, column_name VARCHAR, problem VARCHAR,
    count BIGINT, examples VARCHAR, message VARCHAR)`);
  if (entries.length === 0) return;
  const rows = entries.map((e) =>
    [e.kind, e.table, e.column ?? null, e.problem, e.count, JSON.stringify(e.examples), e.message]
      .map((v) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : sqlString(v)))
      .join(', '),
  );
  await con.run(`INSERT INTO ${StoreTable.dataQuality} VALUES ${rows.map((r) => `(${r})`).join(', ')}`);
}

/** The data_quality table of a store; none for a store without one. */
export async function readDataQuality(storePath: string): Promise<DataQualityEntry[]> {
  let instance: DuckDBInstance | null = null;
  try {
    instance = await DuckDBInstance.create(storePath, { access_mode: 'READ_ONLY' });
    const con = await instance.connect();
    try {
      const exists = await con.runAndReadAll(`SELECT 1 FROM duckdb_tables() WHERE table_name = ${sqlString(StoreTable.dataQuality)}`);
      if (exists.getRowsJson().length === 0) return [];
      const r = await con.runAndReadAll(`SELECT kind, table_name, column_name, problem, count::DOUBLE AS count, examples, message FROM ${StoreTable.dataQuality}`);
      return r.getRowObjectsJson().map((row) => ({
        kind: String(row['kind']) as DataQualityEntry['kind'],
        table: String(row['table_name']),
        column: row['column_name'] === null ? null : String(row['column_name']),
        problem: String(row['problem']),
        count: Number(row['count']),
        examples: JSON.parse(String(row['examples'])) as string[],
        message: String(row['message']),
      }));
    } finally {
      con.closeSync();
    }
  } catch (err) {
    throw new PrepareError(`the data-quality list of ${storePath} cannot be read: ${errorMessage(err)}`, { cause: err });
  } finally {
    instance?.closeSync();
  }
}
