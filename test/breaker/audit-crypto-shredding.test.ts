import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { personalDataSealer } from '../../src/data/personal-data/personal-data-sealer.js';
import { MAIN_LOG } from '../../src/monitoring/audit/audit.repository.js';
import { loadAuditSigningKey } from '../../src/monitoring/audit/audit-signing.js';
import { verifyAuditLog } from '../../src/monitoring/audit/audit-verify.service.js';
import { SecretRecorder, signIn } from '../application/identity-api.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let t: TestServer;
let ownerId: string;
const recorder = new SecretRecorder();

/** Sealed actor emails of the owner's audit entries, oldest first. */
async function ownerActorEmails(): Promise<(string | null)[]> {
  const rows = await t.owner.query<{ actor_email: string | null }>(
    "SELECT actor_email FROM audit_logs WHERE actor_type = 'user' AND actor_id = $1 ORDER BY seq",
    [ownerId],
  );
  return rows.rows.map((row) => row.actor_email);
}

/** Verifies the whole audit log with the server's checkpoint key. */
async function verify() {
  const key = await loadAuditSigningKey(t.config);
  return verifyAuditLog(t.owner, {
    logId: MAIN_LOG,
    verifierKey: { name: key.name, keyId: key.keyId, publicKeyRaw: key.publicKeyRaw },
  });
}

beforeAll(async () => {
  t = await startTestServer();
  const login = await signIn(t, recorder, t.boot.adminEmail, t.boot.adminPassword);
  expect(login.status).toBe(200);
  const user = await t.owner.query<{ user_id: string }>(
    'SELECT user_id FROM admin_sessions LIMIT 1',
  );
  ownerId = user.rows[0]!.user_id;
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe('crypto-shredding of audit personal fields', () => {
  it('opens the actor email before erasure', async () => {
    const sealed = (await ownerActorEmails()).filter((value) => value !== null);
    expect(sealed.length).toBeGreaterThan(0);
    expect(await personalDataSealer.unseal(t.owner, sealed[0]!, 'actor_email')).toBe(
      t.boot.adminEmail,
    );
  });

  it('keeps the log verifiable after erasure', async () => {
    expect((await verify()).ok).toBe(true);
    expect(await personalDataSealer.destroySubjectKey(t.owner, `user:${ownerId}`)).toBe(true);

    const sealed = (await ownerActorEmails()).filter((value) => value !== null);
    for (const value of sealed) {
      expect(await personalDataSealer.unseal(t.owner, value, 'actor_email')).toBeNull();
    }
    const report = await verify();
    expect(report.fault).toBeNull();
    expect(report.ok).toBe(true);
  });

  it('stores no personal field for an erased subject', async () => {
    const before = (await ownerActorEmails()).length;
    const again = await signIn(t, recorder, t.boot.adminEmail, t.boot.adminPassword);
    expect(again.status).toBe(200);

    const emails = await ownerActorEmails();
    expect(emails.length).toBeGreaterThan(before);
    expect(emails.slice(before)).toEqual(emails.slice(before).map(() => null));
    expect((await verify()).ok).toBe(true);
  });
});
