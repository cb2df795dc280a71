import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { login, OWNER_PASSWORD, ownerSession } from '../admin/admin-api.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { expectErrorShape, send, type ErrorShape } from './error-shapes.js';

let t: TestServer;
let ownerToken: string;

beforeAll(async () => {
  // Wrong current passwords count towards the account lockout, and the mutated bodies of the
  // login and password change routes send many; the owner must stay able to sign in.
  t = await startTestServer({ env: { LOGIN_LOCKOUT_ACCOUNT_FAILURES: '1000' } });
  ownerToken = await ownerSession(t);
});

afterAll(async () => {
  await t.stop();
});

/** A route that takes a JSON body, with one valid body to mutate. */
interface BodyRoute {
  name: string;
  method: string;
  path: () => string;
  /** `fresh` signs in for every request, because the route ends the session. */
  credential: 'none' | 'owner' | 'fresh' | 'x-api-key' | 'bearer-api-key';
  shape: ErrorShape;
  valid: () => Record<string, unknown>;
  /** The route reads no body, so a well-formed body of any JSON type is accepted. */
  ignoresBody?: true;
}

const org = () => `/api/v1/organizations/${t.boot.orgId}`;
const project = () => `${org()}/projects/${t.boot.projectId}`;

const ROUTES: BodyRoute[] = [
  {
    name: 'login',
    method: 'POST',
    path: () => '/api/v1/auth/login',
    credential: 'none',
    shape: 'admin',
    valid: () => ({ email: t.boot.adminEmail, password: 'Wrong-Passw0rd!' }),
  },
  {
    name: 'password change',
    method: 'POST',
    path: () => '/api/v1/auth/password',
    credential: 'owner',
    shape: 'admin',
    valid: () => ({ currentPassword: OWNER_PASSWORD, newPassword: OWNER_PASSWORD }),
  },
  {
    name: 'logout',
    method: 'POST',
    path: () => '/api/v1/auth/logout',
    credential: 'fresh',
    shape: 'admin',
    valid: () => ({}),
    ignoresBody: true,
  },
  {
    name: 'organization rename',
    method: 'PATCH',
    path: org,
    credential: 'owner',
    shape: 'admin',
    valid: () => ({ name: 'Acme' }),
  },
  {
    name: 'project create',
    method: 'POST',
    path: () => `${org()}/projects`,
    credential: 'owner',
    shape: 'admin',
    valid: () => ({ name: 'Fuzz', slug: 'fuzz', settings: { allowedModels: ['gpt-4o-mini'] } }),
  },
  {
    name: 'project update',
    method: 'PATCH',
    path: project,
    credential: 'owner',
    shape: 'admin',
    valid: () => ({ name: 'demo' }),
  },
  {
    name: 'key create',
    method: 'POST',
    path: () => `${project()}/api-keys`,
    credential: 'owner',
    shape: 'admin',
    valid: () => ({ name: 'fuzz', expiresAt: '2999-01-01T00:00:00Z' }),
  },
  {
    name: 'anthropic messages',
    method: 'POST',
    path: () => '/v1/messages',
    credential: 'x-api-key',
    shape: 'anthropic',
    valid: () => ({
      model: 'claude-sonnet-4-5',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'hi' }],
      stream: false,
    }),
  },
  {
    name: 'openai chat',
    method: 'POST',
    path: () => '/v1/chat/completions',
    credential: 'bearer-api-key',
    shape: 'openai',
    valid: () => ({
      model: 'gpt-4o-mini',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'hi' }],
      stream: false,
    }),
  },
];

async function credentialHeaders(route: BodyRoute): Promise<Record<string, string>> {
  switch (route.credential) {
    case 'none':
      return {};
    case 'owner':
      return { authorization: `Bearer ${ownerToken}` };
    case 'fresh':
      return {
        authorization: `Bearer ${await login(t, t.boot.adminEmail, OWNER_PASSWORD)}`,
      };
    case 'x-api-key':
      // No anthropic-version header, because /v1/messages must use its own error shape regardless.
      return { 'x-api-key': t.boot.apiKey };
    case 'bearer-api-key':
      return { authorization: `Bearer ${t.boot.apiKey}` };
  }
}

/**
 * One malformed request: its body, content type and the status it must get. Without a status
 * any 4xx will do; `wellFormed` cases are valid JSON that a route without a body may accept.
 */
interface BodyCase {
  label: string;
  body: (route: BodyRoute) => string;
  contentType?: string;
  status?: number;
  wellFormed?: true;
}

const JSON_TYPE = 'application/json';
const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
const withRaw = (route: BodyRoute, extra: string) =>
  JSON.stringify(route.valid()).replace(/}$/, `,${extra}}`);

