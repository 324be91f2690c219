// Issue 13, item 1-2: the attacks of a client on the same network (or of a web page in the
// analyst's browser) against a real control server and real session processes. Each test is an
// attack that worked before owners, the Host allow-list and the Origin check; it fails if the
// attack works again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';
import type { ControlServer } from '../../server/control/app.js';
import type { SessionInfo } from '../../shared/http-api.js';
import { startTestServer } from '../support/control-server.js';
import { ApiCaller, SessionClient } from '../support/session-client.js';

let server: ControlServer;
let port: number;

before(async () => {
  // The attacks below open more sessions (as many owners) than the default limit of 10, and end
  // none: past it, a create waits in the queue for an idle one to end (a minute) — it did, for
  // 55 s of every run.
  server = await startTestServer({ limits: { maxSessions: 30 } });
  port = Number(new URL(server.url).port);
});

after(async () => {
  await server.close();
});

/** One HTTP request with exactly these headers (fetch cannot send a forged Host). */
function rawRequest(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** The status of a WebSocket upgrade with these headers: 101 if it was accepted. */
function upgradeStatus(wsUrl: string, headers: Record<string, string>, baseUrl = server.url): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(new URL(wsUrl, baseUrl.replace(/^http/, 'ws')), { headers });
    socket.once('upgrade', () => {
      socket.terminate();
      resolve(101);
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      socket.terminate();
    });
    socket.once('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

const tokenOf = (wsUrl: string) => new URL(wsUrl, 'http://x').searchParams.get('token')!;
const own = () => `127.0.0.1:${port}`;

test('takeover by key: another client asking with your key gets a session of its own, and never sees your key', async () => {
  const alice = new ApiCaller(server.url);
  const mallory = new ApiCaller(server.url);
  const mine = await alice.createSession({ key: 'alice-desk-book' });

  const listed = await mallory.fetch('/api/sessions');
  assert.equal(listed.status, 200);
  const text = await listed.text();
  assert.ok(!text.includes('alice-desk-book'), "another client's list shows no key of alice's");
  assert.ok(!text.includes(mine.id), "nor alice's session id");

  const theirs = await mallory.createSession({ key: 'alice-desk-book' });
  assert.notEqual(theirs.id, mine.id, 'the same key of another owner is another session');
  assert.notEqual(tokenOf(theirs.wsUrl), tokenOf(mine.wsUrl));
  // Alice still finds her own.
  assert.equal((await alice.createSession({ key: 'alice-desk-book' })).id, mine.id);
  assert.deepEqual((await alice.listSessions()).filter((s) => s.status === 'ready').map((s) => s.key), ['alice-desk-book']);
});

test("DELETE of another's session: refused (as unknown), whatever the Origin; the owner's own DELETE needs an allowed Origin", async () => {
  const alice = new ApiCaller(server.url);
  const mallory = new ApiCaller(server.url);
  const mine = await alice.createSession({ key: 'alice-delete' });
  await mallory.createSession({ key: 'mallory-own' }); // Mallory is a known owner, not a stranger

  for (const [origin, refusal] of [[undefined, 404], [server.url, 404], ['http://evil.example', 403]] as const) {
    const response = await mallory.fetch(`/api/sessions/${mine.id}`, { method: 'DELETE', headers: origin ? { origin } : {} });
    assert.equal(response.status, refusal, `DELETE by another owner, Origin ${origin}`);
  }
  const status = await mallory.fetch(`/api/sessions/${mine.id}/status`);
  assert.equal(status.status, 404, "another owner's status stream");
  await status.body?.cancel();

  // The owner's browser on a page of another site (a cross-site request carrying her cookie).
  const crossSite = await alice.fetch(`/api/sessions/${mine.id}`, { method: 'DELETE', headers: { origin: 'http://evil.example' } });
  assert.equal(crossSite.status, 403);
  assert.equal((await alice.listSessions()).find((s) => s.id === mine.id)?.status, 'ready', 'the session is alive');

  const byOwner = await alice.fetch(`/api/sessions/${mine.id}`, { method: 'DELETE', headers: { origin: server.url } });
  assert.equal(byOwner.status, 204);
});

test('DNS rebinding: a Host that is not this server is refused on every route and on the upgrade', async () => {
  const alice = new ApiCaller(server.url);
  const mine = await alice.createSession({ key: 'alice-rebind' });
  const evilHost = `rebind.evil.example:${port}`;
  const evilOrigin = `http://${evilHost}`;
  for (const [method, path] of [['GET', '/'], ['GET', '/api/sessions'], ['GET', '/api/datasets'], ['GET', `/api/sessions/${mine.id}/status`]] as const) {
    const response = await rawRequest(method, path, { host: evilHost });
    assert.equal(response.status, 403, `${method} ${path} with Host ${evilHost}`);
    assert.ok(!response.body.includes('alice-rebind'));
  }
  const post = await rawRequest('POST', '/api/sessions', { host: evilHost, origin: evilOrigin, 'content-type': 'application/json' }, '{"key":"rebound"}');
  assert.equal(post.status, 403, 'a rebinding page gets no session');
  assert.ok(!post.body.includes('wsUrl'));
  // Even holding a real token (and the owner's cookie), the upgrade through the rebinding name is refused.
  const status = await upgradeStatus(mine.wsUrl, { host: evilHost, origin: evilOrigin, cookie: alice.cookieHeader() ?? '' });
  assert.equal(status, 403);
  // A missing Host (HTTP/1.0 style) is refused too.
  const noHost = await rawRequest('GET', '/api/sessions', {});
  assert.ok(noHost.status === 400 || noHost.status === 403, `no Host: ${noHost.status}`);
});

test('scheme-changed Origin: https://127.0.0.1:PORT is not the origin of http://127.0.0.1:PORT', async () => {
  const alice = new ApiCaller(server.url);
  const mine = await alice.createSession({ key: 'alice-scheme' });
  const cookie = alice.cookieHeader() ?? '';
  for (const origin of [`https://${own()}`, `http://127.0.0.1:${port + 1}`, 'null', `http://${own()}.evil.example`]) {
    assert.equal(await upgradeStatus(mine.wsUrl, { host: own(), origin, cookie }), 403, `Origin ${origin}`);
  }
  // The page's own origin opens it.
  assert.equal(await upgradeStatus(mine.wsUrl, { host: own(), origin: `http://${own()}`, cookie }), 101);
  // A state-changing request from another origin is refused as well.
  const post = await alice.fetch('/api/sessions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: `https://${own()}` },
    body: '{"key":"alice-scheme"}',
  });
  assert.equal(post.status, 403);
});

test('no Origin with a stolen key and token: a non-browser client that is not the owner gets nothing', async () => {
  const alice = new ApiCaller(server.url);
  const mine = await alice.createSession({ key: 'alice-stolen' });
  // No cookie, no Origin: the key finds nothing of alice's, the token opens nothing.
  const stranger = new ApiCaller(server.url);
  const theirs = await stranger.createSession({ key: 'alice-stolen' });
  assert.notEqual(theirs.id, mine.id);
  assert.equal(await upgradeStatus(mine.wsUrl, { host: own() }), 403, 'stolen token, no cookie, no Origin');
  // The owner's own non-browser client (cookie, no Origin) is let through: the owner check decides.
  const client = await SessionClient.connect(server.url, mine.wsUrl, {}, alice);
  assert.equal(client.hello.sessionId, mine.id);
  await client.close();
});

test("token reuse across owners: another owner's cookie with your token is refused at the WebSocket", async () => {
  const alice = new ApiCaller(server.url);
  const mallory = new ApiCaller(server.url);
  const mine = await alice.createSession({ key: 'alice-token' });
  await mallory.createSession({ key: 'mallory-token' });
  const status = await upgradeStatus(mine.wsUrl, { host: own(), origin: `http://${own()}`, cookie: mallory.cookieHeader() ?? '' });
  assert.equal(status, 403);
  await assert.rejects(SessionClient.connect(server.url, mine.wsUrl, { origin: server.url }, mallory), /403/);
  // A forged owner cookie is no identity at all.
  const forged = alice.cookieHeader()!.replace(/=([^.;]*)\./, '=0000000000000000000000000000000a.');
  assert.notEqual(forged, alice.cookieHeader());
  assert.equal(await upgradeStatus(mine.wsUrl, { host: own(), origin: `http://${own()}`, cookie: forged }), 403);
});

test('the owner cookie is HttpOnly and SameSite=Strict, and is not set for a cross-site request', async () => {
  const response = await rawRequest('GET', '/api/health', { host: own() });
  const cookie = ([] as string[]).concat(response.headers['set-cookie'] ?? []).find((c) => c.startsWith(`tickscope_owner_${port}=`));
  assert.ok(cookie, 'a first request gets an owner cookie');
  assert.match(cookie, /;\s*HttpOnly/i);
  assert.match(cookie, /;\s*SameSite=Strict/i);
  assert.match(cookie, /;\s*Path=\//i);
  // A navigation from another site carries no Strict cookie: answering it with a new identity
  // would replace the browser's own (and orphan its tabs' sessions).
  const crossSite = await rawRequest('GET', '/', { host: own(), 'sec-fetch-site': 'cross-site' });
  assert.equal(crossSite.headers['set-cookie'], undefined);
});

test('session replies and lists are never cached, and pages cannot be framed by another site', async () => {
  const alice = new ApiCaller(server.url);
  const response = await alice.postSession({ key: 'alice-headers' });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('cache-control') ?? '', /no-store/);
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
});

test('an operator token sees every session (and nothing less is an operator)', async () => {
  const token = 'operator-token-for-tests-0123456789';
  const admin = await startTestServer({ adminToken: token });
  try {
    const alice = new ApiCaller(admin.url);
    const bob = new ApiCaller(admin.url);
    const a = await alice.createSession({ key: 'alice-op' });
    const b = await bob.createSession({ key: 'bob-op' });
    const operator = new ApiCaller(admin.url, { authorization: `Bearer ${token}` });
    const all = await operator.listSessions();
    assert.deepEqual(new Set(all.map((s) => s.id)), new Set([a.id, b.id]));
    assert.ok(all.every((s) => typeof s.owner === 'string' && s.owner.length > 0), 'the operator sees whose each is');
    const wrong = new ApiCaller(admin.url, { authorization: `Bearer ${token.slice(0, -1)}x` });
    assert.equal((await wrong.fetch('/api/sessions')).status, 401);
    assert.deepEqual((await alice.listSessions()).map((s) => s.id), [a.id]);
    // The operator ends anyone's session.
    assert.equal((await operator.fetch(`/api/sessions/${b.id}`, { method: 'DELETE' })).status, 204);
    // A session's own token ends it too (a script that holds only the wsUrl).
    const byToken = await new ApiCaller(admin.url).fetch(`/api/sessions/${a.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${tokenOf(a.wsUrl)}` },
    });
    assert.equal(byToken.status, 204);
  } finally {
    await admin.close();
  }
});

