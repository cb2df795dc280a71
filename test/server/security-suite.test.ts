import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RouteEntry } from '../../src/application/authorization/route-catalogue.js';
import type { Permission } from '../../src/application/authorization/permissions.js';
import { ROLE_PERMISSIONS } from '../../src/application/authorization/permissions.js';
import { api, type ApiResponse } from '../admin/admin-api.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  EXTRA_SECURITY_CASES,
  isOwnAccountRoute,
  PARAM_SOURCES,
  SAMPLE_BODIES,
  UNEXERCISED_ROUTES,
  type CaseContext,
  type SuiteFixture,
  type Tenancy,
} from './security-suite.cases.js';
import { buildSuiteFixture } from './security-suite-fixture.js';

let t: TestServer;
let fixture: SuiteFixture;

beforeAll(async () => {
  t = await startTestServer();
  fixture = await buildSuiteFixture(t);
  for (const extra of EXTRA_SECURITY_CASES) await extra.setUp?.(fixture);
}, 120_000);

afterAll(async () => {
  await t.stop();
});

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
// A session-shaped token and a key-shaped key that the server never issued.
const WRONG_SESSION = `mw_sess_${'A'.repeat(43)}`;
const WRONG_KEY = `mw_live_${'A'.repeat(43)}`;
// Roles tried for the missing-permission case, least privileged first.
const ROLES_BY_PRIVILEGE = ['viewer', 'member', 'auditor', 'security_admin', 'admin'] as const;

const routeName = (route: RouteEntry) => `${route.method} ${route.url}`;
const paramsOf = (route: RouteEntry) => [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1] ?? '');

/** Fills the route's parameters for `tenancy`; `swap` takes one parameter from another. */
function pathFor(route: RouteEntry, tenancy: Tenancy, swap?: { param: string; from: Tenancy }) {
  return route.url.replace(/:(\w+)/g, (_, param: string) => {
    const source = PARAM_SOURCES[param];
    if (!source) throw new Error(`${routeName(route)}: no value for :${param}`);
    const from = swap?.param === param ? swap.from : tenancy;
    return encodeURIComponent(source.value(fixture, from));
  });
}

function contextFor(route: RouteEntry): CaseContext {
  const body = SAMPLE_BODIES[routeName(route)] ?? (BODY_METHODS.has(route.method) ? {} : undefined);
  return { fixture, route, body, path: (tenancy) => pathFor(route, tenancy) };
}

async function send(
  context: CaseContext,
  path: string,
  credential: { token?: string; key?: string } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (credential.key) headers['x-api-key'] = credential.key;
  return api(t, context.route.method, path, {
    token: credential.token,
    headers,
    body: context.body,
  });
}

/** Checks the status and, on admin responses with a body, the error code. */
function expectRefusal(response: ApiResponse, status: number, code: string, where: string) {
  expect(response.status, where).toBe(status);
  if (response.headers.get('content-length') === '0' || !('code' in response.body)) return;
  expect(response.body.code, where).toBe(code);
}

const routes = () => t.server.app.routeCatalogue;
const sessionRoutes = () =>
  routes().filter(
    (route) => route.security?.auth === 'session' && !(routeName(route) in UNEXERCISED_ROUTES),
  );
const permissionRoutes = () =>
  sessionRoutes().filter(
    (route) => route.security?.auth === 'session' && route.security.permission,
  );
const permissionOf = (route: RouteEntry): Permission | undefined =>
  route.security?.auth === 'session' ? route.security.permission : undefined;

describe('security suite coverage', () => {
  it('every credentialed route is covered', () => {
    const uncovered = routes()
      .filter((route) => route.security?.auth !== 'public')
      .filter((route) => !(routeName(route) in UNEXERCISED_ROUTES))
      .filter((route) => paramsOf(route).some((param) => !(param in PARAM_SOURCES)))
      .map(routeName);
    expect(uncovered).toEqual([]);
  });

  it('unexercised routes still exist', () => {
    const names = new Set(routes().map(routeName));
    expect(Object.keys(UNEXERCISED_ROUTES).filter((name) => !names.has(name))).toEqual([]);
  });

  it('permissionless session routes act on the caller', () => {
    const strays = sessionRoutes()
      .filter((route) => !permissionOf(route) && !isOwnAccountRoute(route))
      .map(routeName);
    expect(strays).toEqual([]);
  });

  it('project routes declare the project', () => {
    const orgScoped = routes()
      .filter((route) => route.url.includes(':projectId') && route.security?.auth === 'session')
      .filter(
        (route) => route.security?.auth === 'session' && route.security.resource !== 'project',
      )
      .map(routeName);
    expect(orgScoped).toEqual([]);
  });

  it('organization routes declare a permission', () => {
    const unguarded = routes()
      .filter((route) => route.url.includes(':orgId') && route.security?.auth !== 'public')
      .filter((route) => !permissionOf(route))
      .map(routeName);
    expect(unguarded).toEqual([]);
  });
});

