import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PERMISSIONS } from '../../src/application/authorization/permissions.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t.stop();
});

// Routes that need no credential at all; anything else public is a mistake.
const PUBLIC_ROUTES = new Set([
  'GET /healthz',
  'HEAD /healthz',
  'GET /readyz',
  'HEAD /readyz',
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/mfa/challenge',
  'POST /api/v1/auth/mfa/webauthn/authentication/options',
  'POST /api/v1/auth/mfa/webauthn/authentication/verify',
  'GET /api/v1/auth/sso/:orgSlug/start',
  'HEAD /api/v1/auth/sso/:orgSlug/start',
  'GET /api/v1/auth/sso/:orgSlug/callback',
  'HEAD /api/v1/auth/sso/:orgSlug/callback',
  'POST /challenge',
  'POST /challenge/verify',
  'POST /api/v1/auth/password/reset',
  'POST /api/v1/auth/password/reset/confirm',
  'POST /api/v1/auth/invitations/accept',
]);

describe('route security contracts', () => {
  it('every route declares one', () => {
    const routes = t.server.app.routeCatalogue;
    expect(routes.length).toBeGreaterThan(20);
    const missing = routes.filter((route) => route.security === undefined);
    expect(missing.map((route) => `${route.method} ${route.url}`)).toEqual([]);
  });

  it('only the expected routes are public', () => {
    const publicRoutes = t.server.app.routeCatalogue
      .filter((route) => route.security?.auth === 'public')
      .map((route) => `${route.method} ${route.url}`);
    expect(publicRoutes.filter((route) => !PUBLIC_ROUTES.has(route))).toEqual([]);
  });

  it('organization routes name a known permission', () => {
    const orgRoutes = t.server.app.routeCatalogue.filter((route) =>
      route.url.startsWith('/api/v1/organizations/:orgId'),
    );
    expect(orgRoutes.length).toBeGreaterThan(10);
    for (const route of orgRoutes) {
      const where = `${route.method} ${route.url}`;
      expect(route.security?.auth, where).toBe('session');
      const permission = route.security?.auth === 'session' ? route.security.permission : undefined;
      expect(PERMISSIONS as readonly (string | undefined)[], where).toContain(permission);
    }
  });

  it('gateway routes need an API key', () => {
    const gateway = t.server.app.routeCatalogue.filter((route) => route.url.startsWith('/v1/'));
    expect(gateway.length).toBeGreaterThanOrEqual(3);
    for (const route of gateway) expect(route.security?.auth, route.url).toBe('api_key');
  });
});
