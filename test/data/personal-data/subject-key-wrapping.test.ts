import { randomBytes } from 'node:crypto';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openDataProtection } from '../../../src/data/key-store/data-protection.js';
import { wrapUnwrappedSubjectKeys } from '../../../src/data/personal-data/personal-data-key-migration.js';
import {
  complianceKeyWrapping,
  personalDataSealer,
  sealWithKey,
} from '../../../src/data/personal-data/personal-data-sealer.js';
import { ownerSession } from '../../support/admin-session.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

let t: TestServer;
let token: string;

interface KeyRow {
  subjectId: string;
  keyMaterial: Buffer | null;
  wrappedKey: Buffer | null;
  version: number | null;
}

async function keyRows(): Promise<KeyRow[]> {
  const result = await t.owner.query<KeyRow>(
    `SELECT subject_id AS "subjectId", key_material AS "keyMaterial", wrapped_key AS "wrappedKey",
            compliance_key_version AS version
       FROM personal_data_keys ORDER BY subject_id`,
  );
  return result.rows;
}

beforeAll(async () => {
  t = await startTestServer();
  // The sign-in writes audit entries whose actor email and IP are sealed under the owner's key.
  token = await ownerSession(t);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe('subject keys wrapped under the compliance key', () => {
  it('stores no subject key unwrapped, including the one bootstrap wrote before the server ran', async () => {
    const rows = await keyRows();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.keyMaterial).toBeNull();
      expect(row.wrappedKey?.length).toBe(60);
      expect(row.version).toBe(1);
    }
  });

  it('records the wraps and unwraps in the key usage log under the compliance key', async () => {
    const { rows } = await t.owner.query<{ operation: string; context: Record<string, string> }>(
      `SELECT operation, encryption_context AS context FROM key_usage_log
        WHERE purpose = 'compliance' AND encryption_context->>'use' = 'personal_data_key'`,
    );
    const subjects = (await keyRows()).map((row) => row.subjectId);
    const wrapped = rows.filter((row) => row.operation === 'wrap').map((row) => row.context.subject);
    expect(new Set(wrapped)).toEqual(new Set(subjects));
  });

  it('opens the sealed fields through the audit API', async () => {
    const response = await fetch(`${t.url}/api/v1/organizations/${t.boot.orgId}/audit`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      data: { action: string; newValues: Record<string, unknown> | null }[];
    };
    const created = body.data.find((entry) => entry.action === 'user.create');
    expect(created?.newValues?.email).toBe(t.boot.adminEmail);
  });

  it('wraps a key left unwrapped at the next run, once, and the values sealed under it still open', async () => {
    const subject = `user:${randomBytes(8).toString('hex')}`;
    const key = randomBytes(32);
    const sealed = sealWithKey(key, subject, 'actor_email', 'legacy@example.com');
    await t.owner.query('INSERT INTO personal_data_keys (subject_id, key_material) VALUES ($1, $2)', [
      subject,
      key,
    ]);
    const keys = await openDataProtection(t.config, t.owner, pino({ level: 'silent' }), 'test');
    try {
      const wrapping = complianceKeyWrapping(keys.hierarchy);
      expect(await wrapUnwrappedSubjectKeys(t.owner, wrapping)).toBe(1);
      expect(await wrapUnwrappedSubjectKeys(t.owner, wrapping)).toBe(0);
    } finally {
      await keys.close();
    }

    const row = (await keyRows()).find((candidate) => candidate.subjectId === subject);
    expect(row?.keyMaterial).toBeNull();
    expect(row?.wrappedKey?.length).toBe(60);
    personalDataSealer.clearCache();
    expect(await personalDataSealer.unseal(t.owner, sealed, 'actor_email')).toBe('legacy@example.com');
  });

  it('refuses a wrapped key moved to another subject', async () => {
    const [first, second] = [`user:${randomBytes(8).toString('hex')}`, `user:${randomBytes(8).toString('hex')}`];
    const sealedFirst = await personalDataSealer.seal(t.owner, first, 'actor_ip', '192.0.2.7');
    await personalDataSealer.seal(t.owner, second, 'actor_ip', '192.0.2.8');
    // The attacker copies the second subject's wrapped key over the first one's.
    await t.owner.query(
      `UPDATE personal_data_keys SET (wrapped_key, compliance_key_version) =
         (SELECT wrapped_key, compliance_key_version FROM personal_data_keys WHERE subject_id = $2)
        WHERE subject_id = $1`,
      [first, second],
    );
    personalDataSealer.clearCache();
    await expect(personalDataSealer.unseal(t.owner, sealedFirst ?? '', 'actor_ip')).rejects.toThrow();
  });
});

