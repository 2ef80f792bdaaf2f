/** Every admin route plugin, registered in this order by buildAdminApp. */
import type { FastifyPluginAsync } from 'fastify';
import { coreRoutes } from './core.ts';

export const adminRoutes: FastifyPluginAsync[] = [coreRoutes];
