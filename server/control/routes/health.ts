import type { FastifyPluginAsync } from 'fastify';
import type { SessionManager } from '../session-manager.js';

// Open to anyone who reaches the server (a load balancer's probe has no cookie): it says nothing
// about any session but how many there are.
export const healthRoutes: FastifyPluginAsync<{ sessions: SessionManager }> = async (app, { sessions }) => {
  app.get('/api/health', async () => ({ status: 'ok', uptimeSeconds: Math.round(process.uptime()), liveSessions: sessions.liveCount }));
};
