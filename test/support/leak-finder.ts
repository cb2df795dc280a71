/** One place where a registered secret was found; the secret itself is not repeated. */
export interface Leak {
  source: string;
  secretLength: number;
  /** The first four characters, enough to tell a session token from a password. */
  secretStart: string;
}

/** Secrets shorter than this are not searched, since they match ordinary text by chance. */
export const MIN_SECRET_LENGTH = 8;

const WINDOW = MIN_SECRET_LENGTH;
const BASE = 257;
const FILTER_BITS = 22;
const FILTER_MASK = (1 << FILTER_BITS) - 1;

function windowHash(text: string, start: number): number {
  let hash = 0;
  for (let i = start; i < start + WINDOW; i++)
    hash = (Math.imul(hash, BASE) + text.charCodeAt(i)) | 0;
  return hash;
}

/**
 * Finds every secret that occurs in any text. A rolling hash of the last 8 characters of each
 * secret is compared at every position of the text, and only hash matches are compared in
 * full. The cost therefore grows with the text length and not with the number of secrets.
 */
export function findLeaks(
  secrets: Iterable<string>,
  texts: Iterable<{ source: string; text: string }>,
): Leak[] {
  const bySuffixHash = new Map<number, string[]>();
  const filter = new Uint8Array(1 << FILTER_BITS);
  for (const secret of new Set(secrets)) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    const hash = windowHash(secret, secret.length - WINDOW);
    const bucket = bySuffixHash.get(hash) ?? [];
    bucket.push(secret);
    bySuffixHash.set(hash, bucket);
    filter[hash & FILTER_MASK] = 1;
  }

  let highPower = 1;
  for (let i = 0; i < WINDOW - 1; i++) highPower = Math.imul(highPower, BASE);

  const leaks: Leak[] = [];
  for (const { source, text } of texts) {
    const found = new Set<string>();
    let hash = 0;
    for (let i = 0; i < text.length; i++) {
      if (i >= WINDOW) hash = (hash - Math.imul(text.charCodeAt(i - WINDOW), highPower)) | 0;
      hash = (Math.imul(hash, BASE) + text.charCodeAt(i)) | 0;
      if (i < WINDOW - 1 || filter[hash & FILTER_MASK] !== 1) continue;
      for (const secret of bySuffixHash.get(hash) ?? []) {
        const start = i + 1 - secret.length;
        if (start >= 0 && !found.has(secret) && text.startsWith(secret, start)) found.add(secret);
      }
    }
    for (const secret of found) {
      leaks.push({ source, secretLength: secret.length, secretStart: secret.slice(0, 4) });
    }
  }
  return leaks;
}
