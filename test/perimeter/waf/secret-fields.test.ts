import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createWafEngine } from '../../../src/perimeter/waf/index.js';
import { SECRET_FIELD_EXCLUSIONS } from '../../../src/perimeter/waf/secret-fields.js';
import { generatePassword } from '../../../src/tenancy/users/password.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { makeRequest } from './helpers.js';

// Passwords that the SQL injection rules (`@@`, as in @@version) and the shell history rule
// (`!-7`) matched before secret fields were excluded.
const PASSWORDS_THAT_MATCHED = ['oWgesv!nJvg!tHQG@@3Ky=yJ', 'yL@4uy-4a8v=uHSA3^!-74W2'];

function loginRequest(body: Record<string, unknown>) {
  return makeRequest({
    method: 'POST',
    path: '/api/v1/auth/login',
    routeId: '/api/v1/auth/login',
    bodyKind: 'admin',
    body,
  });
}

describe('WAF secret fields', () => {
  it('passes every generated password', () => {
    const engine = createWafEngine({ exclusions: [...SECRET_FIELD_EXCLUSIONS] });
    // Before the exclusion about 0.5 % of generated passwords were blocked.
    for (let i = 0; i < 3000; i++) {
      const password = generatePassword();
      const verdict = engine.inspect(loginRequest({ email: 'ana@example.com', password }));
      expect(verdict.action, password).toBe('allow');
    }
  });

  it('still inspects the other fields', () => {
    const engine = createWafEngine({ exclusions: [...SECRET_FIELD_EXCLUSIONS] });
    const verdict = engine.inspect(
      loginRequest({ email: "' OR 1=1 -- ", password: PASSWORDS_THAT_MATCHED[0] }),
    );
    expect(verdict.action).toBe('block');
    expect(verdict.matches.map((match) => match.location)).not.toContain('body:$.password');
  });

  it('still inspects nested fields of the same name', () => {
    const engine = createWafEngine({ exclusions: [...SECRET_FIELD_EXCLUSIONS] });
    const verdict = engine.inspect(
      loginRequest({ profile: { password: '<script>alert(1)</script>' } }),
    );
    expect(verdict.action).toBe('block');
  });
});

describe('WAF secret fields over HTTP', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('wrong password with attack-like characters gets 401', async () => {
    for (const password of PASSWORDS_THAT_MATCHED) {
      const response = await fetch(`${t.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'secret-fields-test' },
        body: JSON.stringify({ email: t.boot.adminEmail, password }),
      });
      expect(response.status, password).toBe(401);
      await response.arrayBuffer();
    }
  });

  it('attack in the email field gets 403', async () => {
    const response = await fetch(`${t.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'secret-fields-test' },
      body: JSON.stringify({ email: "' OR 1=1 -- ", password: 'x' }),
    });
    expect(response.status).toBe(403);
    const body = (await response.json()) as { code: string };
    expect(body.code).toBe('waf_blocked');
  });
});
