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
/** How long an analyst may take to get its session and make its script before the watchdog calls it stuck. */
const SETUP_LIMIT_MS = 300_000;
/** How long past the window's end an analyst may still be busy before the watchdog calls it stuck. */
const STUCK_AFTER_WINDOW_MS = 120_000;

const job = workerData as AnalystJob;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const think = mulberry32(job.seed * 104_729 + 17);

/** What the analyst is doing, for the watchdog. */
let stage = 'creating its session';
let stuckAfter = Date.now() + SETUP_LIMIT_MS;
// Once the analyst is far past its window, this timer throws, which the bench reports with the
// analyst's name and this stage: a stuck analyst says where, rather than holding the bench up.
const watchdog = setInterval(() => {
  if (Date.now() < stuckAfter) return;
  clearInterval(watchdog);
  throw new Error(`stuck ${stage}`);
}, 1000);

const created = await createSession(job.url, { key: job.key });
stage = `connecting to session ${created.id}`;
const client = await SessionClient.connect(job.url, created.wsUrl);
// The script's own look-ups (the symbol list, the deepest episodes) are made here, unmeasured.
stage = 'making its script';
const script = await drillScript(client, SCRIPT_LENGTH, job.seed);
// Ready: the window opens once every analyst is (no session still spawning inside it).
stage = 'waiting for the window to open';
stuckAfter = Number.POSITIVE_INFINITY; // the bench opens it once every analyst is ready
parentPort!.postMessage('ready');
const [{ deadline }] = (await once(parentPort!, 'message')) as [AnalystStart];
stuckAfter = deadline + STUCK_AFTER_WINDOW_MS;
const samples: AnalystReport['samples'] = [];
let interactions = 0;
await sleep(job.startDelayMs);
for (const interaction of script) {
  if (Date.now() >= deadline) break;
  stage = `waiting for the answers of interaction ${interactions + 1} (${interaction.asks.map((ask) => ask.query).join(', ')})`;
  const answers = await Promise.all(interaction.asks.map((ask) => client.request(ask)));
  answers.forEach((answer, i) => {
    const ask = interaction.asks[i]!;
    if (answer.error) throw new Error(`analyst ${job.key}: ${ask.query} ${JSON.stringify(ask.params)}: ${answer.error.message}`);
    samples.push({ query: ask.query, ms: answer.elapsedMs });
  });
  interactions++;
  stage = `thinking after interaction ${interactions}`;
  await sleep(job.thinkMinMs + think() * (job.thinkMaxMs - job.thinkMinMs));
}
stage = 'closing its socket';
await client.close();
clearInterval(watchdog);
parentPort!.postMessage({ id: created.id, interactions, samples } satisfies AnalystReport);
