import { describe, expect, it } from 'vitest';

import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  aesGcmEncryptWithIv,
  GCM_IV_LENGTH,
  GCM_TAG_LENGTH,
} from '../../../src/data/crypto/aes-gcm.js';
import { CryptoParameterError, DecryptionError } from '../../../src/data/crypto/errors.js';
import { readWycheproofGroups } from './vectors.js';
import type { WycheproofAeadGroup, WycheproofAeadTest } from './vectors.js';

const groups = readWycheproofGroups<WycheproofAeadGroup>('aes_gcm_test.json');

interface VectorCase extends WycheproofAeadTest {
  keySize: number;
  ivSize: number;
  tagSize: number;
}

function casesWhere(predicate: (group: WycheproofAeadGroup) => boolean): VectorCase[] {
  return groups
    .filter(predicate)
    .flatMap((group) =>
      group.tests.map((test) => ({
        ...test,
        keySize: group.keySize,
        ivSize: group.ivSize,
        tagSize: group.tagSize,
      })),
    );
}

const hex = (value: string): Buffer => Buffer.from(value, 'hex');

const supported = casesWhere((group) => group.ivSize === 96 && group.tagSize === 128);
const otherIvSizes = casesWhere((group) => group.ivSize !== 96);
const otherTagSizes = casesWhere((group) => group.tagSize !== 128);
const validSupported = supported.filter((test) => test.result === 'valid');

describe('AES-GCM against Wycheproof aes_gcm_test.json', () => {
  it('vector file has cases of every kind', () => {
    expect(supported.length).toBeGreaterThan(150);
    expect(supported.some((test) => test.result === 'invalid')).toBe(true);
    expect(otherIvSizes.length).toBeGreaterThan(0);
  });

  it.each(supported)(
    'tcId $tcId, $keySize-bit key, expected $result',
    ({ key, iv, aad, msg, ct, tag, result }) => {
      if (result === 'valid') {
        const sealed = aesGcmEncryptWithIv(hex(key), hex(iv), hex(msg), hex(aad));
        expect(sealed.ciphertext.toString('hex')).toBe(ct);
        expect(sealed.tag.toString('hex')).toBe(tag);
        const opened = aesGcmDecrypt(hex(key), hex(iv), hex(ct), hex(tag), hex(aad));
        expect(opened.toString('hex')).toBe(msg);
      } else {
        expect(() => aesGcmDecrypt(hex(key), hex(iv), hex(ct), hex(tag), hex(aad))).toThrow(
          DecryptionError,
        );
      }
    },
  );

  it.each(otherIvSizes)('tcId $tcId with $ivSize-bit IV is rejected', ({ key, iv, aad, msg, ct, tag }) => {
    expect(() => aesGcmEncryptWithIv(hex(key), hex(iv), hex(msg), hex(aad))).toThrow(
      CryptoParameterError,
    );
    expect(() => aesGcmDecrypt(hex(key), hex(iv), hex(ct), hex(tag), hex(aad))).toThrow(
      DecryptionError,
    );
  });

  it.each(otherTagSizes)('tcId $tcId with $tagSize-bit tag is rejected', ({ key, iv, aad, ct, tag }) => {
    expect(() => aesGcmDecrypt(hex(key), hex(iv), hex(ct), hex(tag), hex(aad))).toThrow(
      DecryptionError,
    );
  });
});

describe('AES-GCM tag length checks', () => {
  // The vector file only has 128-bit tags, so shorter tags are cut from valid vectors. Without
  // authTagLength, Node 20.20 accepts a 4- to 15-byte prefix of a valid tag as authentic.
  it.each([4, 8, 12, 13, 14, 15])('valid vectors truncated to %i-byte tags fail', (length) => {
    for (const { key, iv, aad, ct, tag } of validSupported) {
      const truncated = hex(tag).subarray(0, length);
      expect(() => aesGcmDecrypt(hex(key), hex(iv), hex(ct), truncated, hex(aad))).toThrow(
        DecryptionError,
      );
    }
  });

  it('17-byte tag fails', () => {
    const [vector] = validSupported;
    if (vector === undefined) {
      throw new Error('no valid vector');
    }
    const longTag = Buffer.concat([hex(vector.tag), Buffer.of(0)]);
    expect(() =>
      aesGcmDecrypt(hex(vector.key), hex(vector.iv), hex(vector.ct), longTag, hex(vector.aad)),
    ).toThrow(DecryptionError);
  });

  it('empty tag fails', () => {
    const key = Buffer.alloc(32, 1);
    const sealed = aesGcmEncrypt(key, Buffer.from('secret'), Buffer.alloc(0));
    expect(() =>
      aesGcmDecrypt(key, sealed.iv, sealed.ciphertext, Buffer.alloc(0), Buffer.alloc(0)),
    ).toThrow(DecryptionError);
  });
});

describe('aesGcmEncrypt', () => {
  it('uses a fresh 12-byte IV each call', () => {
    const key = Buffer.alloc(32, 7);
    const first = aesGcmEncrypt(key, Buffer.from('same'), Buffer.alloc(0));
    const second = aesGcmEncrypt(key, Buffer.from('same'), Buffer.alloc(0));
    expect(first.iv).toHaveLength(GCM_IV_LENGTH);
    expect(first.tag).toHaveLength(GCM_TAG_LENGTH);
    expect(first.iv.equals(second.iv)).toBe(false);
    expect(first.ciphertext.equals(second.ciphertext)).toBe(false);
  });

  it('rejects a 31-byte key', () => {
    expect(() => aesGcmEncrypt(Buffer.alloc(31), Buffer.alloc(1), Buffer.alloc(0))).toThrow(
      CryptoParameterError,
    );
  });

  it('round-trips an empty plaintext', () => {
    const key = Buffer.alloc(32, 3);
    const aad = Buffer.from('context');
    const sealed = aesGcmEncrypt(key, Buffer.alloc(0), aad);
    expect(aesGcmDecrypt(key, sealed.iv, sealed.ciphertext, sealed.tag, aad)).toHaveLength(0);
  });
});
