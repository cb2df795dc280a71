import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { GCM_IV_LENGTH, GCM_TAG_LENGTH } from '../../../src/data/crypto/aes-gcm.js';
import { formatCiphertext, parseCiphertext } from '../../../src/data/crypto/ciphertext-format.js';
import {
  CryptoParameterError,
  DecryptionError,
  KeyUsageLimitError,
} from '../../../src/data/crypto/errors.js';
import { FieldCipher } from '../../../src/data/crypto/field-cipher.js';
import type { FieldLocation } from '../../../src/data/crypto/field-context.js';
import { createTestHierarchy } from './test-hierarchy.js';
import type { TestHierarchy } from './test-hierarchy.js';

const location: FieldLocation = {
  tenant: 'org-a',
  table: 'users',
  column: 'email',
  rowId: 'row-1',
};

function reformat(ciphertext: string, change: (payload: Buffer) => Buffer): string {
  const parsed = parseCiphertext(ciphertext);
  if (parsed === undefined) {
    throw new Error(`not a ciphertext: ${ciphertext}`);
  }
  return formatCiphertext({ ...parsed, payload: change(parsed.payload) });
}

describe('FieldCipher', () => {
  let setup: TestHierarchy;
  let cipher: FieldCipher;

  beforeEach(async () => {
    setup = await createTestHierarchy();
    cipher = new FieldCipher(setup.hierarchy);
  });

  afterEach(async () => {
    await setup.cleanup();
  });

  it('round-trips a string', async () => {
    const ciphertext = await cipher.encrypt(location, 'alice@example.com');
    expect(await cipher.decryptString(location, ciphertext)).toBe('alice@example.com');
  });

  it('round-trips empty and binary values', async () => {
    const empty = await cipher.encrypt(location, '');
    expect(await cipher.decrypt(location, empty)).toHaveLength(0);
    const bytes = Buffer.from([0, 255, 1, 254]);
    const binary = await cipher.encrypt(location, bytes);
    expect((await cipher.decrypt(location, binary)).equals(bytes)).toBe(true);
  });

  it('writes the mw1 format with a readable key version', async () => {
    const ciphertext = await cipher.encrypt(location, 'hello');
    expect(ciphertext).toMatch(/^mw1\.dk_[A-Za-z0-9_-]{16}\.1\.[A-Za-z0-9_-]+$/);
    const parsed = parseCiphertext(ciphertext);
    expect(parsed?.keyVersion).toBe(1);
    expect(parsed?.payload).toHaveLength(GCM_IV_LENGTH + 5 + GCM_TAG_LENGTH);
  });

  it('encrypts the same value differently each time', async () => {
    const first = await cipher.encrypt(location, 'same');
    const second = await cipher.encrypt(location, 'same');
    expect(first).not.toBe(second);
  });

  it.each([
    ['row', { rowId: 'row-2' }],
    ['column', { column: 'phone' }],
    ['table', { table: 'contacts' }],
  ])('fails when moved to another %s', async (_name, change) => {
    const ciphertext = await cipher.encrypt(location, 'secret');
    await expect(cipher.decrypt({ ...location, ...change }, ciphertext)).rejects.toThrow(
      DecryptionError,
    );
  });

  it('fails when moved to another tenant', async () => {
    await cipher.encrypt({ ...location, tenant: 'org-b' }, 'creates org-b key');
    const ciphertext = await cipher.encrypt(location, 'secret');
    await expect(cipher.decrypt({ ...location, tenant: 'org-b' }, ciphertext)).rejects.toThrow(
      DecryptionError,
    );
  });

  it('fails with a truncated tag', async () => {
    const ciphertext = await cipher.encrypt(location, 'secret');
    for (const cut of [1, 4, 8]) {
      const truncated = reformat(ciphertext, (payload) => payload.subarray(0, payload.length - cut));
      await expect(cipher.decrypt(location, truncated)).rejects.toThrow(DecryptionError);
    }
  });

  it('fails with a flipped bit in IV, body or tag', async () => {
    const ciphertext = await cipher.encrypt(location, 'secret');
    const length = parseCiphertext(ciphertext)?.payload.length ?? 0;
    for (const index of [0, GCM_IV_LENGTH, length - 1]) {
      const tampered = reformat(ciphertext, (payload) => {
        const copy = Buffer.from(payload);
        copy[index] = (copy[index] ?? 0) ^ 1;
        return copy;
      });
      await expect(cipher.decrypt(location, tampered)).rejects.toThrow(DecryptionError);
    }
  });

  it('fails when the header names another version', async () => {
    const ciphertext = await cipher.encrypt(location, 'secret');
    const keyId = parseCiphertext(ciphertext)?.keyId ?? '';
    await setup.hierarchy.rotate(keyId, 'test');
    const relabelled = ciphertext.replace(/^mw1\.([^.]+)\.1\./, 'mw1.$1.2.');
    expect(relabelled).not.toBe(ciphertext);
    await expect(cipher.decrypt(location, relabelled)).rejects.toThrow(DecryptionError);
  });

  it('fails for an unknown version or key id', async () => {
    const ciphertext = await cipher.encrypt(location, 'secret');
    const unknownVersion = ciphertext.replace(/^mw1\.([^.]+)\.1\./, 'mw1.$1.9.');
    await expect(cipher.decrypt(location, unknownVersion)).rejects.toThrow(DecryptionError);
    const unknownKey = ciphertext.replace(/^mw1\.[^.]+\./, 'mw1.dk_unknown.');
    await expect(cipher.decrypt(location, unknownKey)).rejects.toThrow(DecryptionError);
  });

  it.each(['tenant', 'table', 'column', 'rowId'] as const)(
    'rejects an empty %s',
    async (part) => {
      const invalid = { ...location, [part]: '' };
      await expect(cipher.encrypt(invalid, 'secret')).rejects.toThrow(CryptoParameterError);
      const ciphertext = await cipher.encrypt(location, 'secret');
      await expect(cipher.decrypt(invalid, ciphertext)).rejects.toThrow(CryptoParameterError);
    },
  );

  it('rejects an empty subject', async () => {
    await expect(cipher.encrypt(location, 'secret', { subject: '' })).rejects.toThrow(
      CryptoParameterError,
    );
  });

  it('fails for a purpose key id', async () => {
    const ciphertext = await cipher.encrypt(location, 'secret');
    const databaseKeyId = await setup.hierarchy.purposeKeyId('database', 'test');
    const relabelled = ciphertext.replace(/^mw1\.[^.]+\./, `mw1.${databaseKeyId}.`);
    await expect(cipher.decrypt(location, relabelled)).rejects.toThrow(DecryptionError);
  });

  it('fails for malformed strings with the same message', async () => {
    for (const text of ['', 'plain', 'mw2.dk_a.1.AAAA', 'mw1.dk_a.01.AAAA', 'mw1.dk_a.1.@@']) {
      await expect(cipher.decrypt(location, text)).rejects.toThrow('decryption failed');
    }
  });

  it('keeps old data readable after rotation', async () => {
    const before = await cipher.encrypt(location, 'old value');
    const keyId = parseCiphertext(before)?.keyId ?? '';
    const rotated = await setup.hierarchy.rotate(keyId, 'test');
    expect(rotated.version).toBe(2);
    const after = await cipher.encrypt(location, 'new value');
    expect(parseCiphertext(after)?.keyVersion).toBe(2);
    expect(await cipher.decryptString(location, before)).toBe('old value');
    expect(await cipher.decryptString(location, after)).toBe('new value');
    const versions = await setup.hierarchy.listVersions(keyId);
    expect(versions.map((record) => record.state)).toEqual(['decrypt_only', 'active']);
  });

  it('reads old data after rotation with a cold cache', async () => {
    const before = await cipher.encrypt(location, 'old value');
    await setup.hierarchy.rotate(parseCiphertext(before)?.keyId ?? '', 'test');
    setup.hierarchy.clearCache();
    expect(await cipher.decryptString(location, before)).toBe('old value');
  });

  it('decrypts during the deletion waiting period, not after destroy', async () => {
    const ciphertext = await cipher.encrypt(location, 'to be erased');
    const keyId = parseCiphertext(ciphertext)?.keyId ?? '';
    await setup.hierarchy.scheduleDeletion(keyId, { actor: 'test', waitingDays: 7 });
    setup.clock.advanceDays(6);
    expect(await cipher.decryptString(location, ciphertext)).toBe('to be erased');
    setup.hierarchy.clearCache();
    expect(await cipher.decryptString(location, ciphertext)).toBe('to be erased');
    await expect(cipher.encrypt(location, 'new write')).rejects.toThrow('no active version');
    setup.clock.advanceDays(1);
    expect(await setup.hierarchy.destroyDueKeys('test')).toEqual([{ keyId, version: 1 }]);
    await expect(cipher.decrypt(location, ciphertext)).rejects.toThrow(DecryptionError);
  });

  it('uses a subject key that can be erased alone', async () => {
    const subjectValue = await cipher.encrypt(location, 'subject data', { subject: 'user-7' });
    const tenantValue = await cipher.encrypt(location, 'tenant data');
    const subjectKeyId = parseCiphertext(subjectValue)?.keyId ?? '';
    expect(subjectKeyId).not.toBe(parseCiphertext(tenantValue)?.keyId);
    await setup.hierarchy.scheduleDeletion(subjectKeyId, { actor: 'test' });
    setup.clock.advanceDays(30);
    await setup.hierarchy.destroyDueKeys('test');
    await expect(cipher.decrypt(location, subjectValue)).rejects.toThrow(DecryptionError);
    expect(await cipher.decryptString(location, tenantValue)).toBe('tenant data');
  });

  it('counts operations without logging each one', async () => {
    const ciphertext = await cipher.encrypt(location, 'a');
    await cipher.decrypt(location, ciphertext);
    await cipher.decrypt(location, ciphertext);
    await expect(cipher.decrypt({ ...location, rowId: 'x' }, ciphertext)).rejects.toThrow();
    expect(cipher.counters.snapshot()).toEqual({
      encryptions: 1,
      decryptions: 2,
      decryptionFailures: 1,
      blindIndexes: 0,
    });
    const unwraps = setup.sink.records.filter((record) => record.operation === 'unwrap');
    expect(unwraps).toHaveLength(0);
  });
});

describe('FieldCipher encryption limit', () => {
  it('reports rotation and stops at the limit', async () => {
    const notices: unknown[] = [];
    const setup = await createTestHierarchy({
      encryptionLimit: { maxPerVersion: 10, rotationThreshold: 0.5, reservationBlock: 4 },
      onRotationNeeded: (notice) => notices.push(notice),
    });
    try {
      const cipher = new FieldCipher(setup.hierarchy);
      const first = await cipher.encrypt(location, 'v');
      const ref = { keyId: parseCiphertext(first)?.keyId ?? '', version: 1 };
      for (let i = 1; i < 10; i += 1) {
        await cipher.encrypt(location, 'v');
      }
      expect(setup.hierarchy.isRotationNeeded(ref)).toBe(true);
      expect(notices).toEqual([{ ...ref, encryptions: 8, maxPerVersion: 10 }]);
      await expect(cipher.encrypt(location, 'v')).rejects.toThrow(KeyUsageLimitError);
      await setup.hierarchy.rotate(ref.keyId, 'test');
      const next = await cipher.encrypt(location, 'v');
      expect(parseCiphertext(next)?.keyVersion).toBe(2);
    } finally {
      await setup.cleanup();
    }
  });
});
