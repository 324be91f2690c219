// The tabs of a remote session: each authenticated upgrade is proxied, byte for byte, to the
// session's own WebSocket listener (a socket cannot cross machines). The session completes the
// handshake itself; this side only adds the connection secret and id to the upgrade request.
// Flow control is the streams' own (pipe pauses the faster side both ways). When the session is
// gone without having closed a tab's socket, the tab gets a close frame that says why, as a local
// session's tab does (handed-off-sockets.ts).
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorMessage } from '../../../../shared/errors.js';
import { CONNECTION_ID_HEADER, SESSION_SECRET_HEADER } from '../../../session/contract.js';
import { CLOSE_INTERNAL_ERROR, closeFrame } from '../handed-off-sockets.js';

/**
 * After the session's side of a tab closes, how long to wait for the news of whether the session
 * itself is gone (the control connection closes at about the same moment): a crash then still
 * gets its close frame with the reason.
 */
const SETTLE_MS = 300;

interface Proxied {
  browser: Duplex;
  upstream: Socket;
  /** The session's side has ended: nothing more will be forwarded to the browser. */
  upstreamDone: boolean;
}

export class ProxiedSockets {
  private readonly proxied = new Map<number, Proxied>();
  private nextId = 1;
  /** Set when the session is gone: why, for the tabs still open (null after a requested end). */
  private goneReason: string | null | undefined = undefined;

  constructor(private readonly log: (message: string, fields: Record<string, unknown>) => void) {}

  get size(): number {
    return this.proxied.size;
  }

  /** Proxies `browser` (an authenticated upgrade) to the session at `host:port`. */
  add(target: { host: string; port: number; secret: string }, request: IncomingMessage, browser: Duplex, head: Buffer): void {
    const id = this.nextId++;
    if (this.goneReason !== undefined) return refuse(browser, 503, 'session ended');
    const upstream = connect({ host: target.host, port: target.port });
    upstream.setNoDelay(true);
    const entry: Proxied = { browser, upstream, upstreamDone: false };
    this.proxied.set(id, entry);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      upstream.write(upgradeRequest(request, id, target.secret));
      if (head.length > 0) upstream.write(head);
      upstream.pipe(browser as NodeJS.WritableStream, { end: false });
      browser.pipe(upstream);
    });
    upstream.on('error', (error) => {
      if (!connected) {
        this.log('the session could not be reached for a tab', { connectionId: id, target: `${target.host}:${target.port}`, error: errorMessage(error) });
        this.proxied.delete(id);
        refuse(browser, 502, 'session unreachable');
      }
    });
    upstream.once('close', () => {
      entry.upstreamDone = true;
      if (!connected) return;
      // A tab closed by the session, or a session that died: the control connection tells which.
      setTimeout(() => this.finish(id), this.goneReason === undefined ? SETTLE_MS : 0).unref();
    });
    browser.on('error', () => browser.destroy());
    browser.once('close', () => {
      upstream.destroy();
      this.proxied.delete(id);
    });
  }

  /**
   * The session is gone. With a reason (a crash, a lost node), every tab still open gets a close
   * frame (1011) that says it; after a requested end they are closed as they are.
   */
  closeAll(reason: string | null): void {
    this.goneReason = reason;
    for (const id of [...this.proxied.keys()]) this.finish(id);
    // After a requested end the session's own close frames may still be on their way through:
    // those tabs end when their upstream does, or after a last moment if it never does.
    if (reason === null && this.proxied.size > 0) {
      setTimeout(() => {
        for (const id of [...this.proxied.keys()]) this.finish(id, true);
      }, 2000).unref();
    }
  }

  private finish(id: number, force = false): void {
    const entry = this.proxied.get(id);
    if (!entry) return;
    const { browser, upstream } = entry;
    if (!entry.upstreamDone && !force && !this.goneReason) return;
    this.proxied.delete(id);
    upstream.unpipe(browser as NodeJS.WritableStream);
    upstream.destroy();
    if (this.goneReason && browser.writable) browser.end(closeFrame(CLOSE_INTERNAL_ERROR, this.goneReason), () => browser.destroy());
    else browser.end(() => browser.destroy());
  }
}

/** The tab's upgrade request as the session must see it, plus the secret and connection id. */
function upgradeRequest(request: IncomingMessage, connectionId: number, secret: string): string {
  const lines = [`${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/1.1`];
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    // A tab cannot pass for the control server: its own copies of these never get through.
    if (name === SESSION_SECRET_HEADER || name === CONNECTION_ID_HEADER) continue;
    lines.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  lines.push(`${SESSION_SECRET_HEADER}: ${secret}`, `${CONNECTION_ID_HEADER}: ${connectionId}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function refuse(browser: Duplex, status: 502 | 503, text: string): void {
  if (browser.writable) browser.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n\r\n`, () => browser.destroy());
  else browser.destroy();
}