const TRANSPORT_CASES: BodyCase[] = [
  { label: 'truncated JSON', body: () => '{"name":', status: 400 },
  { label: 'empty JSON body', body: () => '', status: 400 },
  { label: 'trailing garbage', body: (r) => `${JSON.stringify(r.valid())}xyz`, status: 400 },
  { label: 'JSON array', body: (r) => JSON.stringify([r.valid()]), status: 400, wellFormed: true },
  { label: 'JSON string', body: () => '"hello"', status: 400, wellFormed: true },
  { label: 'JSON null', body: () => 'null', status: 400, wellFormed: true },
  { label: 'JSON number', body: () => '42', status: 400, wellFormed: true },
  { label: '__proto__ key', body: (r) => withRaw(r, '"__proto__":{"isAdmin":true}'), status: 400 },
  {
    label: 'constructor.prototype key',
    body: (r) => withRaw(r, '"constructor":{"prototype":{"isAdmin":true}}'),
    status: 400,
  },
  { label: 'nesting 100k deep', body: (r) => withRaw(r, `"deep":${nested(100_000)}`) },
  { label: 'body over 10 MB', body: () => `"${'x'.repeat(11 * 1024 * 1024)}"`, status: 413 },
  {
    label: 'text/plain',
    body: (r) => JSON.stringify(r.valid()),
    contentType: 'text/plain',
    wellFormed: true,
  },
  {
    label: 'form encoded',
    body: () => 'name=x&slug=y',
    contentType: 'application/x-www-form-urlencoded',
    status: 415,
  },
  { label: 'xml', body: () => '<a/>', contentType: 'application/xml', status: 415 },
];

// Each top-level field of a valid body is replaced by each of these in turn.
const FIELD_VALUES: [string, unknown][] = [
  ['null', null],
  ['number', 123],
  ['numeric string', '123'],
  ['boolean', true],
  ['array', []],
  ['object', {}],
  ['1 MB string', 'x'.repeat(1024 * 1024)],
  ['NUL byte', 'a\u0000b'],
  ['control characters', '\u0001\u001f\u007f'],
  ['negative number', -1],
  ['float', 1.5],
  ['huge number', 1e308],
];

async function expectHandled(
  route: BodyRoute,
  label: string,
  response: Awaited<ReturnType<typeof send>>,
) {
  const where = `${route.name}: ${label} (${response.status} ${response.text.slice(0, 200)})`;
  expect(response.status, where).toBeLessThan(500);
  expect(response.headers.get('x-request-id'), where).toBeTruthy();
  if (response.status >= 400) expectErrorShape(response, route.shape, where);
}

describe('malformed bodies', () => {
  for (const route of ROUTES) {
    it(`${route.name} rejects malformed bodies`, async () => {
      for (const testCase of TRANSPORT_CASES) {
        const headers = {
          ...(await credentialHeaders(route)),
          'content-type': testCase.contentType ?? JSON_TYPE,
        };
        const response = await send(
          `${t.url}${route.path()}`,
          route.method,
          headers,
          testCase.body(route),
        );
        await expectHandled(route, testCase.label, response);
        if (route.ignoresBody && testCase.wellFormed) continue;
        const where = `${route.name}: ${testCase.label}`;
        if (testCase.status !== undefined) expect(response.status, where).toBe(testCase.status);
        else expect(response.status, where).toBeGreaterThanOrEqual(400);
      }
    });

    it(`${route.name} survives wrong field types`, async () => {
      const fields = Object.keys(route.valid());
      for (const field of fields.length > 0 ? fields : ['name']) {
        for (const [label, value] of FIELD_VALUES) {
          const body = { ...route.valid(), [field]: value };
          const headers = { ...(await credentialHeaders(route)), 'content-type': JSON_TYPE };
          const response = await send(
            `${t.url}${route.path()}`,
            route.method,
            headers,
            JSON.stringify(body),
          );
          await expectHandled(route, `${field} as ${label}`, response);
        }
      }
    });
  }

  it('model with surrounding whitespace is not forwarded', async () => {
    const before = t.fake.received.length;
    for (const model of [' claude-sonnet-4-5', 'claude-sonnet-4-5\n', 'claude-sonnet-4-5\t']) {
      const response = await send(
        `${t.url}/v1/messages`,
        'POST',
        { 'content-type': JSON_TYPE, 'x-api-key': t.boot.apiKey },
        JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      );
      expect(response.status, JSON.stringify(model)).toBe(400);
      expectErrorShape(response, 'anthropic', JSON.stringify(model));
    }
    expect(t.fake.received.length).toBe(before);
  });

  it('no server failure logged', () => {
    const failures = t.logLines.filter(
      (line) => (JSON.parse(line) as { level: number }).level >= 50,
    );
    expect(failures).toEqual([]);
  });

  it('server still responds', async () => {
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
    const models = await fetch(`${t.url}/v1/models`, { headers: { 'x-api-key': t.boot.apiKey } });
    expect(models.status).toBe(200);
  });
});
