// Applies the access rules to every HTTP request before any route sees it: the Host must be one
// of this server's names, an Origin (when the browser sends one) one of its origins, and the
// caller is identified (owner, operator). A browser without an owner cookie gets one here,
// unless the request comes from another site: a Strict cookie is not sent on a cross-site
// navigation, and answering it with a new identity would replace the browser's own.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { controlErrors } from '../errors.js';
import { bearer, type OwnerIdentity, type OwnerProblem } from './owner.js';
import type { OriginPolicy } from './origin-policy.js';

export interface Caller {
  /** The owner this request proves (cookie or proxy header), or null with the reason. */
  owner: string | null;
  problem: OwnerProblem | null;
  /** Presented the operator token. */
  admin: boolean;
  /** An `Authorization: Bearer` credential that is not the operator token (maybe a session's own token). */
  bearer: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

/** Responses that carry tokens and keys are never stored; no page of this server may be framed. */
const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'",
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

export function installHttpGuard(app: FastifyInstance, policy: OriginPolicy, owners: OwnerIdentity): void {
  app.decorateRequest('caller', null as unknown as Caller);

  app.addHook('onRequest', async (request, reply) => {
    if (!policy.hostAllowed(request.headers.host)) {
      throw controlErrors.wrongHost(policy.describe());
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !policy.originAllowed(origin)) {
      throw controlErrors.crossOrigin();
    }
    request.caller = identify(request, reply, owners);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
    return payload;
  });
}

function identify(request: FastifyRequest, reply: FastifyReply, owners: OwnerIdentity): Caller {
  const admin = owners.isAdmin(request.headers);
  const credential = admin ? null : bearer(request.headers);
  const found = owners.lookup(request.headers);
  if (found.owner !== null) return { owner: found.owner, problem: null, admin, bearer: credential };
  if (!owners.trustsProxy && request.headers['sec-fetch-site'] !== 'cross-site') {
    const issued = owners.issue();
    reply.header('set-cookie', issued.setCookie);
    return { owner: issued.owner, problem: null, admin, bearer: credential };
  }
  return { owner: null, problem: found.problem, admin, bearer: credential };
}

/** The request's owner, or the 400/401 (from the catalogue, errors.ts) that says why it has none. */
export function requireOwner(request: FastifyRequest): string {
  const { owner, problem } = request.caller;
  if (owner !== null) return owner;
  throw controlErrors.noOwner(problem?.message ?? 'no owner', problem?.status ?? 401);
}
