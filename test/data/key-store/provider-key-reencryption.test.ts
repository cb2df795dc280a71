import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseCiphertext } from '../../../src/data/crypto/ciphertext-format.js';
import type { Database } from '../../../src/data/database/database.js';
import { openMemoryDatabase } from '../../../src/data/database/embedded-database.js';
import { migrate } from '../../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../../src/data/database/open-database.js';
import { inTenant } from '../../../src/data/database/tenant-scope.js';
import {
  openDataProtection,
  type DataProtection,
} from '../../../src/data/key-store/data-protection.js';
import { reencryptProviderKeys } from '../../../src/gateway/provider-keys/provider-key-reencryption.js';
import { ProviderKeyService } from '../../../src/gateway/provider-keys/provider-key.service.js';
import { SYSTEM_ACTOR, SYSTEM_CONTEXT } from '../../../src/http/request-context.js';
import { insertOrganization } from '../../../src/tenancy/organizations/organization.repository.js';

const logger = pino({ level: 'silent' });
const KEYS = {
  acme: { anthropic: 'sk-ant-acme-0000aaaa', openai: 'sk-openai-acme-1111bbbb' },
  globex: { anthropic: 'sk-ant-globex-2222cccc', openai: 'sk-openai-globex-3333dddd' },
};

let directory: string;
let db: Database;
let protection: DataProtection;
let service: ProviderKeyService;
const orgIds: Record<keyof typeof KEYS, string> = { acme: '', globex: '' };

/** Returns the key version inside every stored ciphertext, by organization and provider. */
async function storedVersions(): Promise<Record<string, number | undefined>> {
  const versions: Record<string, number | undefined> = {};
  for (const orgId of Object.values(orgIds)) {
    const result = await inTenant(db, orgId, (tx) =>
      tx.query<{ orgId: string; provider: string; encryptedKey: string }>(
        `SELECT org_id AS "orgId", provider, encrypted_key AS "encryptedKey"
           FROM organization_provider_keys WHERE org_id = $1`,
        [orgId],
      ),
    );
    for (const row of result.rows) {
      versions[`${row.orgId}/${row.provider}`] = parseCiphertext(row.encryptedKey)?.keyVersion;
    }
  }
  return versions;
}

async function rotateDataKey(orgId: string): Promise<void> {
  const keyId = await protection.hierarchy.dataKeyId({ kind: 'tenant', tenant: orgId }, 'test');
  await protection.hierarchy.rotate(keyId, 'test');
}

beforeAll(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'mindweave-reencrypt-'));
  db = await openMemoryDatabase();
  await migrate(db);
  await db.query(`SET ROLE ${APPLICATION_ROLE}`);
  const config = { MINDWEAVE_DATA_DIR: directory, KMS_MASTER_KEY_DIR: undefined };
  protection = await openDataProtection(config, db, logger, 'test');
  service = new ProviderKeyService(db, protection.fieldCipher, logger);
  for (const name of ['acme', 'globex'] as const) {
    const id = randomUUID();
    orgIds[name] = (await inTenant(db, id, (tx) => insertOrganization(tx, name, id))).id;
    const scope = { actor: SYSTEM_ACTOR, context: SYSTEM_CONTEXT, orgId: orgIds[name] };
    await service.put(scope, 'anthropic', KEYS[name].anthropic);
    await service.put(scope, 'openai', KEYS[name].openai);
  }
}, 120_000);

afterAll(async () => {
  await db.close();
  await rm(directory, { recursive: true, force: true });
});

describe('reencryptProviderKeys', () => {
  it('leaves current rows alone', async () => {
    const result = await reencryptProviderKeys(db, protection.fieldCipher, protection.hierarchy, {
      actor: 'test',
    });
    expect(result).toEqual({
      examined: 4,
      reencrypted: 0,
      current: 4,
      skippedConcurrent: 0,
      unreadable: 0,
      complete: true,
    });
  });

  it('rewrites rows after a rotation', async () => {
    await rotateDataKey(orgIds.acme);
    const result = await reencryptProviderKeys(db, protection.fieldCipher, protection.hierarchy, {
      actor: 'test',
      batchSize: 1,
    });
    expect(result.reencrypted).toBe(2);
    expect(result.current).toBe(2);
    expect(result.complete).toBe(true);
    const versions = await storedVersions();
    expect(versions[`${orgIds.acme}/anthropic`]).toBe(2);
    expect(versions[`${orgIds.acme}/openai`]).toBe(2);
    expect(versions[`${orgIds.globex}/anthropic`]).toBe(1);
    service.clearCache();
    expect(await service.resolve(orgIds.acme, 'anthropic')).toBe(KEYS.acme.anthropic);
    expect(await service.resolve(orgIds.acme, 'openai')).toBe(KEYS.acme.openai);
  });

  it('resumes after a bounded run', async () => {
    await rotateDataKey(orgIds.globex);
    const partial = await reencryptProviderKeys(
      db,
      protection.fieldCipher,
      protection.hierarchy,
      { actor: 'test', orgId: orgIds.globex, maxRows: 1 },
    );
    expect(partial.examined).toBe(1);
    expect(partial.reencrypted).toBe(1);
    expect(partial.complete).toBe(false);

    const rest = await reencryptProviderKeys(db, protection.fieldCipher, protection.hierarchy, {
      actor: 'test',
      orgId: orgIds.globex,
    });
    expect(rest.reencrypted).toBe(1);
    expect(rest.current).toBe(1);
    expect(rest.complete).toBe(true);
    const versions = await storedVersions();
    expect(versions[`${orgIds.globex}/anthropic`]).toBe(2);
    expect(versions[`${orgIds.globex}/openai`]).toBe(2);
    service.clearCache();
    expect(await service.resolve(orgIds.globex, 'openai')).toBe(KEYS.globex.openai);
  });

  it('keeps a key written concurrently', async () => {
    await rotateDataKey(orgIds.acme);
    const scope = { actor: SYSTEM_ACTOR, context: SYSTEM_CONTEXT, orgId: orgIds.acme };
    let transactions = 0;
    // Runs a PUT right before the job's first UPDATE, as a concurrent admin request would. The
    // job reads its batch in its first transaction and updates each row in a transaction of its
    // own, so the PUT runs before the second one begins.
    const racing: Database = {
      ...db,
      async transaction(work, options) {
        transactions += 1;
        if (transactions === 2) await service.put(scope, 'anthropic', 'sk-ant-acme-newer-4444eeee');
        return db.transaction(work, options);
      },
    };
    const result = await reencryptProviderKeys(racing, protection.fieldCipher, protection.hierarchy, {
      actor: 'test',
      orgId: orgIds.acme,
    });
    expect(result.skippedConcurrent).toBe(1);
    expect(result.reencrypted).toBe(1);
    service.clearCache();
    expect(await service.resolve(orgIds.acme, 'anthropic')).toBe('sk-ant-acme-newer-4444eeee');
    expect(await service.resolve(orgIds.acme, 'openai')).toBe(KEYS.acme.openai);
  });
});
