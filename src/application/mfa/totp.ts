import { generateSync, generateURI, ScureBase32Plugin, verifySync } from 'otplib';

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

// otplib does the HOTP and TOTP arithmetic (HMAC, dynamic truncation, time steps and the
// constant-time compare). This module fixes MindWeave's options and works on raw secret bytes.
const base32 = new ScureBase32Plugin();

function checkDigits(digits: number): void {
  // RFC 4226 requires at least 6 digits, and 8 is the maximum the RFC 6238 reference code uses.
  if (!Number.isInteger(digits) || digits < 6 || digits > 8) {
    throw new RangeError(`digits must be 6 to 8, got ${digits}`);
  }
}

/** Computes an HOTP value (RFC 4226) for the counter. */
export function hotp(
  secret: Buffer,
  counter: bigint,
  digits = 6,
  algorithm: TotpAlgorithm = 'sha1',
): string {
  checkDigits(digits);
  if (counter < 0n || counter > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError('counter must be between 0 and 2^53 - 1');
  }
  return generateSync({
    strategy: 'hotp',
    secret: new Uint8Array(secret),
    counter: Number(counter),
    digits,
    algorithm,
  });
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
  checkDigits(options.digits);
  return generateSync({
    secret: new Uint8Array(secret),
    epoch: unixSeconds,
    t0: options.epochSeconds,
    period: options.stepSeconds,
    digits: options.digits,
    algorithm: options.algorithm,
  });
}

/**
 * Finds the time step whose code equals `code`, allowing up to `window` steps on either side
 * for clock drift. otplib compares in constant time. Returns null when no step matches or the
 * code is not `digits` decimal digits. Each step may be accepted once: the caller records the
 * returned step and rejects it and earlier ones afterwards.
 */
export function matchTotpStep(
  secret: Buffer,
  code: string,
  unixSeconds: number,
  window = 1,
  options: TotpOptions = DEFAULT_TOTP,
): bigint | null {
  checkDigits(options.digits);
  if (code.length !== options.digits || !/^\d+$/.test(code)) return null;
  const result = verifySync({
    secret: new Uint8Array(secret),
    token: code,
    epoch: unixSeconds,
    t0: options.epochSeconds,
    period: options.stepSeconds,
    digits: options.digits,
    algorithm: options.algorithm,
    // A tolerance of whole periods checks exactly `window` steps before and after the current.
    epochTolerance: window * options.stepSeconds,
  });
  return result.valid ? timeStep(unixSeconds, options) + BigInt(result.delta) : null;
}

/** Encodes bytes as RFC 4648 base32 without padding, as `otpauth://` URIs carry secrets. */
export function base32Encode(bytes: Buffer): string {
  return base32.encode(new Uint8Array(bytes), { padding: false });
}

/** Decodes RFC 4648 base32, ignoring case, spaces and padding; throws on other characters. */
export function base32Decode(text: string): Buffer {
  return Buffer.from(base32.decode(text.toUpperCase().replace(/[\s=]/g, '')));
}

/** Builds the `otpauth://totp/...` URI that authenticator apps import, usually as a QR code. */
export function otpauthUri(
  secret: Buffer,
  issuer: string,
  account: string,
  options: TotpOptions = DEFAULT_TOTP,
): string {
  return generateURI({
    issuer,
    label: account,
    secret: base32Encode(secret),
    algorithm: options.algorithm,
    digits: options.digits,
    period: options.stepSeconds,
  });
}
