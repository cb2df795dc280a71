/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  generateRecoveryCode,
  hashRecoveryCode,
  normalizeRecoveryCode,
} from '../../src/application/mfa/recovery-codes.js';
import { TotpSecretSealer } from '../../src/application/mfa/totp-secret-sealer.js';

const USER_A = '6f1c0a4e-2b7d-4c1e-9a53-0d8e7f6a5b41';
const USER_B = '0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b';

describe('TOTP secret sealer', () => {
  let folder: string;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'mindweave-totp-key-'));
  });

  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('round-trips a secret', () => {
    const sealer = TotpSecretSealer.withKey(randomBytes(32));
    const secret = randomBytes(20);
    const sealed = sealer.seal(USER_A, secret);
    expect(sealed).toMatch(/^ts1\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(secret.toString('base64url'));
    expect(sealer.open(USER_A, sealed)).toEqual(secret);
  });

  it('rejects another user', () => {
    const sealer = TotpSecretSealer.withKey(randomBytes(32));
    const sealed = sealer.seal(USER_A, randomBytes(20));
    expect(() => sealer.open(USER_B, sealed)).toThrow();
  });

  it('rejects another key', () => {
    const sealed = TotpSecretSealer.withKey(randomBytes(32)).seal(USER_A, randomBytes(20));
    expect(() => TotpSecretSealer.withKey(randomBytes(32)).open(USER_A, sealed)).toThrow();
  });

  it('rejects a changed ciphertext', () => {
    const sealer = TotpSecretSealer.withKey(randomBytes(32));
    const sealed = sealer.seal(USER_A, randomBytes(20));
    const body = Buffer.from(sealed.slice(4), 'base64url');
    body[15] = (body[15] as number) ^ 1;
    expect(() => sealer.open(USER_A, `ts1.${body.toString('base64url')}`)).toThrow();
  });

  it('rejects unknown formats', () => {
    const sealer = TotpSecretSealer.withKey(randomBytes(32));
    expect(() => sealer.open(USER_A, 'ts2.AAAA')).toThrow('unknown format');
    expect(() => sealer.open(USER_A, 'ts1.AAAA')).toThrow('too short');
  });

  it('creates the key file once with mode 0600', async () => {
    const path = join(folder, 'keys', 'totp-secret.key');
    const first = await TotpSecretSealer.open(path);
    const key = await readFile(path);
    expect(key).toHaveLength(32);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const second = await TotpSecretSealer.open(path);
    expect(await readFile(path)).toEqual(key);
    expect(second.open(USER_A, first.seal(USER_A, Buffer.from('secret')))).toEqual(
      Buffer.from('secret'),
    );
  });

  it('rejects a key file of the wrong size', async () => {
    const path = join(folder, 'short.key');
    await writeFile(path, randomBytes(16), { mode: 0o600 });
    await expect(TotpSecretSealer.open(path)).rejects.toThrow('must hold 32 bytes, found 16');
  });
});

describe('recovery codes', () => {
  it('have four groups of four', () => {
    for (let i = 0; i < 100; i++) {
      expect(generateRecoveryCode()).toMatch(/^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
    }
  });

  it('normalize case, spaces and hyphens', () => {
    const code = generateRecoveryCode();
    const typed = ` ${code.toUpperCase().replace(/-/g, ' ')} `;
    expect(normalizeRecoveryCode(typed)).toBe(code.replace(/-/g, ''));
  });

  it('reject look-alikes and wrong lengths', () => {
    expect(normalizeRecoveryCode('abcd-efgh-jkmn-pqr0')).toBeNull();
    expect(normalizeRecoveryCode('abcd-efgh-jkmn-pqrl')).toBeNull();
    expect(normalizeRecoveryCode('abcd-efgh-jkmn')).toBeNull();
    expect(normalizeRecoveryCode('abcd-efgh-jkmn-pqrs-t')).toBeNull();
  });

  it('hash to 32 bytes per code', () => {
    const first = hashRecoveryCode('abcdefghjkmnpqrs');
    expect(first).toHaveLength(32);
    expect(hashRecoveryCode('abcdefghjkmnpqrs')).toEqual(first);
    expect(hashRecoveryCode('abcdefghjkmnpqrt')).not.toEqual(first);
  });
});
