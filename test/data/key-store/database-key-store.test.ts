import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  KeyConflictError,
  KeyNotFoundError,
  KeyStateError,
} from '../../../src/data/crypto/errors.js';
import { FieldCipher } from '../../../src/data/crypto/field-cipher.js';
import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import type { KeyRecord } from '../../../src/data/crypto/key-types.js';
import type { Database } from '../../../src/data/database/database.js';
import { openMemoryDatabase } from '../../../src/data/database/embedded-database.js';
import { migrate } from '../../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../../src/data/database/postgres-database.js';
import { DatabaseKeyStore } from '../../../src/data/key-store/database-key-store.js';
import {
  DatabaseKeyUsageSink,
  listKeyUsage,
} from '../../../src/data/key-store/database-key-usage-sink.js';
import { LocalFileKmsProvider } from '../../../src/data/kms/local-file-provider.js';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.js';
import { ManualClock } from '../crypto/test-hierarchy.js';

/** A migrated database used as the application role, on one of the two backends. */
interface Backend {
  db: Database;
  close(): Promise<void>;
}

async function openEmbeddedBackend(): Promise<Backend> {
  const db = await openMemoryDatabase();
  await migrate(db);
  await db.query(`SET ROLE ${APPLICATION_ROLE}`);
  return { db, close: () => db.close() };
}

async function openPostgresBackend(): Promise<Backend> {
  const database: TestDatabase = await createTestDatabase();
  const owner = await openPostgresDatabase(database.url, { poolSize: 2 });
  try {
    await migrate(owner);
  } finally {
    await owner.close();
  }
  const db = await openPostgresDatabase(database.url, { role: APPLICATION_ROLE });
  return {
    db,
    async close() {
      await db.close();
      await database.drop();
    },
  };
}

