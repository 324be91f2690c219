// The access rules on their own: which Host names and Origins a server allows (with and without
// --public-url), owner cookies, proxy user names and the operator token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OriginPolicy, parsePublicUrl } from '../../server/control/access/origin-policy.js';
import { OwnerIdentity, ownerCookieName } from '../../server/control/access/owner.js';
import { AdmissionQueue } from '../../server/control/admission-queue.js';

test('Host names: the bound address, loopback names and the public URL; nothing else, whatever the port', () => {
  const policy = new OriginPolicy({ boundHost: '10.1.2.3', publicUrl: 'https://tickscope.bank.example' });
  policy.listeningOn(8080);
  for (const host of ['127.0.0.1:8080', 'localhost:8080', 'LOCALHOST', '[::1]:8080', '10.1.2.3:8080', 'tickscope.bank.example', 'tickscope.bank.example:443']) {
    assert.ok(policy.hostAllowed(host), host);
  }
  for (const host of [undefined, '', 'evil.example:8080', '127.0.0.1.nip.io:8080', 'localhost.evil.example', 'user@127.0.0.1:8080', '127.0.0.1:8080/x', '0.0.0.0:8080']) {
    assert.equal(policy.hostAllowed(host), false, String(host));
  }
  // A wildcard bind is no name.
  const wildcard = new OriginPolicy({ boundHost: '0.0.0.0' });
  assert.equal(wildcard.hostAllowed('0.0.0.0:8080'), false);
  assert.ok(wildcard.hostAllowed('127.0.0.1:8080'));
});

test('Origins: scheme, host and port of the server itself or of the public URL, never derived from the Host', () => {
  const policy = new OriginPolicy({ boundHost: '127.0.0.1', publicUrl: 'https://tickscope.bank.example' });
  policy.listeningOn(8080);
  for (const origin of ['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080', 'https://tickscope.bank.example', 'https://tickscope.bank.example:443']) {
    assert.ok(policy.originAllowed(origin), origin);
  }
  for (const origin of [
    'https://127.0.0.1:8080', // another scheme
    'http://127.0.0.1:8081', // another port
    'http://127.0.0.1', // port 80
    'http://tickscope.bank.example:8080', // the public name past its proxy
    'http://tickscope.bank.example', // the public name, another scheme
    'https://tickscope.bank.example:8443',
    'null',
    'http://evil.example:8080',
    'http://127.0.0.1:8080/path',
    'not an origin',
  ]) {
    assert.equal(policy.originAllowed(origin), false, origin);
  }
  assert.throws(() => parsePublicUrl('https://x.example/tickscope'), /without a path/);
  assert.throws(() => parsePublicUrl('ftp://x.example'), /not an http or https URL/);
  assert.throws(() => new OriginPolicy({ boundHost: '127.0.0.1', extraOrigins: ['http://a.example/x'] }), /not an origin/);
});

test('owner cookies: HttpOnly, SameSite=Strict, Secure behind https; forged or foreign ones prove nothing', () => {
  const owners = new OwnerIdentity({ secureCookie: true });
  owners.listeningOn(8080);
  const issued = owners.issue();
  assert.match(issued.setCookie, new RegExp(`^${ownerCookieName(8080)}=[0-9a-f]{32}\\.[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Secure$`));
  const cookie = issued.setCookie.split(';')[0]!;
  assert.deepEqual(owners.lookup({ cookie: `other=1; ${cookie}` }), { owner: issued.owner });
  const [name, value] = cookie.split('=') as [string, string];
  const [id, signature] = value.split('.') as [string, string];
  const forgedId = `${id.slice(0, -1)}${id.endsWith('0') ? '1' : '0'}`;
  for (const forged of [`${name}=${forgedId}.${signature}`, `${name}=${id}.${signature.slice(0, -2)}AA`, `${name}=${id}`, `${name}=`, `${ownerCookieName(9090)}=${value}`]) {
    assert.equal(owners.lookup({ cookie: forged }).owner, null, forged);
  }
  // Another server (another key) does not accept this one's cookie.
  const other = new OwnerIdentity();
  other.listeningOn(8080);
  assert.equal(other.lookup({ cookie }).owner, null);
});

test('proxy user header: the owner when configured, refused when missing or not a name; the operator token in constant time', () => {
  const proxied = new OwnerIdentity({ trustUserHeader: 'X-Forwarded-User', adminToken: 'a-long-enough-operator-token' });
  assert.deepEqual(proxied.lookup({ 'x-forwarded-user': 'alice@bank.example' }), { owner: 'user:alice@bank.example' });
  assert.equal((proxied.lookup({}) as { problem: { status: number } }).problem.status, 401);
  assert.equal((proxied.lookup({ 'x-forwarded-user': 'a\nb' }) as { problem: { status: number } }).problem.status, 400);
  assert.equal((proxied.lookup({ 'x-forwarded-user': ' padded' }) as { problem: { status: number } }).problem.status, 400);
  assert.equal((proxied.lookup({ 'x-forwarded-user': 'x'.repeat(300) }) as { problem: { status: number } }).problem.status, 400);
  assert.ok(proxied.isAdmin({ authorization: 'Bearer a-long-enough-operator-token' }));
  assert.equal(proxied.isAdmin({ authorization: 'Bearer a-long-enough-operator-toke' }), false);
  assert.equal(proxied.isAdmin({ authorization: 'a-long-enough-operator-token' }), false);
  assert.equal(new OwnerIdentity().isAdmin({ authorization: 'Bearer anything-at-all-here' }), false, 'no token configured: no operator');
  assert.throws(() => new OwnerIdentity({ adminToken: 'short' }), /at least 16 characters/);
  assert.throws(() => new OwnerIdentity({ trustUserHeader: 'X Forwarded User' }), /not an HTTP header name/);
});

test('the admission queue: first come first served, bounded, and an estimate once slots have been freed', () => {
  const queue = new AdmissionQueue<string>(2);
  assert.ok(queue.push('a') && queue.push('b'));
  assert.equal(queue.push('c'), false, 'full');
  assert.equal(queue.positionOf('b'), 2);
  assert.equal(queue.etaSeconds(1), null, 'no basis yet');
  queue.recordRelease(1_000);
  queue.recordRelease(5_000); // one slot every 4 s
  queue.recordStart(500);
  assert.equal(queue.etaSeconds(1, 5_000), 4.5);
  assert.equal(queue.etaSeconds(2, 6_000), 7.5);
  assert.equal(queue.shift(), 'a');
  assert.equal(queue.positionOf('b'), 1);
  assert.ok(queue.remove('b'));
  assert.equal(queue.length, 0);
});
