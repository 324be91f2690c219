// What the format adapters stage for a dataset folder, through the pipeline's own entry points
// (inputs resolved, candidates read, formats recognised and staged: server/prepare/formats/),
// read back as plain rows with timestamps as epoch milliseconds. For datasets whose store the
// session cannot serve yet (trade-only formats have no bars): the canonical tables they give.
import { DuckDBInstance } from '@duckdb/node-api';
import { resolveInputs } from '../../server/prepare/inputs/index.js';
import { readCandidates } from '../../server/prepare/formats/candidates.js';
import { recogniseFormats, stageFormats, describeRecognised } from '../../server/prepare/formats/index.js';

export interface StagedDataset {
  /** describe()'s summary of each recognised format. */
  formats: string[];
  /** Files no adapter claimed. */
  rest: string[];
  trades: Record<string, unknown>[];
  runs: Record<string, unknown>[];
  sources: string[];
}

export async function stageDataset(dir: string): Promise<StagedDataset> {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  try {
    await con.run(`SET TimeZone = 'UTC'`);
    const recognition = recogniseFormats(await readCandidates(con, await resolveInputs([dir])));
    const staged = await stageFormats(con, recognition, {});
    const rows = async (sql: string) => (await con.runAndReadAll(sql)).getRowObjectsJson();
    const trades = staged.tables.trades
      ? await rows(`SELECT * REPLACE (epoch_ms(entry_ts)::DOUBLE AS entry_ts, epoch_ms(exit_ts)::DOUBLE AS exit_ts) FROM ${staged.tables.trades.relation}`)
      : [];
    const runs = staged.tables.runs ? await rows(`SELECT * FROM ${staged.tables.runs.relation}`) : [];
    return {
      formats: recognition.recognised.map((r) => describeRecognised(r).summary),
      rest: recognition.rest.map((f) => f.path),
      trades: trades.map((t) => ({ ...t, entry_ts: t.entry_ts === null ? null : Number(t.entry_ts), exit_ts: t.exit_ts === null ? null : Number(t.exit_ts) })),
      runs,
      sources: staged.sources,
    };
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}
