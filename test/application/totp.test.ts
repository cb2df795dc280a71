import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  base32Decode,
  base32Encode,
  DEFAULT_TOTP,
  hotp,
  matchTotpStep,
  otpauthUri,
  timeStep,
  totp,
  type TotpAlgorithm,
} from '../../src/application/mfa/totp.js';

interface HotpVectors {
  secretAscii: string;
  digits: number;
  cases: { counter: number; hotp6: string }[];
}

interface TotpVectors {
  stepSeconds: number;
  T0: number;
  digits: number;
  seedsAscii: Record<string, string>;
  cases: { unixTime: number; T_hex: string; algorithm: string; totp8: string }[];
}

const vectorFile = (name: string): unknown =>
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- a fixture file
  JSON.parse(readFileSync(new URL(`../fixtures/vectors/rfc/${name}`, import.meta.url), 'utf8'));

const hotpVectors = vectorFile('rfc4226_hotp.json') as HotpVectors;
const totpVectors = vectorFile('rfc6238_totp.json') as TotpVectors;

describe('HOTP', () => {
  const secret = Buffer.from(hotpVectors.secretAscii, 'ascii');

  it.each(hotpVectors.cases)('RFC 4226 counter $counter', ({ counter, hotp6 }) => {
    expect(hotp(secret, BigInt(counter), hotpVectors.digits)).toBe(hotp6);
  });

  it('has 10 RFC 4226 vectors', () => {
    expect(hotpVectors.cases).toHaveLength(10);
  });

  it('rejects digits outside 6 to 8', () => {
    expect(() => hotp(secret, 0n, 5)).toThrow(RangeError);
    expect(() => hotp(secret, 0n, 9)).toThrow(RangeError);
  });

  it('rejects a negative counter', () => {
    expect(() => hotp(secret, -1n)).toThrow(RangeError);
  });
});

describe('TOTP', () => {
  it('has 18 RFC 6238 vectors', () => {
    expect(totpVectors.cases).toHaveLength(18);
  });

  it.each(totpVectors.cases)(
    'RFC 6238 $algorithm at $unixTime',
    ({ unixTime, T_hex, algorithm, totp8 }) => {
      const options = {
        stepSeconds: totpVectors.stepSeconds,
        epochSeconds: totpVectors.T0,
        digits: totpVectors.digits,
        algorithm: algorithm.toLowerCase() as TotpAlgorithm,
      };
      const seed = Buffer.from(totpVectors.seedsAscii[algorithm] as string, 'ascii');
      const step = BigInt(`0x${T_hex}`);
      expect(timeStep(unixTime, options)).toBe(step);
      expect(totp(seed, unixTime, options)).toBe(totp8);
      // The verification path finds the vector's step, with and without drift allowance.
      expect(matchTotpStep(seed, totp8, unixTime, 0, options)).toBe(step);
      expect(matchTotpStep(seed, totp8, unixTime + 30, 1, options)).toBe(step);
      expect(matchTotpStep(seed, totp8, unixTime + 30, 0, options)).toBeNull();
    },
  );

  it('covers SHA-1, SHA-256 and SHA-512', () => {
    const algorithms = new Set(totpVectors.cases.map((vector) => vector.algorithm));
    expect([...algorithms].sort()).toEqual(['SHA1', 'SHA256', 'SHA512']);
  });

  it('matches the current and adjacent steps only', () => {
    const secret = Buffer.from('12345678901234567890', 'ascii');
    const now = 1_111_111_111;
    const step = timeStep(now);
    expect(matchTotpStep(secret, totp(secret, now), now)).toBe(step);
    expect(matchTotpStep(secret, totp(secret, now - 30), now)).toBe(step - 1n);
    expect(matchTotpStep(secret, totp(secret, now + 30), now)).toBe(step + 1n);
    expect(matchTotpStep(secret, totp(secret, now + 60), now)).toBeNull();
    expect(matchTotpStep(secret, totp(secret, now - 60), now)).toBeNull();
  });

  it('rejects codes of another length', () => {
    const secret = Buffer.from('12345678901234567890', 'ascii');
    const code = totp(secret, 59);
    expect(matchTotpStep(secret, code.slice(1), 59)).toBeNull();
    expect(matchTotpStep(secret, `${code}0`, 59)).toBeNull();
  });
});

describe('base32', () => {
  // RFC 4648, section 10.
  const vectors: [string, string][] = [
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ];

  it.each(vectors)('encodes %j as %s', (plain, encoded) => {
    expect(base32Encode(Buffer.from(plain, 'ascii'))).toBe(encoded);
    expect(base32Decode(encoded).toString('ascii')).toBe(plain);
  });

  it('decodes lower case, spaces and padding', () => {
    expect(base32Decode('mzxw 6ytb oi======').toString('ascii')).toBe('foobar');
  });

  it('rejects characters outside the alphabet', () => {
    expect(() => base32Decode('MZXW1')).toThrow();
  });
});

describe('otpauth URI', () => {
  it('carries the secret, issuer and parameters', () => {
    const secret = Buffer.from('12345678901234567890', 'ascii');
    const uri = new URL(otpauthUri(secret, 'MindWeave', 'owner@example.com'));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/MindWeave:owner@example.com');
    expect(uri.searchParams.get('secret')).toBe(base32Encode(secret));
    expect(uri.searchParams.get('issuer')).toBe('MindWeave');
    // otplib leaves out parameters at their default (SHA1, 6 digits, 30 s), which is what
    // authenticator apps assume when they are absent.
    expect(DEFAULT_TOTP).toMatchObject({ algorithm: 'sha1', digits: 6, stepSeconds: 30 });
    expect(uri.searchParams.get('digits') ?? '6').toBe('6');
    expect(uri.searchParams.get('period') ?? '30').toBe('30');
    expect(uri.searchParams.get('algorithm') ?? 'SHA1').toBe('SHA1');
  });

  it('carries options other than the defaults', () => {
    const secret = Buffer.from('12345678901234567890123456789012', 'ascii');
    const options = { algorithm: 'sha256', digits: 8, stepSeconds: 60, epochSeconds: 0 } as const;
    const uri = new URL(otpauthUri(secret, 'MindWeave', 'owner@example.com', options));
    expect(uri.searchParams.get('algorithm')).toBe('SHA256');
    expect(uri.searchParams.get('digits')).toBe('8');
    expect(uri.searchParams.get('period')).toBe('60');
  });
});
