import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { DatasetInfo } from '../../../shared/http-api.js';
import { requireOwner } from '../access/http-guard.js';
import type { DatasetCatalog } from '../dataset-catalog.js';

export const datasetRoutes: FastifyPluginAsync<{ datasets: DatasetCatalog }> = async (app, { datasets }) => {
  // The datasets' input paths are the server's business: only a known owner (or operator) sees them.
  app.get('/api/datasets', { schema: { response: { 200: Type.Array(DatasetInfo) } } }, async (request) => {
    if (!request.caller.admin) requireOwner(request);
    return datasets.list();
  });
};
