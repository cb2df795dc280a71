import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DecryptionError, KeyStateError } from '../../../src/data/crypto/errors.js';
import { InMemoryKeyStore } from '../../../src/data/crypto/in-memory-key-store.js';
import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import { KmsError } from '../../../src/data/kms/kms-provider.js';
import type { KmsProvider } from '../../../src/data/kms/kms-provider.js';
import { unwrapKey, wrapKey } from '../../../src/data/crypto/key-wrap.js';
import type { WrappedKeyIdentity } from '../../../src/data/crypto/key-wrap.js';
import { createTestHierarchy } from './test-hierarchy.js';
import type { TestHierarchy } from './test-hierarchy.js';

describe('KeyHierarchy', () => {
  let setup: TestHierarchy;

  beforeEach(async () => {
    setup = await createTestHierarchy();
  });

  afterEach(async () => {
    await setup.cleanup();
  });

  it('creates three purpose keys under the KMS master key', async () => {
    const generated = setup.sink.records.filter((record) => record.operation === 'generate');
    expect(generated.map((record) => record.purpose)).toEqual([
      'database',
      'application',
      'compliance',
    ]);
    const databaseKeyId = await setup.hierarchy.purposeKeyId('database', 'test');
    const [record] = await setup.hierarchy.listVersions(databaseKeyId);
    expect(record?.parent).toEqual({
      kind: 'kms',
      provider: 'local-file',
      masterKeyId: 'local-master',
    });
    expect(record?.state).toBe('active');
  });

  it('logs generate and wrap for purpose keys', async () => {
    const databaseKeyId = await setup.hierarchy.purposeKeyId('database', 'test');
    const records = setup.sink.records.filter((entry) => entry.keyId === databaseKeyId);
    expect(records.map((entry) => entry.operation)).toEqual(['generate', 'wrap']);
    expect(records[0]?.encryptionContext).toEqual({
      keyId: databaseKeyId,
      purpose: 'database',
      version: '1',
    });
  });

  it('initialize is idempotent', async () => {
    const before = setup.sink.records.length;
    await setup.hierarchy.initialize('test');
    expect(setup.sink.records).toHaveLength(before);
  });

  it('wraps data keys under the database key', async () => {
    const keyId = await setup.hierarchy.dataKeyId({ kind: 'tenant', tenant: 'org-a' }, 'alice');
    const databaseKeyId = await setup.hierarchy.purposeKeyId('database', 'test');
    const [record] = await setup.hierarchy.listVersions(keyId);
    expect(record?.parent).toEqual({ kind: 'key', keyId: databaseKeyId, version: 1 });
    const wrap = setup.sink.records.find(
      (entry) => entry.operation === 'wrap' && entry.keyId === keyId,
    );
    expect(wrap).toMatchObject({
      version: 1,
      purpose: 'data',
      tenant: 'org-a',
      actor: 'alice',
      outcome: 'success',
      encryptionContext: { keyId, parentKeyId: databaseKeyId, tenant: 'org-a' },
    });
  });

  it('gives one data key per tenant and per subject', async () => {
    const tenantA = await setup.hierarchy.dataKeyId({ kind: 'tenant', tenant: 'org-a' }, 't');
    const again = await setup.hierarchy.dataKeyId({ kind: 'tenant', tenant: 'org-a' }, 't');
    const tenantB = await setup.hierarchy.dataKeyId({ kind: 'tenant', tenant: 'org-b' }, 't');
    const subject = await setup.hierarchy.dataKeyId(
      { kind: 'subject', tenant: 'org-a', subject: 'user-1' },
      't',
    );
    expect(again).toBe(tenantA);
    expect(new Set([tenantA, tenantB, subject]).size).toBe(3);
  });

  it('creates one key for concurrent first uses', async () => {
    const owner = { kind: 'tenant' as const, tenant: 'org-c' };
    const ids = await Promise.all([
      setup.hierarchy.dataKeyId(owner, 't'),
      setup.hierarchy.dataKeyId(owner, 't'),
      setup.hierarchy.dataKeyId(owner, 't'),
    ]);
    expect(new Set(ids).size).toBe(1);
  });

  it('logs unwraps of the data key and its parent on a cold cache', async () => {
    const ref = await setup.hierarchy.activeDataKey({ kind: 'tenant', tenant: 'org-a' }, 't');
    setup.hierarchy.clearCache();
    const start = setup.sink.records.length;
    const subkey = await setup.hierarchy.subkey(ref, 'field-encryption', 'reader');
    expect(subkey.key).toHaveLength(32);
    expect(subkey.owner).toEqual({ kind: 'tenant', tenant: 'org-a' });
    const unwraps = setup.sink.records.slice(start);
    expect(unwraps.map((entry) => [entry.operation, entry.purpose, entry.actor])).toEqual([
      ['unwrap', 'database', 'reader'],
      ['unwrap', 'data', 'reader'],
    ]);
    await setup.hierarchy.subkey(ref, 'field-encryption', 'reader');
    expect(setup.sink.records).toHaveLength(start + 2);
  });

  it('purges expired keys from the cache', async () => {
    const ref = await setup.hierarchy.activeDataKey({ kind: 'tenant', tenant: 'org-a' }, 't');
    setup.clock.advanceMs(5 * 60 * 1000);
    setup.hierarchy.purgeExpiredKeys();
    const start = setup.sink.records.length;
    await setup.hierarchy.subkey(ref, 'field-encryption', 'reader');
    const operations = setup.sink.records.slice(start).map((entry) => entry.operation);
    expect(operations).toEqual(['unwrap', 'unwrap']);
  });

  it('logs rotate, schedule, cancel and destroy', async () => {
    const keyId = await setup.hierarchy.dataKeyId({ kind: 'tenant', tenant: 'org-a' }, 't');
    await setup.hierarchy.rotate(keyId, 'admin');
    await setup.hierarchy.scheduleDeletion(keyId, { actor: 'admin', version: 1 });
    await setup.hierarchy.cancelDeletion(keyId, { actor: 'admin' });
    await setup.hierarchy.scheduleDeletion(keyId, { actor: 'admin', version: 1, waitingDays: 7 });
    setup.clock.advanceDays(7);
    await setup.hierarchy.destroy({ keyId, version: 1 }, 'admin');
    const operations = setup.sink.records
      .filter((entry) => entry.keyId === keyId && entry.actor === 'admin')
      .map((entry) => [entry.operation, entry.version, entry.outcome]);
    expect(operations).toEqual([
      ['generate', 2, 'success'],
      ['wrap', 2, 'success'],
      ['rotate', 2, 'success'],
      ['schedule_deletion', 1, 'success'],
      ['cancel_deletion', 1, 'success'],
      ['schedule_deletion', 1, 'success'],
      ['destroy', 1, 'success'],
    ]);
    const versions = await setup.hierarchy.listVersions(keyId);
    expect(versions.map((record) => record.state)).toEqual(['destroyed', 'active']);
    expect(versions[0]?.wrappedKey).toBeUndefined();
  });

  it('logs a failed early destroy and keeps the key', async () => {
    const keyId = await setup.hierarchy.dataKeyId({ kind: 'tenant', tenant: 'org-a' }, 't');
    await setup.hierarchy.scheduleDeletion(keyId, { actor: 'admin' });
    setup.clock.advanceDays(29);
    await expect(setup.hierarchy.destroy({ keyId, version: 1 }, 'admin')).rejects.toThrow(
      KeyStateError,
    );
    expect(setup.sink.records.at(-1)).toMatchObject({
      operation: 'destroy',
      outcome: 'failure',
      errorName: 'KeyStateError',
    });
    expect(await setup.hierarchy.destroyDueKeys('admin')).toEqual([]);
    const [record] = await setup.hierarchy.listVersions(keyId);
    expect(record?.state).toBe('scheduled_for_deletion');
  });

  it('cancel restores encryption for the tenant', async () => {
    const owner = { kind: 'tenant' as const, tenant: 'org-a' };
    const ref = await setup.hierarchy.activeDataKey(owner, 't');
    await setup.hierarchy.scheduleDeletion(ref.keyId, { actor: 'admin' });
    await expect(setup.hierarchy.activeDataKey(owner, 't')).rejects.toThrow(KeyStateError);
    await setup.hierarchy.cancelDeletion(ref.keyId, { actor: 'admin' });
    expect(await setup.hierarchy.activeDataKey(owner, 't')).toEqual(ref);
  });

  it('rejects deleting a purpose key', async () => {
    const databaseKeyId = await setup.hierarchy.purposeKeyId('database', 'test');
    await expect(
      setup.hierarchy.scheduleDeletion(databaseKeyId, { actor: 'admin' }),
    ).rejects.toThrow(KeyStateError);
  });

  it('keeps data keys readable after rotating the database key', async () => {
    const ref = await setup.hierarchy.activeDataKey({ kind: 'tenant', tenant: 'org-a' }, 't');
    const { key: before } = await setup.hierarchy.subkey(ref, 'field-encryption', 't');
    const databaseKeyId = await setup.hierarchy.purposeKeyId('database', 'test');
    await setup.hierarchy.rotate(databaseKeyId, 'admin');
    const newTenant = await setup.hierarchy.activeDataKey({ kind: 'tenant', tenant: 'org-b' }, 't');
    const [newRecord] = await setup.hierarchy.listVersions(newTenant.keyId);
    expect(newRecord?.parent).toEqual({ kind: 'key', keyId: databaseKeyId, version: 2 });
    setup.hierarchy.clearCache();
    const { key: after } = await setup.hierarchy.subkey(ref, 'field-encryption', 't');
    expect(after.equals(before)).toBe(true);
  });

  it('fails to unwrap a wrapped key swapped into another record', async () => {
    const refA = await setup.hierarchy.activeDataKey({ kind: 'tenant', tenant: 'org-a' }, 't');
    const refB = await setup.hierarchy.activeDataKey({ kind: 'tenant', tenant: 'org-b' }, 't');
    const recordA = await setup.hierarchy.getKey(refA);
    const recordB = await setup.hierarchy.getKey(refB);
    await setup.store.updateKey({ ...recordB, wrappedKey: recordA.wrappedKey });
    setup.hierarchy.clearCache();
    await expect(setup.hierarchy.subkey(refB, 'field-encryption', 't')).rejects.toThrow(
      DecryptionError,
    );
    expect(setup.sink.records.at(-1)).toMatchObject({
      operation: 'unwrap',
      keyId: refB.keyId,
      outcome: 'failure',
      errorName: 'DecryptionError',
    });
  });
});

