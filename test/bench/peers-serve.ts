// bench:peers' HTTP server (peers.ts): what the peers' tabs load, from this machine only.
// Code (the pages, the peers' files from node_modules) is cacheable and revalidated by ETag, as
// Tickscope's static files are; data (the fixture's files, the trade list's Arrow file) is never
// cached, so every byte a peer reads is sent, and counted. Single ranges are answered 206, the
// way DuckDB-WASM reads Parquet over HTTP; HEAD gives the size.
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { errorMessage } from '../../shared/errors.js';

export interface Traffic {
  /** Bytes of data sent (a fixture's files, the trade list), and the requests for them. */
  dataBytes: number;
  dataRequests: number;
  /** Bytes of the pages and the peers' engines (wasm, workers, modules). */
  codeBytes: number;
}

export interface Mount {
  /** URL path prefix, e.g. `/fixture/`. */
  prefix: string;
  dir: string;
  kind: 'code' | 'data';
}

export interface PeerServer {
  url: string;
  /** The traffic since the last call, which starts a new count. */
  takeTraffic(): Traffic;
  /** Requests the server could not answer (a 404, a read error): each a defect of the bench. */
  problems: string[];
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

const noTraffic = (): Traffic => ({ dataBytes: 0, dataRequests: 0, codeBytes: 0 });

/** Serves `mounts` and `config` (as /config.json) on 127.0.0.1, on a free port. */
export async function startPeerServer(mounts: readonly Mount[], config: unknown): Promise<PeerServer> {
  let traffic = noTraffic();
  const problems: string[] = [];
  const configBody = Buffer.from(JSON.stringify(config));
  const server = createServer((request, response) => {
    const where = `${request.method} ${request.url}`;
    const fail = (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return notFound(response, where, problems);
      problems.push(`${where}: ${errorMessage(error)}`);
      if (!response.headersSent) response.writeHead(500).end();
      else response.destroy();
    };
    try {
      const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://peers').pathname);
      if (pathname === '/config.json') {
        traffic.codeBytes += configBody.length;
        return void response.writeHead(200, { 'content-type': CONTENT_TYPES['.json'], 'content-length': configBody.length, 'cache-control': 'no-store' }).end(configBody);
      }
      const mount = mounts.find((m) => pathname.startsWith(m.prefix));
      const file = mount && inside(mount.dir, pathname.slice(mount.prefix.length));
      if (!mount || !file) return notFound(response, where, problems);
      if (mount.kind === 'data') traffic.dataRequests++;
      const count = (bytes: number) => {
        if (mount.kind === 'data') traffic.dataBytes += bytes;
        else traffic.codeBytes += bytes;
      };
      sendFile(request, response, file, mount.kind, count).catch(fail);
    } catch (error) {
      fail(error);
    }
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    takeTraffic: () => {
      const taken = traffic;
      traffic = noTraffic();
      return taken;
    },
    problems,
    close: () => closeHttpServer(server),
  };
}

/** The folder of package `name` as Node resolves it from `from` (the nearest node_modules up). */
export function packageDir(name: string, from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === path.dirname(dir)) throw new Error(`package ${name} not found from ${from}: run npm ci`);
  }
}

/** `relative` under `dir`, or null if it climbs out of it. */
function inside(dir: string, relative: string): string | null {
  const file = path.resolve(dir, relative);
  return file.startsWith(dir + path.sep) ? file : null;
}

function notFound(response: ServerResponse, where: string, problems: string[]): void {
  problems.push(`${where}: 404`);
  response.writeHead(404).end();
}

/**
 * A file, or the one range of it the request asks (206), or its headers alone for HEAD; code
 * carries an ETag and is answered 304 when the browser's copy is current.
 */
async function sendFile(request: IncomingMessage, response: ServerResponse, file: string, kind: Mount['kind'], count: (bytes: number) => void): Promise<void> {
  const { size, mtimeMs } = await stat(file);
  const etag = `"${size}-${Math.floor(mtimeMs)}"`;
  const caching = kind === 'code' ? { etag, 'cache-control': 'public, max-age=0' } : { 'cache-control': 'no-store' };
  if (kind === 'code' && request.headers['if-none-match'] === etag) return void response.writeHead(304, caching).end();
  const range = parseRange(request.headers.range, size);
  const headers = { 'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream', 'accept-ranges': 'bytes', ...caching };
  if (range === 'unsatisfiable') return void response.writeHead(416, { ...headers, 'content-range': `bytes */${size}` }).end();
  const { start, end } = range ?? { start: 0, end: size - 1 };
  response.writeHead(range ? 206 : 200, {
    ...headers,
    'content-length': end - start + 1,
    ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
  });
  if (request.method === 'HEAD' || size === 0) return void response.end();
  const stream = createReadStream(file, { start, end });
  stream.on('data', (chunk) => count(chunk.length));
  await new Promise<void>((resolve, reject) =>
    pipeline(stream, response, (error) => {
      // A tab closed mid-response (its question timed out, or it crashed) is no fault of the
      // server's: the response ends there, and what was sent is counted.
      if (!error || (error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') resolve();
      else reject(error);
    }),
  );
}

/**
 * `Range: bytes=a-b | a- | -n`, clamped to the file; null without a Range header. DuckDB-WASM asks
 * one range at a time, so a multi-range request is refused (416) rather than answered loosely.
 */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return 'unsatisfiable';
  const [start, end] =
    match[1] === '' ? [Math.max(0, size - Number(match[2])), size - 1] : [Number(match[1]), match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1)];
  return start <= end && start < size ? { start, end } : 'unsatisfiable';
}

/** Stops listening and ends the connections Chromium kept alive (its tabs are closed by then). */
function closeHttpServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  server.closeAllConnections();
  return closed;
}
