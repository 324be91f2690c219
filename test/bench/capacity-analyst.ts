// One simulated analyst of bench:capacity, on a thread of its own (its answers are decoded off the
// control server's loop and off the other analysts', as each analyst's browser would): its own
// session, the scripted drill-down (drill-script.ts, its own seed), each interaction's requests
// sent together as the UI sends them, and a think time between interactions, until the deadline.
// Messages: 'ready' to the bench once its session is up, AnalystStart back, AnalystReport at the end.
import { once } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { mulberry32 } from '../support/random.js';
import { SessionClient, createSession } from '../support/session-client.js';
import { drillScript } from './drill-script.js';

export interface AnalystJob {
  url: string;
  key: string;
  seed: number;
  /** Before the first interaction, once the window opens (analysts do not all start at the same instant). */
  startDelayMs: number;
  thinkMinMs: number;
  thinkMaxMs: number;
}

/** The bench's word that every analyst is ready: the window opens now and closes at `deadline` (Date.now()). */
export interface AnalystStart {
  deadline: number;
}

export interface AnalystReport {
  id: string;
  interactions: number;
  /** Per answer: the query and request sent -> Arrow decoded, ms. */
  samples: { query: string; ms: number }[];
}

/** Interactions generated up front: more than any analyst gets through in a bench window. */
const SCRIPT_LENGTH = 200;

const job = workerData as AnalystJob;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const think = mulberry32(job.seed * 104_729 + 17);

const created = await createSession(job.url, { key: job.key });
const client = await SessionClient.connect(job.url, created.wsUrl);
// The script's own look-ups (the symbol list, the deepest episodes) are made here, unmeasured.
const script = await drillScript(client, SCRIPT_LENGTH, job.seed);
// Ready: the window opens once every analyst is (no session still spawning inside it).
parentPort!.postMessage('ready');
const [{ deadline }] = (await once(parentPort!, 'message')) as [AnalystStart];
const samples: AnalystReport['samples'] = [];
let interactions = 0;
await sleep(job.startDelayMs);
for (const interaction of script) {
  if (Date.now() >= deadline) break;
  const answers = await Promise.all(interaction.asks.map((ask) => client.request(ask)));
  answers.forEach((answer, i) => {
    const ask = interaction.asks[i]!;
    if (answer.error) throw new Error(`analyst ${job.key}: ${ask.query} ${JSON.stringify(ask.params)}: ${answer.error.message}`);
    samples.push({ query: ask.query, ms: answer.elapsedMs });
  });
  interactions++;
  await sleep(job.thinkMinMs + think() * (job.thinkMaxMs - job.thinkMinMs));
}
await client.close();
parentPort!.postMessage({ id: created.id, interactions, samples } satisfies AnalystReport);
