// How long a browser may keep the client's files. The build's hashed files
// (`assets/<name>-<hash>.js|css`, named by their content) never change under their name: a tab
// that opens after the first takes them from its cache (and V8's compiled code kept beside them)
// without asking again, a round trip per file saved on a network that is not loopback. Everything
// else (the page, which names this build's files) is asked again on every load, so a new build is
// picked up at once.
import type { SetHeadersResponse } from '@fastify/static';

const HASHED_ASSET = /(^|[\\/])assets[\\/][^\\/]+-[A-Za-z0-9_-]{8,}\.(js|css)$/;

/** @fastify/static's `setHeaders` (with its own `cacheControl` off). */
export function setClientCacheHeaders(response: SetHeadersResponse, filePath: string): void {
  response.setHeader('cache-control', HASHED_ASSET.test(filePath) ? 'public, max-age=31536000, immutable' : 'no-cache');
}
