import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestOidcProvider } from '../support/oidc-test-provider.js';
import {
  runSsoSignIn,
  configureSso,
  startSsoFixture,
  type SsoFixture,
} from '../support/sso-fixture.js';
import type { TestServer } from '../support/test-server.js';
import { createUser, SecretRecorder } from '../application/identity-api.js';

const CLIENT_SECRET = 'sso-breaker-client-secret-0123456789';

/** U+212A KELVIN SIGN, which String.prototype.toLowerCase maps to the ASCII letter k. */
const KELVIN = '\u212a';

/** 243 three-byte characters: 255 UTF-16 units with the domain, but 741 bytes of UTF-8. */
const LONG_LOCAL_PART = '\u6f22'.repeat(243);

let t: TestServer;
let idp: TestOidcProvider;
let fixture: SsoFixture;
const recorder = new SecretRecorder();

/** Signs `accountId` in at the provider and returns the status and body of the callback. */
function ssoSignIn(accountId: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return runSsoSignIn(fixture, recorder, accountId);
}

beforeAll(async () => {
  fixture = await startSsoFixture({
    clientSecret: CLIENT_SECRET,
    accounts: [
      // A provider account whose verified address differs from karl@example.org in one letter.
      {
        id: 'mallory',
        email: `${KELVIN}arl@example.org`,
        emailVerified: true,
        name: 'M',
        groups: [],
      },
      {
        id: 'long',
        email: `${LONG_LOCAL_PART}@example.org`,
        emailVerified: true,
        name: 'L',
        groups: [],
      },
    ],
    recorder,
  });
  ({ t, idp } = fixture);
  await configureSso(fixture, recorder, CLIENT_SECRET, {
    scopes: ['openid', 'email', 'profile', 'groups'],
    groupsClaim: 'groups',
  });
}, 120_000);

afterAll(async () => {
  await t?.stop();
  await idp?.stop();
});

describe('SSO email claims outside ASCII', () => {
  it('never reach an account by case folding', async () => {
    const karl = await createUser(t, recorder, {
      role: 'member',
      orgId: t.boot.orgId,
      email: 'karl@example.org',
    });
    const result = await ssoSignIn('mallory');
    expect(result.status).toBe(401);
    expect(result.body.token).toBeUndefined();
    const sessions = await t.owner.query('SELECT id FROM admin_sessions WHERE user_id = $1', [
      karl.id,
    ]);
    expect(sessions.rows).toHaveLength(0);
  });

  it('reject an address too long to store', async () => {
    const result = await ssoSignIn('long');
    expect(result.status).toBe(401);
  });
});
