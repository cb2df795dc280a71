import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FieldCipher } from '../../../src/data/crypto/field-cipher.js';
import type { FieldLocation } from '../../../src/data/crypto/field-context.js';
import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import type { Database } from '../../../src/data/database/database.js';
import { openMemoryDatabase } from '../../../src/data/database/embedded-database.js';
import { migrate } from '../../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../../src/data/database/open-database.js';
import { DatabaseKeyStore } from '../../../src/data/key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../../../src/data/key-store/database-key-usage-sink.js';
import { listPurposeKeyDependants } from '../../../src/data/key-store/purpose-key-dependants.js';
import { LocalFileKmsProvider } from '../../../src/data/kms/local-file-provider.js';
import { complianceKeyWrapping } from '../../../src/data/personal-data/personal-data-sealer.js';
import { rewrapSubjectKeys } from '../../../src/data/personal-data/subject-key-rewrap.js';

const DAY_MS = 24 * 60 * 60 * 1000;

let folder: string;
let kms: LocalFileKmsProvider;
let db: Database;
let now = new Date('2026-01-01T00:00:00Z');
let hierarchy: KeyHierarchy;
/** Encrypted values under five tenants' data keys, with their plaintexts. */
const values: { location: FieldLocation; ciphertext: string; plaintext: string }[] = [];
/** Subject keys stored wrapped in `personal_data_keys`, with their material. */
const subjectKeys = new Map<string, Buffer>();

/** Builds a hierarchy over the embedded database whose clock reads `now`, with an empty cache. */
function freshHierarchy(): KeyHierarchy {
  return new KeyHierarchy({
    kms,
    masterKeyId: 'local-master',
    store: new DatabaseKeyStore(db),
    usageSink: new DatabaseKeyUsageSink(db),
    clock: () => now,
  });
}

async function purposeKeyId(name: 'database' | 'compliance'): Promise<string> {
  const keyId = await new DatabaseKeyStore(db).findKeyId(name, { kind: 'system' });
  if (keyId === undefined) throw new Error(`no ${name} key`);
  return keyId;
}

async function expectEverythingReadable(): Promise<void> {
  const cipher = new FieldCipher(freshHierarchy());
  for (const value of values) {
    expect(await cipher.decryptString(value.location, value.ciphertext)).toBe(value.plaintext);
  }
  const wrapping = complianceKeyWrapping(freshHierarchy());
  const { rows } = await db.query<{ subjectId: string; wrappedKey: Uint8Array; version: number }>(
    `SELECT subject_id AS "subjectId", wrapped_key AS "wrappedKey",
            compliance_key_version AS version FROM personal_data_keys`,
  );
  expect(rows).toHaveLength(subjectKeys.size);
  for (const row of rows) {
    const material = await wrapping.unwrap(row.subjectId, row.version, row.wrappedKey, db);
    expect(material.equals(subjectKeys.get(row.subjectId) ?? Buffer.alloc(0))).toBe(true);
  }
}

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'mindweave-rewrap-'));
  kms = await LocalFileKmsProvider.open({ directory: folder });
  db = await openMemoryDatabase();
  await migrate(db);
  await db.query(`SET ROLE ${APPLICATION_ROLE}`);
  hierarchy = freshHierarchy();
  await hierarchy.initialize('test');
  const cipher = new FieldCipher(hierarchy);
  for (let index = 0; index < 5; index += 1) {
    const location = { tenant: `org-${index}`, table: 'notes', column: 'body', rowId: `row-${index}` };
    const plaintext = `note ${index}`;
    values.push({ location, ciphertext: await cipher.encrypt(location, plaintext), plaintext });
  }
  const wrapping = complianceKeyWrapping(hierarchy);
  for (let index = 0; index < 3; index += 1) {
    const subject = `user:subject-${index}`;
    const material = randomBytes(32);
    const { version, wrapped } = await wrapping.wrap(subject, material, db);
    await db.query(
      `INSERT INTO personal_data_keys (subject_id, wrapped_key, compliance_key_version)
       VALUES ($1, $2, $3)`,
      [subject, wrapped, version],
    );
    subjectKeys.set(subject, material);
  }
}, 60_000);

afterAll(async () => {
  await db?.close();
  await rm(folder, { recursive: true, force: true });
});

describe('purpose key re-wrap on embedded PostgreSQL', () => {
  it('resumes data keys across batches', async () => {
    await hierarchy.rotate(await purposeKeyId('database'), 'test');
    await expect(
      freshHierarchy().rewrapDataKeys({
        actor: 'test',
        batchSize: 2,
        onRewrapped: (_ref, progress) => {
          if (progress.rewrapped === 3) throw new Error('stopped after three keys');
        },
      }),
    ).rejects.toThrow('stopped after three keys');
    await expectEverythingReadable();

    const rest = await freshHierarchy().rewrapDataKeys({ actor: 'test', batchSize: 2 });
    expect(rest).toEqual({ parentVersion: 2, examined: 2, rewrapped: 2, skipped: 0 });
    await expectEverythingReadable();
  });

  it('resumes subject keys across batches', async () => {
    await hierarchy.rotate(await purposeKeyId('compliance'), 'test');
    await expect(
      rewrapSubjectKeys(db, freshHierarchy(), {
        actor: 'test',
        batchSize: 1,
        onRewrapped: () => {
          throw new Error('stopped after one key');
        },
      }),
    ).rejects.toThrow('stopped after one key');
    await expectEverythingReadable();

    const rest = await rewrapSubjectKeys(db, freshHierarchy(), { actor: 'test', batchSize: 1 });
    expect(rest).toEqual({ complianceVersion: 2, examined: 2, rewrapped: 2, skipped: 0 });
    await expectEverythingReadable();
  });

  it('destroys both old versions; everything stays readable', async () => {
    const dependants = await listPurposeKeyDependants(db);
    const old = dependants.filter((row) => row.version === 1 && row.purpose !== 'application');
    expect(old).toHaveLength(2);
    for (const row of old) {
      expect(row.dataKeys + row.subjectKeys).toBe(0);
      await hierarchy.scheduleDeletion(row.keyId, { actor: 'test', version: 1 });
    }
    now = new Date(now.getTime() + 31 * DAY_MS);
    const destroyed = await hierarchy.destroyDueKeys('test');
    expect(destroyed.map((ref) => ref.keyId).sort()).toEqual(old.map((row) => row.keyId).sort());
    await expectEverythingReadable();
  });

  it('reads a rotation after the TTL inside a transaction', async () => {
    const reader = freshHierarchy();
    const active = await reader.loadPurposeKey('compliance', 'test');
    await hierarchy.rotate(await purposeKeyId('compliance'), 'test');
    now = new Date(now.getTime() + 6 * 60 * 1000);
    const wrapping = complianceKeyWrapping(reader);
    const material = randomBytes(32);

    // The read of the store that this wrap starts waits until the transaction ends.
    const inTransaction = await db.transaction((tx) => wrapping.wrap('user:late', material, tx));
    expect(inTransaction.version).toBe(active);
    await expect
      .poll(async () => (await wrapping.wrap('user:late', material, db)).version)
      .toBe(active + 1);
  });
});