describe('KeyHierarchy.initialize', () => {
  it('rejects an unknown master key id', async () => {
    const setup = await createTestHierarchy();
    try {
      const hierarchy = new KeyHierarchy({
        kms: setup.kms,
        masterKeyId: 'missing',
        store: setup.store,
        usageSink: setup.sink,
      });
      await expect(hierarchy.initialize('test')).rejects.toThrow(KmsError);
    } finally {
      await setup.cleanup();
    }
  });

  it('rejects a disabled master key', async () => {
    const setup = await createTestHierarchy();
    try {
      const disabledKms: KmsProvider = {
        providerName: 'test',
        generateDataKey: (...args) => setup.kms.generateDataKey(...args),
        encrypt: (...args) => setup.kms.encrypt(...args),
        decrypt: (...args) => setup.kms.decrypt(...args),
        describe: async (masterKeyId) => ({
          ...(await setup.kms.describe(masterKeyId)),
          enabled: false,
        }),
        productionWarning: () => undefined,
      };
      const hierarchy = new KeyHierarchy({
        kms: disabledKms,
        masterKeyId: 'local-master',
        store: new InMemoryKeyStore(),
        usageSink: setup.sink,
      });
      await expect(hierarchy.initialize('test')).rejects.toThrow(/is disabled/);
    } finally {
      await setup.cleanup();
    }
  });
});

