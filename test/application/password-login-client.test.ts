import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FieldCipher } from '../../src/data/crypto/field-cipher.js';
import { KeyHierarchy } from '../../src/data/crypto/key-hierarchy.js';
import { DatabaseKeyStore } from '../../src/data/key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../../src/data/key-store/database-key-usage-sink.js';
import { openDataProtection } from '../../src/data/key-store/data-protection.js';
import { UserFieldProtection } from '../../src/data/personal-data/user-field-protection.js';
import {
  installUserFieldProtection,
  uninstallUserFieldProtection,
} from '../../src/data/personal-data/user-field-registry.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { call, codeAt, enrollTotp, SecretRecorder, signIn } from './identity-api.js';

describe('password sign-in on an embedded server', { timeout: 60_000 }, () => {
  const recorder = new SecretRecorder();
  const userAgent = 'Mozilla/5.0 PasswordSignInProbe/3.0';
  const newPassword = 'Embedded-Password-Beacon-58!';
  let t: TestServer;
  let passwordToken: string;

  beforeAll(async () => {
    t = await startTestServer({ embedded: true });
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('session lists the client', async () => {
    const first = await signIn(t, recorder, t.boot.adminEmail, t.boot.adminPassword);
    expect(first.status).toBe(200);
    // The bootstrap owner must replace the one-time password, and the sign-in under test is a
    // password sign-in with the new one.
    recorder.add(newPassword);
    const changed = await call(t, recorder, 'POST', '/api/v1/auth/password', {
      token: first.body.token as string,
      body: { currentPassword: t.boot.adminPassword, newPassword },
    });
    expect(changed.status).toBe(204);

    const login = await call(t, recorder, 'POST', '/api/v1/auth/login', {
      body: { email: t.boot.adminEmail, password: newPassword, sessionType: 'bearer' },
      headers: { 'user-agent': userAgent },
    });
    expect(login.status).toBe(200);
    expect(login.body.token).toEqual(expect.any(String));

    const list = await call(t, recorder, 'GET', '/api/v1/auth/sessions', {
      token: login.body.token as string,
    });
    expect(list.status).toBe(200);
    const sessions = list.body.sessions as { current: boolean; ip: string; userAgent: string }[];
    const current = sessions.find((session) => session.current);
    expect(current?.userAgent).toBe(userAgent);
    expect(current?.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    passwordToken = login.body.token as string;
  });

  it('MFA challenge with a cold key cache', async () => {
    const keys = await openDataProtection(t.config, t.server.db, pino({ level: 'silent' }), 'test');
    /** Creates a protection with an empty key cache, as the server has after a restart. */
    const coldProtection = () => {
      const hierarchy = new KeyHierarchy({
        kms: keys.kms,
        masterKeyId: keys.masterKeyId,
        store: new DatabaseKeyStore(t.server.db),
        usageSink: new DatabaseKeyUsageSink(t.server.db),
      });
      return new UserFieldProtection(new FieldCipher(hierarchy), hierarchy);
    };
    try {
      // The user's key is rotated before the enrollment, so the TOTP secret is sealed under a
      // newer version than the email and name. Reading the user then loads only the older one.
      const dataKeys = await keys.store.findSubjectDataKeys(`user:${t.boot.adminUserId}`);
      expect(dataKeys).toHaveLength(1);
      await keys.hierarchy.rotate(dataKeys[0]!.keyId, 'test');
      const enrolling = coldProtection();
      installUserFieldProtection(enrolling);
      let secret: Buffer;
      try {
        secret = (await enrollTotp(t, recorder, passwordToken)).secret;
      } finally {
        uninstallUserFieldProtection(enrolling);
      }

      const login = await signIn(t, recorder, t.boot.adminEmail, newPassword);
      expect(login.status).toBe(200);
      const challengeToken = login.body.challengeToken as string;
      expect(challengeToken).toMatch(/^mw_mfa_/);

      // Opening the TOTP secret must read its key version before the transaction, because a
      // key store query inside it waits forever on embedded PostgreSQL.
      const signingIn = coldProtection();
      installUserFieldProtection(signingIn);
      try {
        const done = await call(t, recorder, 'POST', '/api/v1/auth/mfa/challenge', {
          // The enrollment used the current time step, and each step is accepted once.
          body: { challengeToken, code: codeAt(secret, 1) },
        });
        expect(done.status).toBe(200);
        expect(done.body.token).toEqual(expect.any(String));
      } finally {
        uninstallUserFieldProtection(signingIn);
      }
    } finally {
      await keys.close();
    }
  });
});
