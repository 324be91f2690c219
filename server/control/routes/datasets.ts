import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { DatasetInfo } from '../../../shared/http-api.js';
import type { DatasetCatalog } from '../dataset-catalog.js';

export const datasetRoutes: FastifyPluginAsync<{ datasets: DatasetCatalog }> = async (app, { datasets }) => {
  app.get('/api/datasets', { schema: { response: { 200: Type.Array(DatasetInfo) } } }, async () => datasets.list());
};
