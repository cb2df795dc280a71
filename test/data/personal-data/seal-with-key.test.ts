import { createDecipheriv, randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { sealWithKey } from '../../../src/data/personal-data/personal-data-sealer.js';

/** Opens a value in the `pd1.<subject>.<iv|ciphertext|tag>` format with node:crypto directly. */
function open(key: Buffer, subject: string, field: string, sealed: string): string {
  const [format, encodedSubject, encodedBody] = sealed.split('.');
  expect(format).toBe('pd1');
  expect(Buffer.from(encodedSubject ?? '', 'base64url').toString('utf8')).toBe(subject);
  const body = Buffer.from(encodedBody ?? '', 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, 12), {
    authTagLength: 16,
  });
  decipher.setAAD(Buffer.from(`pd1\n${subject}\n${field}`, 'utf8'));
  decipher.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()])
    .toString('utf8');
}

describe('sealWithKey', () => {
  const key = randomBytes(32);

  it('seals values that open with their field', () => {
    const sealed = sealWithKey(key, 'subject-1', 'actor_ip', '203.0.113.7');
    expect(open(key, 'subject-1', 'actor_ip', sealed)).toBe('203.0.113.7');
    expect(() => open(key, 'subject-1', 'actor_email', sealed)).toThrow();
  });

  it('uses a new IV for every value', () => {
    // More values than one pool of IVs holds, so the pool is replaced at least twice.
    const ivs = new Set<string>();
    for (let i = 0; i < 1500; i += 1) {
      const sealed = sealWithKey(key, 'subject-2', 'actor_ip', `198.51.100.${i % 256}`);
      expect(open(key, 'subject-2', 'actor_ip', sealed)).toBe(`198.51.100.${i % 256}`);
      const body = Buffer.from(sealed.split('.')[2] ?? '', 'base64url');
      ivs.add(body.subarray(0, 12).toString('hex'));
    }
    expect(ivs.size).toBe(1500);
  });
});
