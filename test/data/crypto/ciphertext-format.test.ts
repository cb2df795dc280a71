import { describe, expect, it } from 'vitest';

import { formatCiphertext, parseCiphertext } from '../../../src/data/crypto/ciphertext-format.js';
import { encodeFieldAad } from '../../../src/data/crypto/field-context.js';
import { encodeLengthPrefixed, encodeStringMap } from '../../../src/data/crypto/length-prefixed.js';

const payload = Buffer.alloc(30, 0xab);

describe('ciphertext format', () => {
  it('round-trips key id, version and payload', () => {
    const text = formatCiphertext({ keyId: 'dk_Abc-1', keyVersion: 12, payload });
    expect(text.startsWith('mw1.dk_Abc-1.12.')).toBe(true);
    const parsed = parseCiphertext(text);
    expect(parsed?.keyId).toBe('dk_Abc-1');
    expect(parsed?.keyVersion).toBe(12);
    expect(parsed?.payload.equals(payload)).toBe(true);
  });

  it.each([
    ['wrong prefix', `mw2.dk_a.1.${payload.toString('base64url')}`],
    ['leading zero version', `mw1.dk_a.01.${payload.toString('base64url')}`],
    ['zero version', `mw1.dk_a.0.${payload.toString('base64url')}`],
    ['extra part', `mw1.dk_a.1.${payload.toString('base64url')}.x`],
    ['padding', `mw1.dk_a.1.${payload.toString('base64')}==`],
    ['standard base64 alphabet', `mw1.dk_a.1.${Buffer.alloc(30, 0xfb).toString('base64')}`],
    ['short payload', `mw1.dk_a.1.${Buffer.alloc(27).toString('base64url')}`],
    ['non-canonical base64url', 'mw1.dk_a.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB'],
    ['empty key id', `mw1..1.${payload.toString('base64url')}`],
  ])('rejects %s', (_name, text) => {
    expect(parseCiphertext(text)).toBeUndefined();
  });

  it('rejects key ids that cannot be parsed back', () => {
    expect(() => formatCiphertext({ keyId: 'a.b', keyVersion: 1, payload })).toThrow(RangeError);
    expect(() => formatCiphertext({ keyId: 'a', keyVersion: 0, payload })).toThrow(RangeError);
  });
});

describe('length-prefixed encoding', () => {
  it('distinguishes field boundaries', () => {
    expect(encodeLengthPrefixed(['ab', 'c']).equals(encodeLengthPrefixed(['a', 'bc']))).toBe(false);
  });

  it('encodes numbers as 8 bytes', () => {
    expect(encodeLengthPrefixed([1]).toString('hex')).toBe('000000080000000000000001');
    expect(() => encodeLengthPrefixed([-1])).toThrow(RangeError);
    expect(() => encodeLengthPrefixed([1.5])).toThrow(RangeError);
  });

  it('sorts string map keys', () => {
    const first = encodeStringMap('label', { b: '2', a: '1' });
    const second = encodeStringMap('label', { a: '1', b: '2' });
    expect(first.equals(second)).toBe(true);
    expect(first.equals(encodeStringMap('label', { a: '1', b: '3' }))).toBe(false);
  });
});

describe('encodeFieldAad', () => {
  const base = {
    tenant: 'org-a',
    table: 'users',
    column: 'email',
    rowId: '1',
    keyId: 'dk_a',
    keyVersion: 1,
  };

  it.each([
    ['tenant', { tenant: 'org-b' }],
    ['table', { table: 'people' }],
    ['column', { column: 'name' }],
    ['row id', { rowId: '2' }],
    ['key id', { keyId: 'dk_b' }],
    ['key version', { keyVersion: 2 }],
    ['shifted boundary', { tenant: 'org-au', table: 'sers' }],
  ])('changes with the %s', (_name, change) => {
    expect(encodeFieldAad(base).equals(encodeFieldAad({ ...base, ...change }))).toBe(false);
  });
});
