import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { CreateSessionBody, CreateSessionReply, ErrorReply, SessionInfo } from '../../../shared/http-api.js';
import { controlErrors } from '../errors.js';
import type { SessionManager } from '../session-manager.js';
import { wsUrlFor } from '../ws-gateway.js';

const SessionParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

export const sessionRoutes: FastifyPluginAsync<{ sessions: SessionManager }> = async (app, { sessions }) => {
  app.post<{ Body: CreateSessionBody }>(
    '/api/sessions',
    {
      schema: {
        body: CreateSessionBody,
        response: { 200: CreateSessionReply, 404: ErrorReply, 500: ErrorReply, 503: ErrorReply },
      },
    },
    async (request) => {
      const { session, spawned } = sessions.getOrCreate(request.body ?? {});
      // Waits for the store to be open (tens of ms from the warm pool); rejects with the reason.
      await session.ready;
      return { id: session.id, key: session.key, status: session.state, spawned, wsUrl: wsUrlFor(session.id, session.token) };
    },
  );

  app.get('/api/sessions', { schema: { response: { 200: Type.Array(SessionInfo) } } }, async () => sessions.list());

  app.delete<{ Params: { id: string } }>(
    '/api/sessions/:id',
    { schema: { params: SessionParams } },
    async (request, reply) => {
      if (!sessions.delete(request.params.id)) throw controlErrors.noLiveSession(request.params.id);
      return reply.code(204).send();
    },
  );

  // Server-sent events: every past state of the session first, then each new one; the stream
  // ends after `terminated`.
  app.get<{ Params: { id: string } }>('/api/sessions/:id/status', { schema: { params: SessionParams } }, (request, reply) => {
    const session = sessions.get(request.params.id);
    if (!session) throw controlErrors.noSession(request.params.id);
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const write = (event: (typeof session.history)[number]) => {
      out.write(`event: state\ndata: ${JSON.stringify(event)}\n\n`);
      if (event.state === 'terminated') out.end();
    };
    session.history.forEach(write);
    if (session.state === 'terminated') return;
    session.events.on('state', write);
    out.on('close', () => session.events.off('state', write));
  });
};
