import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { CreateSessionBody, CreateSessionReply, ErrorReply, QueuedSessionReply, SessionInfo } from '../../../shared/http-api.js';
import { requireOwner } from '../access/http-guard.js';
import { controlErrors, type ControlError } from '../errors.js';
import type { Session } from '../session.js';
import type { SessionManager, Viewer } from '../session-manager.js';
import { wsUrlFor } from '../ws-gateway.js';

const SessionParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** The caller as the session manager sees it; an Authorization that proves nothing is refused, not ignored. */
function viewerOf(request: FastifyRequest): Viewer {
  return { owner: request.caller.owner, admin: request.caller.admin };
}

/**
 * The session `id` if the caller may reach it: its owner, an operator, or whoever presents the
 * session's own token (`Authorization: Bearer <token>`). Anything else is answered as if there
 * were no such session: a caller learns nothing about other owners' sessions.
 */
function reachableSession(
  sessions: SessionManager,
  request: FastifyRequest<{ Params: { id: string } }>,
  missing: (id: string) => ControlError = controlErrors.noSession,
): Session {
  const { caller } = request;
  if (caller.owner === null && !caller.admin && caller.bearer === null) requireOwner(request);
  const session = sessions.getFor(request.params.id, viewerOf(request), caller.bearer);
  if (!session) throw missing(request.params.id);
  return session;
}

export const sessionRoutes: FastifyPluginAsync<{ sessions: SessionManager }> = async (app, { sessions }) => {
  app.post<{ Body: CreateSessionBody }>(
    '/api/sessions',
    {
      schema: {
        body: CreateSessionBody,
        response: { 200: CreateSessionReply, 202: QueuedSessionReply, 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply, 500: ErrorReply, 503: ErrorReply },
      },
    },
    async (request, reply) => {
      const owner = requireOwner(request);
      const { session, spawned } = sessions.getOrCreate({ ...(request.body ?? {}), owner });
      // Waits for the store to be open (tens of ms from the warm pool; rejects with the reason),
      // or, while no slot is free, about a second: then the tab is told its place and asks again.
      if ((await sessions.whenReadyOrQueued(session)) === 'queued') {
        const place = sessions.queueStatus(session);
        if (place) return reply.code(202).send({ id: session.id, key: session.key, status: 'queued', spawned, ...place });
        await session.ready; // admitted in between
      }
      return { id: session.id, key: session.key, status: session.state, spawned, wsUrl: wsUrlFor(session.id, session.token) };
    },
  );

  app.get('/api/sessions', { schema: { response: { 200: Type.Array(SessionInfo) } } }, async (request) => {
    const { caller } = request;
    // A bearer credential on the list can only be the operator's: a wrong one is a failed login.
    if (caller.bearer !== null) throw controlErrors.badOperatorToken();
    if (!caller.admin) requireOwner(request);
    return sessions.list(viewerOf(request));
  });

  app.delete<{ Params: { id: string } }>(
    '/api/sessions/:id',
    { schema: { params: SessionParams } },
    async (request, reply) => {
      const session = reachableSession(sessions, request, controlErrors.noLiveSession);
      if (!sessions.delete(session)) throw controlErrors.noLiveSession(request.params.id);
      return reply.code(204).send();
    },
  );

  // Server-sent events: every past state of the session first, then each new one; the stream
  // ends after `terminated`. Between them, `runs` events ({ revision, runs }) when runs were
  // added to the dataset after the session opened its store (a reload opens them).
  app.get<{ Params: { id: string } }>('/api/sessions/:id/status', { schema: { params: SessionParams } }, (request, reply) => {
    const session = reachableSession(sessions, request);
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // A hijacked reply skips the onSend hook that adds these elsewhere (access/http-guard.ts).
      'x-content-type-options': 'nosniff',
      'cross-origin-resource-policy': 'same-origin',
    });
    const write = (event: (typeof session.history)[number]) => {
      out.write(`event: state\ndata: ${JSON.stringify(event)}\n\n`);
      if (event.state === 'terminated') out.end();
    };
    const offer = (added: { revision: number; runs: string[] }) => out.write(`event: runs\ndata: ${JSON.stringify(added)}\n\n`);
    session.history.forEach(write);
    if (session.state === 'terminated') return;
    session.events.on('state', write);
    session.events.on('runs', offer);
    sessions.offerNewRuns(session);
    out.on('close', () => {
      session.events.off('state', write);
      session.events.off('runs', offer);
    });
  });
};
