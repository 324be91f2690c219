// Which names this server answers to (the Host header) and which pages may call it (the Origin
// header). A page on a rebinding domain (evil.example resolving to 127.0.0.1) sends its own name
// as Host, so an allow-list of Host names is what stops DNS rebinding; and the Origin is compared
// with the allowed origins (scheme, host and port), never with the request's own Host, which
// the attacker's page chooses.

export interface OriginPolicyOptions {
  /** The address the server binds (added to the names unless it is a wildcard). */
  boundHost: string;
  /** `--public-url`: the origin users reach the server at (e.g. through a proxy). */
  publicUrl?: string;
  /** Further allowed origins, exactly (scheme://host:port). */
  extraOrigins?: readonly string[];
}

/** Names every loopback server answers to. */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::', '[::]']);

export class OriginPolicy {
  /** Every name the Host header may carry. */
  readonly hosts: ReadonlySet<string>;
  /** Names whose origin is this server itself: http, on the port it listens on. */
  private readonly directNames: ReadonlySet<string>;
  private readonly origins = new Set<string>();
  private port = 0;

  constructor(options: OriginPolicyOptions) {
    const direct = new Set(LOOPBACK_NAMES);
    const bound = hostName(options.boundHost);
    if (bound && !WILDCARD_ADDRESSES.has(bound)) direct.add(bound);
    this.directNames = direct;
    const hosts = new Set(direct);
    if (options.publicUrl !== undefined) {
      // The public name's only origin is the public URL's: a page at http://NAME:PORT, past the
      // proxy that authenticates users, is not the same page.
      const url = parsePublicUrl(options.publicUrl);
      hosts.add(url.hostname);
      this.origins.add(url.origin);
    }
    this.hosts = hosts;
    for (const origin of options.extraOrigins ?? []) {
      const normalized = normalizedOrigin(origin);
      if (normalized === null) throw new Error(`allowed origin "${origin}" is not an origin (scheme://host[:port])`);
      this.origins.add(normalized);
    }
  }

  /** The port the server listens on, known once it does: part of the origin of its own names. */
  listeningOn(port: number): void {
    this.port = port;
  }

  /** The Host header names this server (port aside: a proxy may forward another port). */
  hostAllowed(host: string | undefined): boolean {
    if (!host) return false;
    const name = hostName(host);
    return name !== null && this.hosts.has(name);
  }

  /**
   * The Origin is one this server's pages are served from: same scheme, host and port. The server
   * itself speaks plain http, so https://127.0.0.1:PORT is another origin (another server could
   * hold that port's TLS), and so is any other port.
   */
  originAllowed(origin: string): boolean {
    const normalized = normalizedOrigin(origin);
    if (normalized === null) return false;
    if (this.origins.has(normalized)) return true;
    const url = new URL(normalized);
    return url.protocol === 'http:' && Number(url.port || 80) === this.port && this.directNames.has(url.hostname);
  }

  describe(): string {
    return [...this.hosts].join(', ');
  }
}

/** `--public-url` must be an http(s) origin (the client is served at its root). */
export function parsePublicUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new Error(`--public-url: "${text}" is not a URL`, { cause: error });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--public-url: "${text}" is not an http or https URL`);
  if (url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw new Error(`--public-url: "${text}" must be an origin (scheme://host[:port]), without a path`);
  }
  return url;
}

/** The lower-case host name of a Host header value (brackets kept for IPv6), or null if it is not one. */
function hostName(host: string): string | null {
  try {
    const url = new URL(`http://${host}`);
    // Anything that is more than host[:port] (user info, a path) is not a Host header.
    if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return null;
    return url.hostname.replace(/\.$/, '');
  } catch {
    return null;
  }
}

/** `scheme://host[:port]` as URL.origin writes it, or null for 'null', paths, garbage. */
function normalizedOrigin(origin: string): string | null {
  try {
    const url = new URL(origin);
    if (url.username || url.password || url.pathname !== '/' || url.search || url.hash || url.origin === 'null') return null;
    return url.origin;
  } catch {
    return null;
  }
}