test('behind an authenticating proxy (--trust-user-header): the named user is the owner, and only when configured', async () => {
  const proxied = await startTestServer({ trustUserHeader: 'X-Forwarded-User' });
  try {
    const alice = new ApiCaller(proxied.url, { 'x-forwarded-user': 'alice' });
    const aliceOtherBrowser = new ApiCaller(proxied.url, { 'x-forwarded-user': 'alice' });
    const bob = new ApiCaller(proxied.url, { 'x-forwarded-user': 'bob' });
    const a = await alice.createSession({ key: 'shared-name' });
    assert.equal((await aliceOtherBrowser.createSession({ key: 'shared-name' })).id, a.id, 'the user, not the browser, owns it');
    assert.notEqual((await bob.createSession({ key: 'shared-name' })).id, a.id);
    assert.equal(await upgradeStatus(a.wsUrl, { 'x-forwarded-user': 'bob' }, proxied.url), 403, "bob with alice's token");
    assert.equal(await upgradeStatus(a.wsUrl, {}, proxied.url), 403, 'nobody with her token');
    assert.equal(await upgradeStatus(a.wsUrl, { 'x-forwarded-user': 'alice' }, proxied.url), 101, 'alice herself');
    const anonymous = await new ApiCaller(proxied.url).postSession({ key: 'x' });
    assert.equal(anonymous.status, 401, 'no user named: no session');
    // Control characters are no user name.
    const odd = await new ApiCaller(proxied.url, { 'x-forwarded-user': 'alice\u0007' }).fetch('/api/sessions').catch(() => null);
    assert.ok(odd === null || odd.status === 400 || odd.status === 401);
  } finally {
    await proxied.close();
  }
  // Not configured: the header is nobody.
  const alice = new ApiCaller(server.url, { 'x-forwarded-user': 'alice' });
  const mallory = new ApiCaller(server.url, { 'x-forwarded-user': 'alice' });
  const a = await alice.createSession({ key: 'header-ignored' });
  assert.notEqual((await mallory.createSession({ key: 'header-ignored' })).id, a.id);
});

test('a list entry tells nothing about other owners', async () => {
  const alice = new ApiCaller(server.url);
  await alice.createSession({ key: 'alice-list' });
  const bob = new ApiCaller(server.url);
  const listed: SessionInfo[] = await bob.listSessions();
  assert.ok(listed.every((s) => s.key !== 'alice-list'));
});
