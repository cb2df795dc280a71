import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseCiphertext } from '../../src/data/crypto/ciphertext-format.js';
import type { Database } from '../../src/data/database/database.js';
import { openMemoryDatabase } from '../../src/data/database/embedded-database.js';
import { migrate } from '../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import { inTenant } from '../../src/data/database/tenant-scope.js';
import {
  openDataProtection,
  type DataProtection,
} from '../../src/data/key-store/data-protection.js';
import { reencryptProviderKeys } from '../../src/gateway/provider-keys/provider-key-reencryption.js';
import { ProviderKeyService } from '../../src/gateway/provider-keys/provider-key.service.js';
import { SYSTEM_ACTOR, SYSTEM_CONTEXT } from '../../src/http/request-context.js';
import { insertOrganization } from '../../src/tenancy/organizations/organization.repository.js';

// `keys reencrypt` walks every organization. One organization whose data key is scheduled for
// deletion (an erasure in its waiting period, or already destroyed) or one altered provider key
// must not stop the job for every other organization, or older key versions can never retire.

const logger = pino({ level: 'silent' });
const names = ['erased', 'altered', 'healthy'] as const;

let directory: string;
let db: Database;
let protection: DataProtection;
let service: ProviderKeyService;
const orgIds: Record<(typeof names)[number], string> = { erased: '', altered: '', healthy: '' };

async function storedKeys(orgId: string): Promise<Record<string, string>> {
  const result = await inTenant(db, orgId, (tx) =>
    tx.query<{ provider: string; encryptedKey: string }>(
      `SELECT provider, encrypted_key AS "encryptedKey"
         FROM organization_provider_keys WHERE org_id = $1`,
      [orgId],
    ),
  );
  return Object.fromEntries(result.rows.map((row) => [row.provider, row.encryptedKey]));
}

async function dataKeyId(orgId: string): Promise<string> {
  return protection.hierarchy.dataKeyId({ kind: 'tenant', tenant: orgId }, 'test');
}

beforeAll(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'mindweave-reencrypt-unreadable-'));
  db = await openMemoryDatabase();
  await migrate(db);
  await db.query(`SET ROLE ${APPLICATION_ROLE}`);
  const config = { MINDWEAVE_DATA_DIR: directory, KMS_MASTER_KEY_DIR: undefined };
  protection = await openDataProtection(config, db, logger, 'test');
  service = new ProviderKeyService(db, protection.fieldCipher, logger);
  for (const name of names) {
    const id = randomUUID();
    orgIds[name] = (await inTenant(db, id, (tx) => insertOrganization(tx, name, id))).id;
    const scope = { actor: SYSTEM_ACTOR, context: SYSTEM_CONTEXT, orgId: orgIds[name] };
    await service.put(scope, 'anthropic', `sk-ant-${name}-0000aaaa`);
    await service.put(scope, 'openai', `sk-openai-${name}-1111bbbb`);
    await protection.hierarchy.rotate(await dataKeyId(orgIds[name]), 'test');
  }
}, 120_000);

afterAll(async () => {
  await db.close();
  await rm(directory, { recursive: true, force: true });
});

describe('keys reencrypt with unreadable organizations', () => {
  it('skips them and re-encrypts the rest', async () => {
    await protection.hierarchy.scheduleDeletion(await dataKeyId(orgIds.erased), {
      actor: 'test',
      waitingDays: 30,
    });
    const altered = await storedKeys(orgIds.altered);
    // A ciphertext with its last tag bytes cut off: it parses, but never authenticates.
    const truncated = altered.openai!.slice(0, -4);
    await inTenant(db, orgIds.altered, (tx) =>
      tx.query(
        "UPDATE organization_provider_keys SET encrypted_key = $2 WHERE org_id = $1 AND provider = 'openai'",
        [orgIds.altered, truncated],
      ),
    );

    const result = await reencryptProviderKeys(db, protection.fieldCipher, protection.hierarchy, {
      actor: 'test',
    });

    expect(result.complete).toBe(true);
    expect(result.examined).toBe(6);
    expect(result.unreadable).toBe(3);
    expect(result.reencrypted).toBe(3);
    const healthy = await storedKeys(orgIds.healthy);
    expect(parseCiphertext(healthy.anthropic!)?.keyVersion).toBe(2);
    expect(parseCiphertext(healthy.openai!)?.keyVersion).toBe(2);
    const alteredAfter = await storedKeys(orgIds.altered);
    expect(parseCiphertext(alteredAfter.anthropic!)?.keyVersion).toBe(2);
    expect(alteredAfter.openai).toBe(truncated);
    const erased = await storedKeys(orgIds.erased);
    expect(parseCiphertext(erased.anthropic!)?.keyVersion).toBe(1);
    service.clearCache();
    expect(await service.resolve(orgIds.healthy, 'openai')).toBe('sk-openai-healthy-1111bbbb');
  });
});
