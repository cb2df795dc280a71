import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import { inTenant } from '../../../src/data/database/tenant-scope.js';
import { DatabaseKeyStore } from '../../../src/data/key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../../../src/data/key-store/database-key-usage-sink.js';
import {
  openDataProtection,
  sweepDueDeletions,
  type DataProtection,
} from '../../../src/data/key-store/data-protection.js';
import { scheduleSubjectErasure } from '../../../src/data/personal-data/subject-erasure.js';
import { auditSubjectErased } from '../../../src/server/key-deletion-audit.js';
import type { TestOidcProvider } from '../../support/oidc-test-provider.js';
import {
  runSsoSignIn,
  configureSso,
  startSsoFixture,
  type SsoFixture,
} from '../../support/sso-fixture.js';
import type { TestServer } from '../../support/test-server.js';
import { call, SecretRecorder } from '../identity-api.js';

const CLIENT_SECRET = 'sso-erasure-embedded-secret-0123456789';
const DAY_MS = 24 * 60 * 60 * 1000;
const silent = pino({ level: 'silent' });

let t: TestServer;
let idp: TestOidcProvider;
let keys: DataProtection;
let fixture: SsoFixture;
const recorder = new SecretRecorder();

/** Signs in through the test provider as `accountId` and returns the signed-in user's id. */
async function ssoUserId(accountId: string): Promise<string> {
  const signedIn = await runSsoSignIn(fixture, recorder, accountId);
  expect(signedIn.status).toBe(200);
  const me = await call(t, recorder, 'GET', '/api/v1/auth/me', {
    token: signedIn.body.token as string,
  });
  expect(me.status).toBe(200);
  return (me.body.user as { id: string }).id;
}

/** Counts the SSO identity links and memberships of `userId` in the test organization. */
async function linkCount(userId: string): Promise<number> {
  const result = await inTenant(t.server.db, t.boot.orgId, (tx) =>
    tx.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM user_sso_identities WHERE user_id = $1)::int
            + (SELECT count(*) FROM memberships WHERE user_id = $1)::int AS n`,
      [userId],
    ),
  );
  return result.rows[0]?.n ?? -1;
}

beforeAll(async () => {
  fixture = await startSsoFixture({
    clientSecret: CLIENT_SECRET,
    accounts: [
      { id: 'erin', email: 'erin@example.org', emailVerified: true, name: 'Erin', groups: [] },
    ],
    recorder,
    embedded: true,
  });
  ({ t, idp } = fixture);
  keys = await openDataProtection(t.config, t.server.db, silent, 'test');
  await configureSso(fixture, recorder, CLIENT_SECRET);
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await t?.stop();
  await idp?.stop();
});

describe('SSO user erasure on an embedded server', { timeout: 60_000 }, () => {
  it('unlinks the identity and provisions anew', async () => {
    const erasedId = await ssoUserId('erin');
    expect(await linkCount(erasedId)).toBe(2);

    const now = new Date();
    await scheduleSubjectErasure(t.server.db, keys.hierarchy, keys.store, `user:${erasedId}`, {
      actor: 'test',
      waitingDays: 7,
      now,
      audit: () => Promise.resolve(),
    });
    const late = new Date(now.getTime() + 8 * DAY_MS);
    const hierarchy = new KeyHierarchy({
      kms: keys.kms,
      masterKeyId: keys.masterKeyId,
      store: new DatabaseKeyStore(t.server.db),
      usageSink: new DatabaseKeyUsageSink(t.server.db),
      clock: () => late,
    });
    const swept = await sweepDueDeletions(hierarchy, silent, {
      subjectErasure: { db: t.server.db, audit: auditSubjectErased },
      clock: () => late,
    });
    expect(swept.subjects.map((subject) => subject.subjectId)).toEqual([`user:${erasedId}`]);
    expect(await linkCount(erasedId)).toBe(0);

    const newId = await ssoUserId('erin');
    expect(newId).not.toBe(erasedId);
    expect(await linkCount(newId)).toBe(2);
  });
});
