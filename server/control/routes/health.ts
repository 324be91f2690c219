import type { FastifyPluginAsync } from 'fastify';
import type { SessionManager } from '../session-manager.js';

export const healthRoutes: FastifyPluginAsync<{ sessions: SessionManager }> = async (app, { sessions }) => {
  app.get('/api/health', async () => {
    const live = sessions.list().filter((session) => session.status !== 'terminated');
    return { status: 'ok', uptimeSeconds: Math.round(process.uptime()), liveSessions: live.length };
  });
};
