import { createHash } from 'node:crypto';

import { encodeEntry, type AuditEntryFields } from './canonical-encoding.js';
import { hashLeaf } from './merkle.js';

/**
 * Label hashed before the canonical bytes of an entry. Its first byte, `m` (0x6d), differs from
 * the Merkle prefixes 0x00 and 0x01, so the input of an entry hash is never also the input of a
 * leaf or node hash.
 */
export const ENTRY_HASH_LABEL = 'mindweave/audit-entry/v1\n';

const labelBytes = Buffer.from(ENTRY_HASH_LABEL, 'utf8');

/** Entry hash and Merkle leaf hash of one entry, computed from one canonical encoding. */
export interface EntryDigests {
  /** Canonical JSON bytes from `encodeEntry`. */
  canonical: Uint8Array;
  /** Lowercase hex SHA-256 of `ENTRY_HASH_LABEL || canonical`, the value the next entry links to. */
  entryHash: string;
  /** RFC 6962 leaf hash SHA-256(0x00 || canonical), the entry's leaf in the Merkle tree. */
  leafHash: Uint8Array;
}

/** Computes the entry hash of already encoded canonical bytes. */
export function entryHashOfCanonical(canonical: Uint8Array): string {
  return createHash('sha256').update(labelBytes).update(canonical).digest('hex');
}

/**
 * Computes the chain hash of an entry, the lowercase hex SHA-256 of `ENTRY_HASH_LABEL` followed
 * by the canonical bytes. The link to the previous entry is `fields.previousHash`, which the
 * canonical bytes include.
 *
 * @throws AuditEncodingError when a field breaks the stored format.
 */
export function entryHash(fields: AuditEntryFields): string {
  return entryHashOfCanonical(encodeEntry(fields));
}

/**
 * Computes the RFC 6962 Merkle leaf hash of an entry, SHA-256(0x00 || canonical bytes). The leaf
 * data is the canonical bytes alone, without `ENTRY_HASH_LABEL`.
 *
 * @throws AuditEncodingError when a field breaks the stored format.
 */
export function entryLeafHash(fields: AuditEntryFields): Uint8Array {
  return hashLeaf(encodeEntry(fields));
}

/**
 * Encodes an entry once and computes both its entry hash and its Merkle leaf hash.
 *
 * @throws AuditEncodingError when a field breaks the stored format.
 */
export function digestEntry(fields: AuditEntryFields): EntryDigests {
  const canonical = encodeEntry(fields);
  return {
    canonical,
    entryHash: entryHashOfCanonical(canonical),
    leafHash: hashLeaf(canonical),
  };
}
