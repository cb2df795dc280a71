import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ownerSession } from '../admin/admin-api.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { expectErrorShape, send } from './error-shapes.js';

let t: TestServer;
let ownerToken: string;

beforeAll(async () => {
  t = await startTestServer();
  ownerToken = await ownerSession(t);
});

afterAll(async () => {
  await t.stop();
});

// Path segments that are not ids, as they appear in the URL (already percent-encoded).
const BAD_IDS: [string, string][] = [
  ['word', 'not-a-uuid'],
  ['number', '12345'],
  ['uuid without dashes', '0f8fad5bd9cb469fa16570867728950e'],
  ['uuid with braces', '%7B0f8fad5b-d9cb-469f-a165-70867728950e%7D'],
  ['uuid plus suffix', '0f8fad5b-d9cb-469f-a165-70867728950e1'],
  ['SQL injection', "'%20OR%201%3D1--"],
  ['NUL byte', '%00'],
  ['encoded slash traversal', '..%2F..%2Fetc%2Fpasswd'],
  ['unicode', '%E2%98%83'],
  ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
  ['200 characters', 'a'.repeat(200)],
];

/** Ids that are attack payloads, which the WAF blocks with 403 waf_blocked. */
const WAF_BLOCKED_IDS = new Set(['SQL injection', 'encoded slash traversal']);

const ADMIN_PATH_TEMPLATES: [string, string][] = [
  ['GET', '/api/v1/organizations/:org'],
  ['PATCH', '/api/v1/organizations/:org'],
  ['GET', '/api/v1/organizations/:org/projects'],
  ['POST', '/api/v1/organizations/:org/projects'],
  ['GET', '/api/v1/organizations/:org/projects/:project'],
  ['PATCH', '/api/v1/organizations/:org/projects/:project'],
  ['DELETE', '/api/v1/organizations/:org/projects/:project'],
  ['GET', '/api/v1/organizations/:org/projects/:project/api-keys'],
  ['POST', '/api/v1/organizations/:org/projects/:project/api-keys'],
  ['DELETE', '/api/v1/organizations/:org/projects/:project/api-keys/:key'],
];

const BODIES: Record<string, string> = {
  POST: JSON.stringify({ name: 'x', slug: 'x' }),
  PATCH: JSON.stringify({ name: 'x' }),
};

async function adminRequest(method: string, path: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${ownerToken}` };
  const body = BODIES[method];
  if (body !== undefined) headers['content-type'] = 'application/json';
  return send(`${t.url}${path}`, method, headers, body);
}

describe('invalid path parameters', () => {
  for (const param of [':org', ':project', ':key']) {
    it(`invalid ${param} returns 404`, async () => {
      const templates = ADMIN_PATH_TEMPLATES.filter(([, template]) => template.includes(param));
      for (const [method, template] of templates) {
        for (const [label, bad] of BAD_IDS) {
          const path = template
            .replace(':org', param === ':org' ? bad : t.boot.orgId)
            .replace(':project', param === ':project' ? bad : t.boot.projectId)
            .replace(':key', param === ':key' ? bad : t.boot.apiKeyId);
          const response = await adminRequest(method, path);
          const where = `${method} ${template} with ${label}: ${response.text.slice(0, 120)}`;
          // The WAF stops injection payloads before routing; other bad ids are simply unknown.
          expect(response.status, where).toBe(WAF_BLOCKED_IDS.has(label) ? 403 : 404);
          expectErrorShape(response, 'admin', where);
        }
      }
    });
  }

  it('malformed percent-encoding returns 400', async () => {
    const paths = [
      '/api/v1/organizations/%zz',
      `/api/v1/organizations/${t.boot.orgId}/projects/%E2%82`,
      '/v1/messages/%',
    ];
    for (const path of paths) {
      const response = await adminRequest('GET', path);
      expect(response.status, path).toBe(400);
      expectErrorShape(response, 'admin', path);
    }
  });

  it('project untouched by the attempts', async () => {
    const project = await adminRequest(
      'GET',
      `/api/v1/organizations/${t.boot.orgId}/projects/${t.boot.projectId}`,
    );
    expect(project.status).toBe(200);
    expect((project.json as { name: string; status: string }).status).toBe('active');
    const keys = await t.owner.query('SELECT 1 FROM api_keys WHERE revoked_at IS NOT NULL');
    expect(keys.rows).toHaveLength(0);
  });
});

describe('unknown routes and methods', () => {
  const CASES: [string, string][] = [
    ['GET', '/'],
    ['GET', '/nope'],
    ['GET', '/api/v1'],
    ['GET', '/api/v1/users'],
    ['GET', '/api/v2/organizations'],
    ['PUT', '/healthz'],
    ['POST', '/healthz'],
    ['DELETE', '/api/v1/auth/login'],
    ['GET', '/api/v1/auth/login'],
    ['PUT', '/api/v1/organizations'],
    ['OPTIONS', '/api/v1/organizations'],
    ['GET', '/v1/messages'],
    ['PATCH', '/v1/chat/completions'],
    ['POST', '/v1/models'],
    ['POST', '/v1/completions'],
    ['GET', '/v1/messages/../../etc/passwd'],
    ['GET', `/${'a'.repeat(8000)}`],
  ];

  it('unknown routes return admin-shaped 404', async () => {
    for (const [method, path] of CASES) {
      const response = await send(`${t.url}${path}`, method, {
        authorization: `Bearer ${ownerToken}`,
      });
      const where = `${method} ${path.slice(0, 60)}`;
      expect(response.status, where).toBe(404);
      expectErrorShape(response, 'admin', where);
      expect((response.json as { code: string }).code, where).toBe('not_found');
    }
  });

  it('HEAD of unknown route returns bodiless 404', async () => {
    const response = await send(`${t.url}/nope`, 'HEAD', {});
    expect(response.status).toBe(404);
    expect(response.text).toBe('');
    expect(response.headers.get('x-request-id')).toBeTruthy();
  });

  it('prototype pollution in the query is blocked', async () => {
    for (const query of ['?__proto__[admin]=1', '?constructor[prototype][admin]=1']) {
      const response = await send(`${t.url}/api/v1/organizations${query}`, 'GET', {
        authorization: `Bearer ${ownerToken}`,
      });
      expect(response.status, query).toBe(403);
      expect((JSON.parse(response.text) as { code: string }).code, query).toBe('waf_blocked');
    }
  });

  it('query strings do not change routing', async () => {
    const queries = ['?a=%00', '?%zz'];
    for (const query of queries) {
      const health = await send(`${t.url}/healthz${query}`, 'GET', {});
      expect(health.status, query).toBe(200);
      const orgs = await send(`${t.url}/api/v1/organizations${query}`, 'GET', {
        authorization: `Bearer ${ownerToken}`,
      });
      expect(orgs.status, query).toBe(200);
    }
  });

  it('no server failure logged', () => {
    const failures = t.logLines.filter(
      (line) => (JSON.parse(line) as { level: number }).level >= 50,
    );
    expect(failures).toEqual([]);
  });
});
