import { createHmac, timingSafeEqual } from 'node:crypto';

/** HMAC hash functions that RFC 6238 allows; authenticator apps support SHA-1 everywhere. */
export type TotpAlgorithm = 'sha1' | 'sha256' | 'sha512';

export interface TotpOptions {
  /** Seconds per time step (RFC 6238 X). */
  stepSeconds: number;
  /** Unix time in seconds at which step 0 starts (RFC 6238 T0). */
  epochSeconds: number;
  digits: number;
  algorithm: TotpAlgorithm;
}

/** The settings MindWeave enrolls with, which every common authenticator app supports. */
export const DEFAULT_TOTP: TotpOptions = {
  stepSeconds: 30,
  epochSeconds: 0,
  digits: 6,
  algorithm: 'sha1',
};

/**
 * Computes an HOTP value (RFC 4226, section 5.3): HMAC over the 8-byte big-endian counter,
 * dynamic truncation to 31 bits, then the low `digits` decimal digits with leading zeros.
 */
export function hotp(
  secret: Buffer,
  counter: bigint,
  digits = 6,
  algorithm: TotpAlgorithm = 'sha1',
): string {
  if (digits < 6 || digits > 10) throw new RangeError(`digits must be 6 to 10, got ${digits}`);
  if (counter < 0n) throw new RangeError('counter must not be negative');
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(counter);
  const mac = createHmac(algorithm, secret).update(message).digest();
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const truncated = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(truncated % 10 ** digits).padStart(digits, '0');
}

/** The time step that contains `unixSeconds` (RFC 6238 T). */
export function timeStep(unixSeconds: number, options: TotpOptions = DEFAULT_TOTP): bigint {
  return BigInt(Math.floor((unixSeconds - options.epochSeconds) / options.stepSeconds));
}

/** Computes the TOTP value at `unixSeconds` (RFC 6238, section 4.2). */
export function totp(
  secret: Buffer,
  unixSeconds: number,
  options: TotpOptions = DEFAULT_TOTP,
): string {
  return hotp(secret, timeStep(unixSeconds, options), options.digits, options.algorithm);
}

/**
 * Finds the time step whose code equals `code`, trying the current step first and then up
 * to `window` steps on either side to allow for clock drift. Every candidate is compared in
 * constant time. Returns null when no step matches.
 */
export function matchTotpStep(
  secret: Buffer,
  code: string,
  unixSeconds: number,
  window = 1,
  options: TotpOptions = DEFAULT_TOTP,
): bigint | null {
  const presented = Buffer.from(code, 'utf8');
  const current = timeStep(unixSeconds, options);
  let matched: bigint | null = null;
  for (const offset of [0, ...Array.from({ length: window }, (_, i) => [-(i + 1), i + 1]).flat()]) {
    const step = current + BigInt(offset);
    if (step < 0n) continue;
    const expected = Buffer.from(hotp(secret, step, options.digits, options.algorithm), 'utf8');
    const equal = expected.length === presented.length && timingSafeEqual(expected, presented);
    if (equal && matched === null) matched = step;
  }
  return matched;
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Encodes bytes as RFC 4648 base32 without padding, as `otpauth://` URIs carry secrets. */
export function base32Encode(bytes: Buffer): string {
  let output = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      output += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) output += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return output;
}

/** Decodes RFC 4648 base32, ignoring case, spaces and padding; throws on other characters. */
export function base32Decode(text: string): Buffer {
  const clean = text.toUpperCase().replace(/[\s=]/g, '');
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of clean) {
    const value = BASE32_ALPHABET.indexOf(char);
    if (value < 0) throw new Error('invalid base32 character');
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** Builds the `otpauth://totp/...` URI that authenticator apps import, usually as a QR code. */
export function otpauthUri(
  secret: Buffer,
  issuer: string,
  account: string,
  options: TotpOptions = DEFAULT_TOTP,
): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const params = new URLSearchParams({
    secret: base32Encode(secret),
    issuer,
    algorithm: options.algorithm.toUpperCase(),
    digits: String(options.digits),
    period: String(options.stepSeconds),
  });
  return `otpauth://totp/${label}?${params.toString()}`;
}
