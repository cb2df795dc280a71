import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DecryptionError, KeyStateError } from '../../../src/data/crypto/errors.js';
import { FieldCipher } from '../../../src/data/crypto/field-cipher.js';
import { createTestHierarchy } from './test-hierarchy.js';
import type { TestHierarchy } from './test-hierarchy.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const location = { tenant: 'org-a', table: 'users', column: 'email', rowId: 'user-1' };

describe('decryption after the deletion date', () => {
  let setup: TestHierarchy;
  let cipher: FieldCipher;

  beforeEach(async () => {
    // A cache TTL longer than the waiting period, so the cached key is what a decryption uses.
    setup = await createTestHierarchy({ cache: { ttlMs: 365 * DAY_MS } });
    cipher = new FieldCipher(setup.hierarchy);
  });

  afterEach(async () => {
    await setup.cleanup();
  });

  it('stops at the date without a sweep', async () => {
    const ciphertext = await cipher.encrypt(location, 'alice@example.com');
    const ref = await setup.hierarchy.activeDataKey({ kind: 'tenant', tenant: 'org-a' }, 't');
    await setup.hierarchy.scheduleDeletion(ref.keyId, { actor: 'admin', waitingDays: 7 });

    setup.clock.advanceDays(7);
    setup.clock.advanceMs(-1);
    // Read once more just before the date, which caches the key with its deletion date.
    expect(await cipher.decryptString(location, ciphertext)).toBe('alice@example.com');

    setup.clock.advanceMs(1);
    // The field cipher reports it like a destroyed key, and the hierarchy names the reason.
    await expect(cipher.decryptString(location, ciphertext)).rejects.toThrow(DecryptionError);
    await expect(setup.hierarchy.subkey(ref, 'field-encryption', 't')).rejects.toThrow(
      KeyStateError,
    );
    await expect(setup.hierarchy.subkey(ref, 'field-encryption', 't')).rejects.toThrow(
      /past its deletion date/,
    );
    const [record] = await setup.hierarchy.listVersions(ref.keyId);
    expect(record?.state).toBe('scheduled_for_deletion');
    expect(setup.sink.records.at(-1)).toMatchObject({
      operation: 'unwrap',
      keyId: ref.keyId,
      outcome: 'failure',
      errorName: 'KeyStateError',
    });
  });

  it('decrypts again after a cancellation', async () => {
    const ciphertext = await cipher.encrypt(location, 'alice@example.com');
    const ref = await setup.hierarchy.activeDataKey({ kind: 'tenant', tenant: 'org-a' }, 't');
    await setup.hierarchy.scheduleDeletion(ref.keyId, { actor: 'admin', waitingDays: 7 });
    expect(await cipher.decryptString(location, ciphertext)).toBe('alice@example.com');

    await setup.hierarchy.cancelDeletion(ref.keyId, { actor: 'admin' });
    setup.clock.advanceDays(8);
    expect(await cipher.decryptString(location, ciphertext)).toBe('alice@example.com');
  });
});
