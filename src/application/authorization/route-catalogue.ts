import type { FastifyInstance } from 'fastify';

import type { RouteSecurity } from './route-security.js';

/** One registered route and the security contract it declares, if any. */
export interface RouteEntry {
  method: string;
  url: string;
  security: RouteSecurity | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered on the app, for audits of the declared security contracts. */
    routeCatalogue: RouteEntry[];
  }
}

/**
 * Records every route as it is registered, with its declared security. Register it before any
 * route: a test walks the catalogue and fails on a route without a contract.
 */
export function recordRoutes(app: FastifyInstance): void {
  const catalogue: RouteEntry[] = [];
  app.decorate('routeCatalogue', catalogue);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const config = route.config;
    for (const method of methods) {
      catalogue.push({ method, url: route.url, security: config?.security });
    }
  });
}