describe('KeyHierarchy usage sink failure', () => {
  it('fails the key operation', async () => {
    const setup = await createTestHierarchy();
    try {
      const failing = new KeyHierarchy({
        kms: setup.kms,
        masterKeyId: 'local-master',
        store: setup.store,
        usageSink: { write: () => Promise.reject(new Error('sink unavailable')) },
        clock: setup.clock.now,
      });
      const owner = { kind: 'tenant' as const, tenant: 'org-a' };
      await expect(failing.activeDataKey(owner, 't')).rejects.toThrow('sink unavailable');
    } finally {
      await setup.cleanup();
    }
  });
});

describe('wrapKey', () => {
  const wrappingKey = Buffer.alloc(32, 4);
  const material = Buffer.alloc(32, 5);
  const identity: WrappedKeyIdentity = {
    keyId: 'dk_a',
    purpose: 'data',
    version: 1,
    owner: { kind: 'tenant', tenant: 'org-a' },
  };

  it('round-trips for the same identity', () => {
    const wrapped = wrapKey(wrappingKey, material, identity);
    expect(unwrapKey(wrappingKey, wrapped, identity).equals(material)).toBe(true);
  });

  it.each([
    ['key id', { keyId: 'dk_b' }],
    ['version', { version: 2 }],
    ['purpose', { purpose: 'application' as const }],
    ['owner', { owner: { kind: 'tenant' as const, tenant: 'org-b' } }],
  ])('fails for another %s', (_name, change) => {
    const wrapped = wrapKey(wrappingKey, material, identity);
    expect(() => unwrapKey(wrappingKey, wrapped, { ...identity, ...change })).toThrow(
      DecryptionError,
    );
  });
});
