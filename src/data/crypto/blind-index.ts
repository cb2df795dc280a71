import { createHmac } from 'node:crypto';

import { FieldCryptoCounters } from './field-counters.js';
import type { KeyHierarchy } from './key-hierarchy.js';
import { canDecrypt } from './key-lifecycle.js';
import { encodeLengthPrefixed } from './length-prefixed.js';

/** Length of a blind index in bytes before encoding. 16 bytes encode to 22 base64url characters. */
export const BLIND_INDEX_LENGTH = 16;

/**
 * Normalization applied to a value before indexing.
 * - `email`: Unicode NFC, surrounding whitespace trimmed, lower-cased.
 * - `exact`: the string as given, so only identical strings match.
 */
export type BlindIndexNormalization = 'email' | 'exact';

/** Column that a blind index belongs to. */
export interface BlindIndexColumn {
  table: string;
  column: string;
}

const INDEX_LABEL = 'mindweave/blind-index/v1';

/** Normalizes `value` so that values meant to be equal produce the same blind index. */
export function normalizeForBlindIndex(value: string, normalization: BlindIndexNormalization): string {
  switch (normalization) {
    case 'email':
      // toLowerCase uses Unicode default case mapping and does not depend on the locale.
      return value.normalize('NFC').trim().toLowerCase();
    case 'exact':
      return value;
  }
}

/**
 * Computes a blind index: HMAC-SHA256 under `indexKey` over the table, column and normalized
 * value (length-prefixed), truncated to {@link BLIND_INDEX_LENGTH} bytes and base64url-encoded.
 * Including the column means equal values in two columns get unrelated indexes.
 */
export function computeBlindIndex(
  indexKey: Uint8Array,
  column: BlindIndexColumn,
  normalizedValue: string,
): string {
  const message = encodeLengthPrefixed([INDEX_LABEL, column.table, column.column, normalizedValue]);
  const mac = createHmac('sha256', indexKey).update(message).digest();
  return mac.subarray(0, BLIND_INDEX_LENGTH).toString('base64url');
}

/**
 * Computes blind indexes under each tenant's index key, an HKDF sub-key of the tenant data key
 * that is never used for encryption. Subject data keys are not used, so one lookup covers all of
 * a tenant's rows.
 */
export class BlindIndexer {
  readonly #hierarchy: KeyHierarchy;
  readonly #counters: FieldCryptoCounters;

  constructor(hierarchy: KeyHierarchy, counters: FieldCryptoCounters = new FieldCryptoCounters()) {
    this.#hierarchy = hierarchy;
    this.#counters = counters;
  }

  /** Returns the index to store with a new or updated row, under the active key version. */
  async indexForWrite(
    tenant: string,
    column: BlindIndexColumn,
    value: string,
    normalization: BlindIndexNormalization,
    actor = 'blind-index',
  ): Promise<string> {
    const ref = await this.#hierarchy.activeDataKey({ kind: 'tenant', tenant }, actor);
    const { key } = await this.#hierarchy.subkey(ref, 'blind-index', actor);
    try {
      this.#counters.blindIndexes += 1;
      return computeBlindIndex(key, column, normalizeForBlindIndex(value, normalization));
    } finally {
      key.fill(0);
    }
  }

  /**
   * Returns the indexes to search for, one per key version that can still decrypt. After a
   * rotation, rows written under older versions keep their older index until rewritten, so a
   * lookup matches any of these values (for example with SQL `IN`).
   */
  async indexesForLookup(
    tenant: string,
    column: BlindIndexColumn,
    value: string,
    normalization: BlindIndexNormalization,
    actor = 'blind-index',
  ): Promise<string[]> {
    const keyId = await this.#hierarchy.dataKeyId({ kind: 'tenant', tenant }, actor);
    const normalized = normalizeForBlindIndex(value, normalization);
    const indexes: string[] = [];
    for (const record of await this.#hierarchy.listVersions(keyId)) {
      if (!canDecrypt(record)) {
        continue;
      }
      const { key } = await this.#hierarchy.subkey(record, 'blind-index', actor);
      try {
        indexes.push(computeBlindIndex(key, column, normalized));
      } finally {
        key.fill(0);
      }
    }
    this.#counters.blindIndexes += indexes.length;
    return indexes;
  }
}
