// The control server's error replies, from its one catalogue (server/control/errors.ts): each
// route and the WebSocket gateway answer with the status, label, message and Retry-After of its
// code. A control server with no dataset and a runtime that starts nothing: no child process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startControlServer, type ControlServer } from '../../server/control/app.js';
import { ControlError, controlErrors } from '../../server/control/errors.js';
import type { SessionRuntime } from '../../server/control/runtime/types.js';
import { postSession } from '../support/session-client.js';

const noProcesses: SessionRuntime = {
  acquire: () => Promise.reject(new Error('this test starts no session process')),
  warmCount: 0,
  setWarmLimit: () => undefined,
  close: async () => undefined,
};

let server: ControlServer;

before(async () => {
  server = await startControlServer({
    host: '127.0.0.1',
    port: 0,
    datasets: [],
    storeDir: '/nonexistent',
    poolSize: 0,
    logger: false,
    runtime: noProcesses,
    limits: {
      maxSessions: 2,
      idleTimeoutMs: 60_000,
      lifetimeMs: 0,
      startupTimeoutMs: 1000,
      terminateGraceMs: 100,
      memoryLimit: '64MB',
      threads: 1,
      memoryBudgetBytes: 2 ** 30,
    },
  });
});
after(() => server?.close());

/** An HTTP upgrade to `path`: the status and body of the refusal. */
function upgrade(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers: { connection: 'Upgrade', upgrade: 'websocket' } });
    req.once('response', (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.once('upgrade', () => reject(new Error(`the upgrade to ${path} was accepted`)));
    req.once('error', reject);
    req.end();
  });
}

test('a control error carries its code, status and cause, and replies in the ErrorReply shape', () => {
  const cause = new Error('store is gone');
  const error = controlErrors.sessionFailed('cannot open prepared store x', cause);
  assert.ok(error instanceof ControlError);
  assert.equal(error.code, 'session-failed');
  assert.equal(error.statusCode, 500);
  assert.equal(error.cause, cause);
  assert.deepEqual(error.reply(), { statusCode: 500, error: 'Session Failed', message: 'cannot open prepared store x' });
  assert.equal(controlErrors.shuttingDown().retryAfterSeconds, 5);
  assert.equal(controlErrors.queueFull(3, 4, 12).retryAfterSeconds, 12, 'the queue estimate overrides the catalogue');
  assert.equal(controlErrors.noSession('a').retryAfterSeconds, undefined);
});

test('routes answer unknown datasets and sessions with the catalogue 404s', async () => {
  const created = await postSession(server.url, { dataset: 'nope' });
  assert.equal(created.status, 404);
  assert.deepEqual(await created.json(), { statusCode: 404, error: 'Not Found', message: 'unknown dataset "nope"; this server has none' });
  const deleted = await fetch(`${server.url}/api/sessions/abc`, { method: 'DELETE' });
  assert.equal(deleted.status, 404);
  assert.deepEqual(await deleted.json(), { statusCode: 404, error: 'Not Found', message: 'no live session abc' });
  const status = await fetch(`${server.url}/api/sessions/abc/status`);
  assert.equal(status.status, 404);
  assert.deepEqual(await status.json(), { statusCode: 404, error: 'Not Found', message: 'no session abc' });
});

test('Fastify errors keep their own status: a malformed body is a 400', async () => {
  const response = await postSession(server.url, { admin: true });
  assert.equal(response.status, 400);
  const body = (await response.json()) as { statusCode: number; message: string };
  assert.equal(body.statusCode, 400);
  assert.match(body.message, /admin|additional/i);
});

test('the WebSocket gateway refuses with the catalogue statuses and messages', async () => {
  assert.deepEqual(await upgrade('/elsewhere'), { status: 404, body: 'no WebSocket endpoint here\n' });
  assert.deepEqual(await upgrade('/ws/abc?token=x'), { status: 404, body: 'no session abc\n' });
});

// Last: the server stays shut to new sessions.
test('while the server shuts down, a new session is a 503 with Retry-After', async () => {
  await server.sessions.shutdown();
  const response = await postSession(server.url, {});
  assert.equal(response.status, 503);
  assert.equal(response.headers.get('retry-after'), '5');
  assert.deepEqual(await response.json(), { statusCode: 503, error: 'Service Unavailable', message: 'the server is shutting down' });
});
