import { describe, expect, it } from 'vitest';

import { CryptoParameterError } from '../../../src/data/crypto/errors.js';
import { deriveSubkey, hkdfSha256 } from '../../../src/data/crypto/hkdf.js';
import { readVectorFile, readWycheproofGroups } from './vectors.js';
import type { WycheproofHkdfTest } from './vectors.js';

const hex = (value: string): Buffer => Buffer.from(value, 'hex');

const wycheproofCases = readWycheproofGroups<{ tests: WycheproofHkdfTest[] }>(
  'hkdf_sha256_test.json',
).flatMap((group) => group.tests);

interface Rfc5869Case {
  count: string;
  ikm: string;
  salt: string;
  info: string;
  length: number;
  okm: string;
}

/** Parses the `KEY = value` blocks of the pyca/cryptography RFC 5869 vector file. */
function parseRfc5869(text: string): Rfc5869Case[] {
  const cases: Rfc5869Case[] = [];
  let current: Record<string, string> = {};
  const flush = (): void => {
    if (current.COUNT !== undefined) {
      cases.push({
        count: current.COUNT,
        ikm: current.IKM ?? '',
        salt: current.salt ?? '',
        info: current.info ?? '',
        length: Number(current.L),
        okm: current.OKM ?? '',
      });
    }
    current = {};
  };
  for (const line of text.split('\n')) {
    const match = /^(\w+)\s*=\s*(.*)$/.exec(line.trim());
    if (match === null) {
      continue;
    }
    const [, name, value] = match as unknown as [string, string, string];
    if (name === 'COUNT') {
      flush();
    }
    current[name] = value.trim();
  }
  flush();
  return cases;
}

const rfcCases = parseRfc5869(readVectorFile('pyca-cryptography/rfc-5869-HKDF-SHA256.txt'));

describe('HKDF-SHA256 against Wycheproof hkdf_sha256_test.json', () => {
  it('vector file has valid and invalid cases', () => {
    expect(wycheproofCases.filter((test) => test.result === 'valid').length).toBeGreaterThan(50);
    expect(wycheproofCases.some((test) => test.result === 'invalid')).toBe(true);
  });

  it.each(wycheproofCases)('tcId $tcId, $size bytes, expected $result', (test) => {
    if (test.result === 'valid') {
      const okm = hkdfSha256(hex(test.ikm), hex(test.salt), hex(test.info), test.size);
      expect(okm.toString('hex')).toBe(test.okm);
    } else {
      expect(() => hkdfSha256(hex(test.ikm), hex(test.salt), hex(test.info), test.size)).toThrow(
        CryptoParameterError,
      );
    }
  });
});

describe('HKDF-SHA256 against RFC 5869 appendix A (pyca/cryptography file)', () => {
  it('file contains the three SHA-256 cases', () => {
    expect(rfcCases.map((test) => test.count)).toEqual(['1', '2', '3']);
  });

  it.each(rfcCases)('test case $count', (test) => {
    const okm = hkdfSha256(hex(test.ikm), hex(test.salt), hex(test.info), test.length);
    expect(okm.toString('hex')).toBe(test.okm);
  });
});

describe('deriveSubkey', () => {
  const dataKey = Buffer.alloc(32, 9);

  it('gives different keys per purpose', () => {
    const encryption = deriveSubkey(dataKey, 'field-encryption', 'dk_a', 1);
    const index = deriveSubkey(dataKey, 'blind-index', 'dk_a', 1);
    expect(encryption).toHaveLength(32);
    expect(encryption.equals(index)).toBe(false);
  });

  it('gives different keys per key id and version', () => {
    const base = deriveSubkey(dataKey, 'field-encryption', 'dk_a', 1);
    expect(base.equals(deriveSubkey(dataKey, 'field-encryption', 'dk_a', 2))).toBe(false);
    expect(base.equals(deriveSubkey(dataKey, 'field-encryption', 'dk_b', 1))).toBe(false);
    expect(base.equals(deriveSubkey(dataKey, 'field-encryption', 'dk_a', 1))).toBe(true);
  });

  it('never returns the data key itself', () => {
    expect(deriveSubkey(dataKey, 'field-encryption', 'dk_a', 1).equals(dataKey)).toBe(false);
  });
});
