// Who is asking: the owner of the sessions a request may reach. By default the owner is the
// browser, named by an HttpOnly, SameSite=Strict cookie this server signs; behind an
// authenticating reverse proxy (`--trust-user-header NAME`), the user that proxy names. An
// operator (`--admin-token`) may list and end every session, but owns none of them.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * The cookie's name carries the server's port: browsers keep cookies per host, not per port, so
 * two servers on one host would otherwise overwrite each other's (each signs with its own key).
 */
export function ownerCookieName(port: number): string {
  return `tickscope_owner_${port}`;
}
/** A user name from the proxy: printable, bounded (it becomes a map key and a log field). */
const USER_NAME = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/;
/** Header names are RFC 9110 tokens. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** An operator token shorter than this is refused at start: it would be guessable. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

export interface OwnerOptions {
  /** Trust this request header as the user name (set by an authenticating proxy); cookies are then not used. */
  trustUserHeader?: string;
  /** The operator's bearer token; none = no operator. */
  adminToken?: string;
  /** Set the cookie's Secure attribute (the server is reached over https). */
  secureCookie?: boolean;
}

/** Why a request has no owner, as the HTTP status and sentence to answer it with. */
export interface OwnerProblem {
  status: 400 | 401;
  message: string;
}

export type OwnerLookup = { owner: string } | { owner: null; problem: OwnerProblem };

export class OwnerIdentity {
  /** Signs owner cookies. Per server start: a restart (which ends every session) forgets the identities too. */
  private readonly secret = randomBytes(32);
  private readonly userHeader: string | null;
  private readonly adminDigest: Buffer | null;
  /** Set once the server listens (the name carries the port). */
  private cookieName = ownerCookieName(0);

  constructor(private readonly options: OwnerOptions = {}) {
    if (options.trustUserHeader !== undefined && !HEADER_NAME.test(options.trustUserHeader)) {
      throw new Error(`--trust-user-header: "${options.trustUserHeader}" is not an HTTP header name`);
    }
    if (options.adminToken !== undefined && options.adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
      throw new Error(`--admin-token: an operator token needs at least ${MIN_ADMIN_TOKEN_LENGTH} characters`);
    }
    this.userHeader = options.trustUserHeader?.toLowerCase() ?? null;
    this.adminDigest = options.adminToken === undefined ? null : digest(options.adminToken);
  }

  listeningOn(port: number): void {
    this.cookieName = ownerCookieName(port);
  }

  /** True when owners come from a proxy's header (no cookies are issued). */
  get trustsProxy(): boolean {
    return this.userHeader !== null;
  }

  /** The owner a request proves, without creating one. */
  lookup(headers: IncomingHttpHeaders): OwnerLookup {
    if (this.userHeader) {
      const value = headers[this.userHeader];
      if (value === undefined || value === '') {
        return { owner: null, problem: { status: 401, message: `no user: this server takes the user from the ${this.options.trustUserHeader} header of its authenticating proxy, and the request has none` } };
      }
      if (typeof value !== 'string' || !USER_NAME.test(value)) {
        return { owner: null, problem: { status: 400, message: `the ${this.options.trustUserHeader} header is not a user name (printable characters, at most 256)` } };
      }
      return { owner: `user:${value}` };
    }
    const id = this.verifyCookie(cookieValue(headers.cookie, this.cookieName));
    if (id) return { owner: `browser:${id}` };
    return { owner: null, problem: { status: 401, message: 'no owner: this request carries no valid Tickscope cookie (load the page from this server first)' } };
  }

  /** A new browser identity and the Set-Cookie header that gives it to the browser. */
  issue(): { owner: string; setCookie: string } {
    const id = randomBytes(16).toString('hex');
    const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict', ...(this.options.secureCookie ? ['Secure'] : [])];
    return { owner: `browser:${id}`, setCookie: `${this.cookieName}=${id}.${this.sign(id)}; ${attributes.join('; ')}` };
  }

  /** `Authorization: Bearer <admin token>`, compared in constant time. */
  isAdmin(headers: IncomingHttpHeaders): boolean {
    const presented = bearer(headers);
    return this.adminDigest !== null && presented !== null && timingSafeEqual(digest(presented), this.adminDigest);
  }

  private sign(id: string): string {
    return createHmac('sha256', this.secret).update(id).digest('base64url');
  }

  private verifyCookie(value: string | null): string | null {
    if (!value) return null;
    const dot = value.indexOf('.');
    const id = value.slice(0, dot);
    if (dot < 0 || !/^[0-9a-f]{32}$/.test(id)) return null;
    const expected = Buffer.from(this.sign(id));
    const presented = Buffer.from(value.slice(dot + 1));
    return presented.length === expected.length && timingSafeEqual(presented, expected) ? id : null;
  }
}

/** The credential of `Authorization: Bearer <credential>`, or null. */
export function bearer(headers: IncomingHttpHeaders): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return match ? match[1]! : null;
}

/** What an operator sees of an owner: the user, or a short, stable prefix of a browser's id. */
export function ownerLabel(owner: string): string {
  return owner.startsWith('browser:') ? owner.slice(0, 'browser:'.length + 8) : owner;
}

/** Equal-length digests, so the comparison time says nothing about the token's length either. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
