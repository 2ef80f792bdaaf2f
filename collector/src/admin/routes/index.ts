/** Every admin route plugin, registered in this order by buildAdminApp. */
import type { FastifyPluginAsync } from 'fastify';
import { accessGuard } from '../access.ts';
import { openapiRoutes } from '../openapi.ts';
import { consumerRoutes } from './consumers.ts';
import { coreRoutes } from './core.ts';
import { eventRoutes } from './events.ts';
import { fleetRoutes } from './fleet.ts';
import { interceptorRoutes } from './interceptors.ts';
import { replayRoutes } from './replay.ts';
import { schemaRoutes } from './schemas.ts';
import { tailRoutes } from './tail.ts';
import { uiRoutes } from './ui.ts';

// accessGuard and openapiRoutes come first and apply to the whole app: the guard's hook runs on
// every request, and the OpenAPI recorder's onRoute hook must see every route registered after it.
export const adminRoutes: FastifyPluginAsync[] = [accessGuard, openapiRoutes, coreRoutes, eventRoutes, tailRoutes, replayRoutes, interceptorRoutes, uiRoutes, consumerRoutes, fleetRoutes, schemaRoutes];
