import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DecryptionError } from '../../../src/data/crypto/errors.js';
import { FieldCipher } from '../../../src/data/crypto/field-cipher.js';
import { InMemoryKeyStore } from '../../../src/data/crypto/in-memory-key-store.js';
import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import { MemoryKeyUsageSink } from '../../../src/data/crypto/key-usage-log.js';
import { KmsError } from '../../../src/data/kms/kms-provider.js';
import { Pkcs11KmsProvider, type Pkcs11KmsOptions } from '../../../src/data/kms/pkcs11-provider.js';
import { createSoftHsmToken, type SoftHsmToken } from '../../support/softhsm.js';

const KEY = 'mindweave-master';
const context = { keyId: 'pk_a', purpose: 'database', version: '1' };

let token: SoftHsmToken;
let options: Pkcs11KmsOptions;

beforeAll(async () => {
  token = await createSoftHsmToken();
  options = { ...token, keyLabel: KEY, createKey: true };
});

afterAll(async () => {
  await token.cleanup();
});

/** Opens the provider for one test and closes it afterwards, even when the test fails. */
async function withProvider<T>(
  work: (kms: Pkcs11KmsProvider) => Promise<T>,
  overrides: Partial<Pkcs11KmsOptions> = {},
): Promise<T> {
  const kms = await Pkcs11KmsProvider.open({ ...options, ...overrides });
  try {
    return await work(kms);
  } finally {
    await kms.close();
  }
}

describe('Pkcs11KmsProvider on SoftHSM2', () => {
  it('wraps and unwraps inside the token', async () => {
    const blob = await withProvider((kms) => kms.encrypt(KEY, Buffer.from('data key'), context));
    expect(blob[0]).toBe(1);
    expect(blob.includes(Buffer.from('data key'))).toBe(false);
    // A new session finds the same key on the token.
    const plain = await withProvider((kms) => kms.decrypt(KEY, blob, context));
    expect(plain.toString()).toBe('data key');
  });

  it('rejects another context, a flipped bit and a short blob', async () => {
    await withProvider(async (kms) => {
      const blob = await kms.encrypt(KEY, Buffer.from('secret'), context);
      await expect(kms.decrypt(KEY, blob, { ...context, version: '2' })).rejects.toThrow(
        DecryptionError,
      );
      const flipped = Buffer.from(blob);
      flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
      await expect(kms.decrypt(KEY, flipped, context)).rejects.toThrow(DecryptionError);
      await expect(kms.decrypt(KEY, blob.subarray(0, 20), context)).rejects.toThrow(
        DecryptionError,
      );
      // The session still works after failed decryptions.
      expect((await kms.decrypt(KEY, blob, context)).toString()).toBe('secret');
    });
  });

  it('generates data keys whose wrapped copy unwraps', async () => {
    await withProvider(async (kms) => {
      const generated = await kms.generateDataKey(KEY, context);
      expect(generated.plaintext).toHaveLength(32);
      expect(generated.masterKeyId).toBe(KEY);
      const unwrapped = await kms.decrypt(KEY, generated.ciphertextBlob, context);
      expect(unwrapped.equals(generated.plaintext)).toBe(true);
      await expect(kms.generateDataKey(KEY, context, 8)).rejects.toThrow(KmsError);
    });
  });

  it('describes the key and rejects other key ids', async () => {
    await withProvider(async (kms) => {
      expect(await kms.describe(KEY)).toEqual({
        masterKeyId: KEY,
        provider: 'pkcs11',
        algorithm: 'AES-256-GCM',
        enabled: true,
      });
      await expect(kms.encrypt('other', Buffer.from('x'), context)).rejects.toThrow(KmsError);
      expect(kms.productionWarning()).toBeUndefined();
    });
  });

  it('fails clearly on a wrong PIN, token or key label', async () => {
    const wrongPin = Pkcs11KmsProvider.open({ ...options, pin: 'wrong-pin-value' });
    await expect(wrongPin).rejects.toThrow(/login .* failed.*PKCS11_PIN/);
    await expect(wrongPin).rejects.not.toThrow(/wrong-pin-value/);
    await expect(Pkcs11KmsProvider.open({ ...options, tokenLabel: 'absent' })).rejects.toThrow(
      /token "absent" not found/,
    );
    await expect(
      Pkcs11KmsProvider.open({ ...options, keyLabel: 'never-made', createKey: false }),
    ).rejects.toThrow(/key "never-made" not found/);
    await expect(
      Pkcs11KmsProvider.open({ ...options, libraryPath: '/nonexistent/libpkcs11.so' }),
    ).rejects.toThrow(KmsError);
  });

  it('serves the key hierarchy and field encryption', async () => {
    await withProvider(async (kms) => {
      const hierarchy = new KeyHierarchy({
        kms,
        masterKeyId: KEY,
        store: new InMemoryKeyStore(),
        usageSink: new MemoryKeyUsageSink(),
      });
      await hierarchy.initialize('test');
      const cipher = new FieldCipher(hierarchy);
      const location = { tenant: 'org-1', table: 'users', column: 'email', rowId: 'u-1' };
      const sealed = await cipher.encrypt(location, 'ada@example.com');
      hierarchy.clearCache();
      expect((await cipher.decrypt(location, sealed)).toString()).toBe('ada@example.com');
      await expect(cipher.decrypt({ ...location, rowId: 'u-2' }, sealed)).rejects.toThrow(
        DecryptionError,
      );
    });
  });
});
