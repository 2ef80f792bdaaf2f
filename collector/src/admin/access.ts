/**
 * Who may talk to the admin API from a browser. The bearer token (app.ts) answers "who"; this
 * answers "from which page":
 *
 * - A request carrying an `Origin` (browsers send one on every WebSocket, on every cross-origin
 *   request and on same-origin POST/PUT) must come from the UI's own origin or from one of
 *   `admin.cors_origins`. CORS alone only hides answers from other pages; it does not stop a
 *   page from *sending* a replay or a chain change, nor from opening the live tail (WebSockets
 *   are not subject to CORS). So other origins get 403 before anything runs.
 * - Without a token (loopback only), the `Host` must be a loopback IP address, the literal
 *   `localhost`, or the listen address, so a page that rebinds its own DNS name to 127.0.0.1
 *   cannot reach the API either. Decided on parsed addresses: `127.evil.example` is a name.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes } from '../../../shared/src/errors.ts';
import type { ResolvedAdmin } from '../config/load.ts';
import { isIP } from 'node:net';
import { isLoopback, parseListen } from '../net.ts';

/**
 * The host name of a Host header (`[::1]:9410` → `::1`, `localhost:9410` → `localhost`); a
 * malformed bracketed form comes back whole, so it matches no address.
 */
export function hostName(host: string): string {
  if (host.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::\d*)?$/.exec(host);
    return (m ? m[1] : host).toLowerCase();
  }
  const i = host.lastIndexOf(':');
  return (i === -1 ? host : host.slice(0, i)).toLowerCase();
}

export function originAllowed(origin: string, request: FastifyRequest, admin: ResolvedAdmin): boolean {
  if (admin.cors_origins.includes(origin)) return true;
  const host = request.headers.host;
  if (!host) return false;
  const scheme = admin.tls ? 'https' : 'http';
  return origin.toLowerCase() === `${scheme}://${host.toLowerCase()}`;
}

export function hostAllowed(request: FastifyRequest, admin: ResolvedAdmin): boolean {
  if (admin.token) return true;
  const host = request.headers.host;
  if (!host) return true; // HTTP/1.0 clients; browsers always send Host
  // Parsed addresses only (net.ts isLoopback): `127.evil.example` is a name, not 127.0.0.0/8.
  const name = hostName(host);
  if (isLoopback(name)) return true;
  const listen = parseListen(admin.listen).host.toLowerCase();
  return isIP(name) !== 0 && name === listen;
}

function forbid(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(403).send({ error: { code: ErrorCodes.UNAUTHORIZED, message } });
}

/** Registers the origin and host checks on the whole admin app (not only this plugin's routes). */
export const accessGuard: FastifyPluginAsync = Object.assign(
  async (app: Parameters<FastifyPluginAsync>[0]) => {
    const admin = app.collector.config.admin;
    app.addHook('onRequest', async (request, reply) => {
      if (!hostAllowed(request, admin)) {
        return forbid(reply, `Host "${request.headers.host}" is not allowed: without admin.token the admin API answers only to loopback names`);
      }
      const origin = request.headers.origin;
      if (origin !== undefined && !originAllowed(origin, request, admin)) {
        return forbid(reply, `origin ${origin} is not allowed; add it to admin.cors_origins to use the admin API from that page`);
      }
    });
  },
  { [Symbol.for('skip-override')]: true },
);
