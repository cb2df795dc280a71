import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { FieldCipher } from '../../../src/data/crypto/field-cipher.js';
import { KeyStateError } from '../../../src/data/crypto/errors.js';
import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import { createTestHierarchy } from './test-hierarchy.js';
import type { TestHierarchy } from './test-hierarchy.js';

const locations = ['org-a', 'org-b', 'org-c'].map((tenant) => ({
  tenant,
  table: 'notes',
  column: 'body',
  rowId: `row-${tenant}`,
}));

describe('purpose key retirement', () => {
  let setup: TestHierarchy;
  let databaseKeyId: string;
  let ciphertexts: string[];

  beforeEach(async () => {
    setup = await createTestHierarchy();
    databaseKeyId = await setup.hierarchy.purposeKeyId('database', 'test');
    const cipher = new FieldCipher(setup.hierarchy);
    ciphertexts = [];
    for (const location of locations) {
      ciphertexts.push(await cipher.encrypt(location, `secret of ${location.tenant}`));
    }
    await setup.hierarchy.rotate(databaseKeyId, 'admin');
  });

  afterEach(async () => {
    await setup.cleanup();
  });

  /** Decrypts every value with a hierarchy over the same store that has cached nothing. */
  async function decryptAll(): Promise<string[]> {
    const fresh = new KeyHierarchy({
      kms: setup.kms,
      masterKeyId: 'local-master',
      store: setup.store,
      usageSink: setup.sink,
      clock: setup.clock.now,
    });
    const cipher = new FieldCipher(fresh);
    return Promise.all(
      locations.map((location, index) => cipher.decryptString(location, ciphertexts[index] ?? '')),
    );
  }

  it('rejects the old version before a re-wrap', async () => {
    await expect(
      setup.hierarchy.scheduleDeletion(databaseKeyId, { actor: 'admin', version: 1 }),
    ).rejects.toThrow('3 keys are still wrapped under it');
  });

  it('rejects the active version', async () => {
    await expect(
      setup.hierarchy.scheduleDeletion(databaseKeyId, { actor: 'admin', version: 2 }),
    ).rejects.toThrow(KeyStateError);
  });

  it('re-wraps in batches and destroys the old version', async () => {
    const result = await setup.hierarchy.rewrapDataKeys({ actor: 'admin', batchSize: 2 });
    expect(result).toEqual({ parentVersion: 2, examined: 3, rewrapped: 3, skipped: 0 });
    const logged = setup.sink.records.filter(
      (record) => record.actor === 'admin' && record.purpose === 'data',
    );
    expect(logged.filter((record) => record.operation === 'unwrap')).toHaveLength(3);
    expect(logged.filter((record) => record.operation === 'wrap')).toHaveLength(3);
    for (const record of logged.filter((entry) => entry.operation === 'wrap')) {
      expect(record.encryptionContext.parentVersion).toBe('2');
    }

    await setup.hierarchy.scheduleDeletion(databaseKeyId, { actor: 'admin', version: 1 });
    setup.clock.advanceDays(31);
    expect(await setup.hierarchy.destroyDueKeys('admin')).toEqual([
      { keyId: databaseKeyId, version: 1 },
    ]);
    expect(await decryptAll()).toEqual(locations.map((location) => `secret of ${location.tenant}`));
  });

  it('skips destruction while a key is still wrapped under it', async () => {
    await setup.hierarchy.rewrapDataKeys({ actor: 'admin' });
    await setup.hierarchy.scheduleDeletion(databaseKeyId, { actor: 'admin', version: 1 });
    // Marks one data key as wrapped under version 1 again, like a key that a process which
    // missed the rotation created. Only the count matters here, not its wrapped bytes.
    const [dataKey] = await setup.store.listWrappedUnderOtherVersions(
      { keyId: databaseKeyId, version: 99 },
      undefined,
      1,
    );
    expect(dataKey).toBeDefined();
    if (dataKey === undefined) return;
    await setup.store.replaceWrapping({ ...dataKey, parent: { kind: 'key', keyId: databaseKeyId, version: 1 } }, {
      keyId: databaseKeyId,
      version: 2,
    });

    setup.clock.advanceDays(31);
    expect(await setup.hierarchy.destroyDueKeys('admin')).toEqual([]);
    const failed = setup.sink.records.filter(
      (record) => record.operation === 'destroy' && record.outcome === 'failure',
    );
    expect(failed).toHaveLength(1);
    expect(failed[0]?.errorName).toBe('KeyStateError');
  });
});
