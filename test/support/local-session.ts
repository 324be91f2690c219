// The session's query path in-process, without a socket: a prepared store opened READ_ONLY as a
// session opens it, requests planned and streamed through the same QueryRunner, every batch
// decoded from Arrow IPC. For query correctness tests (fast, no child processes).
import { tableFromIPC, type Table } from 'apache-arrow';
import { PART_METADATA_KEY } from '../../shared/frame.js';
import { clientMessageValidator, type QueryRequest } from '../../shared/messages.js';
import { prepareDataset, type PrepareSettings } from '../../server/prepare/prepare.js';
import { planRequest } from '../../server/session/queries/index.js';
import type { QueryOutcome } from '../../server/session/query-outcome.js';
import { QueryRunner } from '../../server/session/query-runner.js';
import { openStore, type OpenStore } from '../../server/session/store.js';
import { testStoreDir } from './datasets.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type Ask = DistributiveOmit<QueryRequest, 'type' | 'id'>;

export interface LocalAnswer {
  outcome: QueryOutcome;
  /** Rows of each part as plain objects ('' for a single-part answer). */
  parts: Map<string, Record<string, unknown>[]>;
  /** Rows of the first part. */
  rows: Record<string, unknown>[];
  tables: Table[];
}

export class LocalSession {
  private nextId = 1;

  private constructor(
    readonly store: OpenStore,
    readonly runner: QueryRunner,
  ) {}

  static async open(input: string, threads = 1, settings: Partial<Pick<PrepareSettings, 'storeDir' | 'description'>> = {}): Promise<LocalSession> {
    const { storePath } = await prepareDataset({ input, storeDir: testStoreDir(), ...settings });
    const store = await openStore({ storePath, memoryLimit: '512MB', threads });
    return new LocalSession(store, new QueryRunner(store.instance, 4));
  }

  /** Validates the request as the socket handler does, plans it, streams it, decodes it. */
  async ask(ask: Ask, signal: AbortSignal = new AbortController().signal): Promise<LocalAnswer> {
    const request = { type: 'request', id: this.nextId++, ...ask };
    const checked = clientMessageValidator.check(request);
    if (!checked.ok) throw new Error(checked.error);
    const planner = planRequest(checked.value as QueryRequest, this.store.catalog);
    const tables: Table[] = [];
    const outcome = await this.runner.run({
      planner,
      signal,
      batchRows: 1000,
      onBatch: async (ipc) => {
        tables.push(tableFromIPC(ipc));
      },
    });
    const parts = new Map<string, Record<string, unknown>[]>();
    for (const table of tables) {
      const part = table.schema.metadata.get(PART_METADATA_KEY) ?? '';
      const rows = parts.get(part) ?? parts.set(part, []).get(part)!;
      for (const row of table.toArray()) rows.push(row.toJSON() as Record<string, unknown>);
    }
    return { outcome, parts, rows: parts.values().next().value ?? [], tables };
  }

  close(): void {
    this.runner.close();
    this.store.close();
  }
}
