import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FieldCipher } from '../../../src/data/crypto/field-cipher.js';
import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import { DatabaseKeyStore } from '../../../src/data/key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../../../src/data/key-store/database-key-usage-sink.js';
import {
  openDataProtection,
  type DataProtection,
} from '../../../src/data/key-store/data-protection.js';
import { UserFieldProtection } from '../../../src/data/personal-data/user-field-protection.js';
import {
  installUserFieldProtection,
  uninstallUserFieldProtection,
} from '../../../src/data/personal-data/user-field-registry.js';
import type { TestOidcProvider } from '../../support/oidc-test-provider.js';
import {
  runSsoSignIn,
  configureSso,
  startSsoFixture,
  type SsoFixture,
} from '../../support/sso-fixture.js';
import type { TestServer } from '../../support/test-server.js';
import { call, SecretRecorder } from '../identity-api.js';

const CLIENT_SECRET = 'sso-embedded-secret-0123456789abcdef';

let t: TestServer;
let idp: TestOidcProvider;
let keys: DataProtection;
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
      { id: 'frank', email: 'frank@example.org', emailVerified: true, name: 'Frank', groups: [] },
    ],
    recorder,
    embedded: true,
  });
  ({ t, idp } = fixture);
  keys = await openDataProtection(t.config, t.server.db, pino({ level: 'silent' }), 'test');
  await configureSso(fixture, recorder, CLIENT_SECRET);
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await t?.stop();
  await idp?.stop();
});

describe('SSO sign-in on an embedded server', { timeout: 60_000 }, () => {
  it('linked user with a cold key cache', async () => {
    const first = await ssoSignIn('frank');
    expect(first.status).toBe(200);
    const me = await call(t, recorder, 'GET', '/api/v1/auth/me', {
      token: first.body.token as string,
    });
    const userId = (me.body.user as { id: string }).id;

    // The provider now sends another email, so only the identity link finds the account, and a
    // protection with an empty key cache acts as the server after a restart.
    const frank = idp.accounts.get('frank');
    if (!frank) throw new Error('frank is missing');
    frank.email = 'frank.renamed@example.org';
    const hierarchy = new KeyHierarchy({
      kms: keys.kms,
      masterKeyId: keys.masterKeyId,
      store: new DatabaseKeyStore(t.server.db),
      usageSink: new DatabaseKeyUsageSink(t.server.db),
    });
    const fresh = new UserFieldProtection(new FieldCipher(hierarchy), hierarchy);
    installUserFieldProtection(fresh);
    try {
      const second = await ssoSignIn('frank');
      expect(second.status).toBe(200);
      const again = await call(t, recorder, 'GET', '/api/v1/auth/me', {
        token: second.body.token as string,
      });
      expect((again.body.user as { id: string }).id).toBe(userId);
    } finally {
      uninstallUserFieldProtection(fresh);
    }
  });
});