describe('admin routes', () => {
  it('suite reaches the admin routes', () => {
    expect(sessionRoutes().length).toBeGreaterThan(40);
    expect(permissionRoutes().length).toBeGreaterThan(25);
  });

  it('no credential gets 401', async () => {
    for (const route of sessionRoutes()) {
      const context = contextFor(route);
      const response = await send(context, context.path('own'));
      expectRefusal(response, 401, 'unauthorized', routeName(route));
    }
  });

  it('wrong credential gets 401', async () => {
    for (const route of sessionRoutes()) {
      const context = contextFor(route);
      for (const credential of [{ token: WRONG_SESSION }, { key: WRONG_KEY }]) {
        const response = await send(context, context.path('own'), credential);
        expectRefusal(
          response,
          401,
          'unauthorized',
          `${routeName(route)} ${Object.keys(credential)[0]}`,
        );
      }
    }
  });

  it('API key on account route gets 401', async () => {
    for (const route of sessionRoutes().filter((candidate) => !permissionOf(candidate))) {
      const context = contextFor(route);
      const response = await send(context, context.path('own'), { key: fixture.own.adminKey });
      expectRefusal(response, 401, 'unauthorized', routeName(route));
    }
  });

  it('role without the permission gets 403', async () => {
    let checked = 0;
    for (const route of permissionRoutes()) {
      const permission = permissionOf(route) as Permission;
      const role = ROLES_BY_PRIVILEGE.find((r) => !ROLE_PERMISSIONS[r].includes(permission));
      if (!role) continue;
      const context = contextFor(route);
      const response = await send(context, context.path('own'), {
        token: fixture.roleTokens[role],
      });
      expectRefusal(response, 403, 'forbidden', `${routeName(route)} as ${role}`);
      checked += 1;
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('gateway-only key gets 403', async () => {
    for (const route of permissionRoutes()) {
      const context = contextFor(route);
      const response = await send(context, context.path('own'), { key: fixture.own.gatewayKey });
      expectRefusal(response, 403, 'forbidden', routeName(route));
    }
  });

  it("another tenant's ids get 404", async () => {
    for (const route of permissionRoutes()) {
      const context = contextFor(route);
      const where = routeName(route);
      const owner = { token: fixture.own.ownerToken };
      expectRefusal(await send(context, context.path('foreign'), owner), 404, 'not_found', where);
      const adminKey = { key: fixture.own.adminKey };
      expectRefusal(
        await send(context, context.path('foreign'), adminKey),
        404,
        'not_found',
        where,
      );
      for (const param of paramsOf(route).filter((p) => PARAM_SOURCES[p]?.tenant)) {
        if (param === 'orgId') continue;
        const path = pathFor(route, 'own', { param, from: 'foreign' });
        expectRefusal(await send(context, path, owner), 404, 'not_found', `${where} :${param}`);
      }
    }
  });

  it('disabled organization is refused', async () => {
    const disabled = fixture.disabled;
    for (const route of permissionRoutes()) {
      if (permissionOf(route) === 'organization.disable') continue;
      const context = contextFor(route);
      const where = routeName(route);
      for (const credential of [{ token: disabled.ownerToken }, { key: disabled.adminKey }]) {
        const response = await send(context, context.path('disabled'), credential);
        expectRefusal(response, 403, 'organization_disabled', where);
      }
    }
  });

  it('extra cases pass', async () => {
    for (const extra of EXTRA_SECURITY_CASES) {
      for (const route of sessionRoutes().filter((candidate) => extra.appliesTo(candidate))) {
        await extra.run(contextFor(route));
      }
    }
  });
});

describe('gateway routes', () => {
  const gatewayRoutes = () =>
    routes().filter(
      (route) => route.security?.auth === 'api_key' && !(routeName(route) in UNEXERCISED_ROUTES),
    );

  async function call(route: RouteEntry, key?: string): Promise<ApiResponse> {
    const headers: Record<string, string> = { 'anthropic-version': '2023-06-01' };
    if (key) headers['x-api-key'] = key;
    const body =
      route.method === 'POST' ? { model: 'claude-sonnet-4-5', max_tokens: 5 } : undefined;
    return api(t, route.method, route.url, { headers, body });
  }

  it('covers every gateway route', () => {
    expect(gatewayRoutes().length).toBeGreaterThanOrEqual(3);
  });

  it('no or wrong key gets 401', async () => {
    for (const route of gatewayRoutes()) {
      for (const key of [undefined, WRONG_KEY, fixture.own.adminKey.slice(0, -1)]) {
        const response = await call(route, key);
        expect(response.status, routeName(route)).toBe(401);
        if (route.method !== 'HEAD') expect(response.body.error, routeName(route)).toBeDefined();
      }
    }
  });

  it('key without gateway scope gets 403', async () => {
    for (const route of gatewayRoutes()) {
      const response = await call(route, fixture.own.adminKey);
      expect(response.status, routeName(route)).toBe(403);
      if (route.method === 'HEAD') continue;
      expect(JSON.stringify(response.body), routeName(route)).toContain('no gateway scope');
    }
  });

  it('disabled organization key gets 403', async () => {
    for (const route of gatewayRoutes()) {
      const response = await call(route, fixture.disabled.gatewayKey);
      expect(response.status, routeName(route)).toBe(403);
      if (route.method === 'HEAD') continue;
      expect(JSON.stringify(response.body), routeName(route)).toContain('disabled');
    }
  });
});