let counter = 0;
function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}`;
}

/** A version wrapped by the KMS. Each key id gets its own owner, so records never collide. */
function rootRecord(keyId: string, version = 1): KeyRecord {
  return {
    keyId,
    version,
    purpose: 'data',
    owner: { kind: 'tenant', tenant: `owner-of-${keyId}` },
    parent: { kind: 'kms', provider: 'local-file', masterKeyId: 'local-master' },
    state: 'active',
    createdAt: new Date('2026-03-01T10:00:00.123Z'),
    wrappedKey: Buffer.from([1, 2, 3, 4, 5]),
  };
}

function dataRecord(keyId: string, parent: KeyRecord, tenant: string, version = 1): KeyRecord {
  return {
    keyId,
    version,
    purpose: 'data',
    owner: { kind: 'tenant', tenant },
    parent: { kind: 'key', keyId: parent.keyId, version: parent.version },
    state: 'active',
    createdAt: new Date('2026-03-02T10:00:00.000Z'),
    wrappedKey: Buffer.alloc(60, 7),
  };
}

describe.each([
  ['PGlite', openEmbeddedBackend],
  ['PostgreSQL', openPostgresBackend],
])('DatabaseKeyStore on %s', (_name, open) => {
  let backend: Backend;
  let store: DatabaseKeyStore;
  let kmsDirectory: string;
  let kms: LocalFileKmsProvider;

  beforeAll(async () => {
    backend = await open();
    store = new DatabaseKeyStore(backend.db);
    kmsDirectory = await mkdtemp(path.join(tmpdir(), 'mindweave-key-store-'));
    kms = await LocalFileKmsProvider.open({ directory: path.join(kmsDirectory, 'kms') });
  });

  afterAll(async () => {
    await backend.close();
    await rm(kmsDirectory, { recursive: true, force: true });
  });

  function hierarchy(clock?: ManualClock): KeyHierarchy {
    return new KeyHierarchy({
      kms,
      masterKeyId: 'local-master',
      store,
      usageSink: new DatabaseKeyUsageSink(backend.db),
      ...(clock === undefined ? {} : { clock: clock.now }),
    });
  }

  it('stores and reads back every field', async () => {
    const parent = rootRecord(uniqueId('pk'));
    await store.insertKey(parent);
    const child = dataRecord(uniqueId('dk'), parent, uniqueId('org'));
    await store.insertKey(child);

    expect(await store.getKey(parent.keyId, 1)).toEqual(parent);
    expect(await store.getKey(child.keyId, 1)).toEqual(child);
    expect(await store.getKey(child.keyId, 2)).toBeUndefined();
  });

  it('returns copies of wrapped keys', async () => {
    const record = rootRecord(uniqueId('pk'));
    await store.insertKey(record);
    const read = await store.getKey(record.keyId, 1);
    read?.wrappedKey?.fill(0);
    const again = await store.getKey(record.keyId, 1);
    expect(again?.wrappedKey).toEqual(Buffer.from([1, 2, 3, 4, 5]));
  });

  it('rejects a duplicate version', async () => {
    const record = rootRecord(uniqueId('pk'));
    await store.insertKey(record);
    await expect(store.insertKey(record)).rejects.toThrow(KeyConflictError);
  });

  it('rejects a second key id for one owner', async () => {
    const parent = rootRecord(uniqueId('pk'));
    await store.insertKey(parent);
    const tenant = uniqueId('org');
    await store.insertKey(dataRecord(uniqueId('dk'), parent, tenant));
    const second = dataRecord(uniqueId('dk'), parent, tenant);
    await expect(store.insertKey(second)).rejects.toThrow(KeyConflictError);
    expect(await store.listVersions(second.keyId)).toEqual([]);
  });

  it('finds key ids by purpose and owner', async () => {
    const parent = rootRecord(uniqueId('pk'));
    await store.insertKey(parent);
    const tenant = uniqueId('org');
    const tenantKey = dataRecord(uniqueId('dk'), parent, tenant);
    const subjectKey: KeyRecord = {
      ...dataRecord(uniqueId('dk'), parent, tenant),
      owner: { kind: 'subject', tenant, subject: 'user-1' },
    };
    await store.insertKey(tenantKey);
    await store.insertKey(subjectKey);

    expect(await store.findKeyId('data', { kind: 'tenant', tenant })).toBe(tenantKey.keyId);
    expect(await store.findKeyId('data', { kind: 'subject', tenant, subject: 'user-1' })).toBe(
      subjectKey.keyId,
    );
    expect(await store.findKeyId('data', { kind: 'tenant', tenant: 'absent' })).toBeUndefined();
  });

  it('lists versions in ascending order', async () => {
    const keyId = uniqueId('pk');
    await store.insertKey(rootRecord(keyId, 1));
    await store.insertKey({ ...rootRecord(keyId, 3), state: 'active' });
    await store.insertKey({ ...rootRecord(keyId, 2), state: 'decrypt_only' });
    const versions = await store.listVersions(keyId);
    expect(versions.map((record) => record.version)).toEqual([1, 2, 3]);
  });

  it('updates lifecycle fields and lists scheduled versions', async () => {
    const record = rootRecord(uniqueId('pk'));
    await store.insertKey(record);
    const scheduled: KeyRecord = {
      ...record,
      state: 'scheduled_for_deletion',
      stateBeforeDeletion: 'active',
      deletionDate: new Date('2026-04-01T00:00:00.000Z'),
    };
    await store.updateKey(scheduled);
    expect(await store.getKey(record.keyId, 1)).toEqual(scheduled);
    const listed = await store.listScheduledForDeletion();
    expect(listed.map((entry) => entry.keyId)).toContain(record.keyId);
  });

  it('never changes a destroyed version', async () => {
    const record = rootRecord(uniqueId('pk'));
    await store.insertKey(record);
    const destroyed: KeyRecord = {
      ...record,
      state: 'destroyed',
      destroyedAt: new Date('2026-05-01T00:00:00.000Z'),
    };
    delete destroyed.wrappedKey;
    await store.updateKey(destroyed);
    await expect(store.updateKey(record)).rejects.toThrow(KeyStateError);
    expect((await store.getKey(record.keyId, 1))?.wrappedKey).toBeUndefined();
  });

  it('rejects updates of unknown versions', async () => {
    await expect(store.updateKey(rootRecord(uniqueId('pk')))).rejects.toThrow(
      KeyNotFoundError,
    );
  });

  it('counts concurrent encryptions exactly', async () => {
    const record = rootRecord(uniqueId('pk'));
    await store.insertKey(record);
    const totals = await Promise.all(
      Array.from({ length: 40 }, () => store.addEncryptions(record.keyId, 1, 1024)),
    );
    expect(Math.max(...totals)).toBe(40 * 1024);
    expect(new Set(totals).size).toBe(40);
    await expect(store.addEncryptions(record.keyId, 9, 1)).rejects.toThrow(KeyNotFoundError);
  });

  it('runs a field cipher on the stored hierarchy', async () => {
    const keys = hierarchy();
    await keys.initialize('test');
    const fields = new FieldCipher(keys);
    const tenant = uniqueId('org');
    const location = { tenant, table: 'users', column: 'email', rowId: 'row-1' };
    const stored = await fields.encrypt(location, 'alice@example.com');

    const restarted = hierarchy();
    await restarted.initialize('test');
    const text = await new FieldCipher(restarted).decryptString(location, stored);
    expect(text).toBe('alice@example.com');
  });

  it('creates one data key when two processes race', async () => {
    const first = hierarchy();
    const second = hierarchy();
    await first.initialize('test');
    await second.initialize('test');
    const owner = { kind: 'tenant' as const, tenant: uniqueId('org') };
    const [a, b] = await Promise.all([
      first.dataKeyId(owner, 'first'),
      second.dataKeyId(owner, 'second'),
    ]);
    expect(a).toBe(b);
    expect(await store.listVersions(a)).toHaveLength(1);
  });

  it('sees a rotation made by another process', async () => {
    const first = hierarchy();
    const second = hierarchy();
    await first.initialize('test');
    await second.initialize('test');
    const owner = { kind: 'tenant' as const, tenant: uniqueId('org') };
    const before = await second.activeDataKey(owner, 'test');
    await first.rotate(before.keyId, 'operator');
    second.clearCache();
    const after = await second.activeDataKey(owner, 'test');
    expect(after).toEqual({ keyId: before.keyId, version: 2 });
    const states = (await store.listVersions(before.keyId)).map((record) => record.state);
    expect(states).toEqual(['decrypt_only', 'active']);
  });

  it('serializes concurrent rotations of one key', async () => {
    const first = hierarchy();
    const second = hierarchy();
    await first.initialize('test');
    await second.initialize('test');
    const keyId = await first.dataKeyId({ kind: 'tenant', tenant: uniqueId('org') }, 'test');
    const results = await Promise.allSettled([
      first.rotate(keyId, 'first'),
      second.rotate(keyId, 'second'),
    ]);
    const versions = await store.listVersions(keyId);
    const active = versions.filter((record) => record.state === 'active');
    expect(active).toHaveLength(1);
    expect(active[0]?.version).toBe(versions.at(-1)?.version);
    // The store's key lock makes the second rotation wait for the first and then succeed.
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(versions.map((record) => record.state)).toEqual(['decrypt_only', 'decrypt_only', 'active']);
  });

  it('destroys a due version once across processes', async () => {
    const clock = new ManualClock(Date.now());
    const first = hierarchy(clock);
    const second = hierarchy(clock);
    await first.initialize('test');
    await second.initialize('test');
    const keyId = await first.dataKeyId({ kind: 'tenant', tenant: uniqueId('org') }, 'test');
    await first.scheduleDeletion(keyId, { actor: 'operator', waitingDays: 7 });
    clock.advanceDays(8);
    const [a, b] = await Promise.all([
      first.destroyDueKeys('timer'),
      second.destroyDueKeys('timer'),
    ]);
    const destroyedHere = [...a, ...b].filter((ref) => ref.keyId === keyId);
    expect(destroyedHere).toEqual([{ keyId, version: 1 }]);
    const [record] = await store.listVersions(keyId);
    expect(record?.state).toBe('destroyed');
    expect(record?.wrappedKey).toBeUndefined();
  });

  it('writes key usage records without key material', async () => {
    const keys = hierarchy();
    await keys.initialize('test');
    const tenant = uniqueId('org');
    const keyId = await keys.dataKeyId({ kind: 'tenant', tenant }, 'alice');
    const records = await listKeyUsage(backend.db, { keyId });
    expect(records.map((record) => record.operation).sort()).toEqual(['generate', 'wrap']);
    expect(records[0]).toMatchObject({
      keyId,
      version: 1,
      purpose: 'data',
      tenant,
      actor: 'alice',
      outcome: 'success',
    });
    expect(records[0]?.encryptionContext).toMatchObject({ keyId, owner: 'tenant', tenant });
  });

  it('lets the application role only append usage records', async () => {
    const sink = new DatabaseKeyUsageSink(backend.db);
    await sink.write({
      time: new Date(),
      operation: 'unwrap',
      keyId: 'dk_probe',
      version: 1,
      purpose: 'data',
      tenant: undefined,
      actor: 'test',
      encryptionContext: { keyId: 'dk_probe' },
      outcome: 'failure',
      errorName: 'DecryptionError',
    });
    await expect(
      backend.db.query(`UPDATE key_usage_log SET actor = 'x' WHERE key_id = 'dk_probe'`),
    ).rejects.toThrow();
    await expect(
      backend.db.query(`DELETE FROM key_usage_log WHERE key_id = 'dk_probe'`),
    ).rejects.toThrow();
    const [record] = await listKeyUsage(backend.db, { keyId: 'dk_probe' });
    expect(record?.errorName).toBe('DecryptionError');
    expect(record?.tenant).toBeUndefined();
  });
});

describe('DatabaseKeyStore lock', () => {
  let backend: Backend;

  beforeAll(async () => {
    backend = await openPostgresBackend();
  });

  afterAll(async () => {
    await backend.close();
  });

  it('makes a second locker wait on PostgreSQL', async () => {
    const store = new DatabaseKeyStore(backend.db);
    const keyId = uniqueId('pk');
    await store.insertKey(rootRecord(keyId));
    const events: string[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = store.withKeyLock(keyId, async () => {
      events.push('first start');
      await held;
      events.push('first end');
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = store.withKeyLock(keyId, async () => {
      events.push('second start');
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(['first start', 'first end', 'second start']);
  });
});
