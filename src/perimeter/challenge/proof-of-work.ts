import { createHash } from 'node:crypto';

/** Counts the zero bits at the start of `digest`, most significant bit first. */
export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/**
 * Returns the work a solution shows: the leading zero bits of SHA-256 over the UTF-8 bytes of
 * the challenge followed by those of the nonce.
 */
export function proofOfWorkBits(challenge: string, nonce: string): number {
  const digest = createHash('sha256').update(challenge, 'utf8').update(nonce, 'utf8').digest();
  return leadingZeroBits(digest);
}
