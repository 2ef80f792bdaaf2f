/**
 * Fleet (on a hub): the edges this collector has heard from through their reports.
 *   GET /api/v1/edges         every edge, worst first (stale, failing, behind, ok)
 *   GET /api/v1/edges/:edge   one edge with its latest report and history
 * The reports, staleness and fields are described in docs/fleet.md. Access: the admin API's rules.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ErrorCodes, SluiceError } from '../../../../shared/src/errors.ts';

const EdgeParams = Type.Object({ edge: Type.String({ minLength: 1, maxLength: 256 }) });

export const fleetRoutes: FastifyPluginAsync = async (app) => {
  const collector = app.collector;

  app.get(
    '/api/v1/edges',
    {
      schema: {
        summary: 'Fleet: every edge that reported to this collector, worst first',
        description:
          'Each edge (a collector whose forward sink delivers here) with its identity, when it was last heard from, whether it is stale (silent for `fleet.stale_after` of its report intervals), its state (`stale`, `failing`, `behind`, `ok`), backlog, age of its oldest undelivered event, latest report and a short history. See docs/fleet.md.',
        tags: ['fleet'],
      },
    },
    async () => ({ edges: collector.fleet?.edges() ?? [] }),
  );

  app.get<{ Params: { edge: string } }>(
    '/api/v1/edges/:edge',
    {
      schema: { summary: 'Fleet: one edge', description: 'As in GET /api/v1/edges. 404 when no report of this edge has arrived.', tags: ['fleet'], params: EdgeParams },
    },
    async (request) => {
      const edge = collector.fleet?.edge(request.params.edge);
      if (!edge) throw new SluiceError(ErrorCodes.NOT_FOUND, `no report from an edge "${request.params.edge}" has reached this collector`);
      return edge;
    },
  );
};
