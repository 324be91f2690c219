// bench:sessions' drill-down from a thread of its own: the tab's client decodes its answers off
// the control server's event loop, as a browser does elsewhere. In the control server's own loop
// (as the local-only parts of the bench run it), a remote session's proxy would wait behind the
// client's decoding, which a real deployment never does.
import { parentPort, workerData } from 'node:worker_threads';
import { SessionClient, createSession } from '../support/session-client.js';
import { runDrillScript } from './drill-script.js';

const { url, key, seed, interactions } = workerData as { url: string; key: string; seed: number; interactions: number };
const created = await createSession(url, { key });
const client = await SessionClient.connect(url, created.wsUrl);
const latencies = await runDrillScript(client, interactions, seed);
await client.close();
parentPort!.postMessage({ id: created.id, latencies });
