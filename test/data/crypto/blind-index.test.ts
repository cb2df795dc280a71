import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  BLIND_INDEX_LENGTH,
  BlindIndexer,
  computeBlindIndex,
  normalizeForBlindIndex,
} from '../../../src/data/crypto/blind-index.js';
import { FieldCryptoCounters } from '../../../src/data/crypto/field-counters.js';
import { createTestHierarchy } from './test-hierarchy.js';
import type { TestHierarchy } from './test-hierarchy.js';

const emailColumn = { table: 'users', column: 'email' };

describe('normalizeForBlindIndex', () => {
  it('trims and lower-cases emails', () => {
    expect(normalizeForBlindIndex('  Alice@Example.COM \n', 'email')).toBe('alice@example.com');
  });

  it('composes Unicode to NFC for emails', () => {
    const decomposed = 'Jose\u0301@example.com';
    expect(normalizeForBlindIndex(decomposed, 'email')).toBe('jos\u00e9@example.com');
  });

  it('leaves exact values unchanged', () => {
    expect(normalizeForBlindIndex(' A ', 'exact')).toBe(' A ');
  });
});

describe('computeBlindIndex', () => {
  const key = Buffer.alloc(32, 2);

  it('returns 16 bytes as base64url', () => {
    const index = computeBlindIndex(key, emailColumn, 'alice@example.com');
    const bytes = Buffer.from(index, 'base64url');
    expect(bytes).toHaveLength(BLIND_INDEX_LENGTH);
    expect(index).toHaveLength(22);
  });

  it('differs per column, key and value', () => {
    const base = computeBlindIndex(key, emailColumn, 'a');
    expect(computeBlindIndex(key, { table: 'users', column: 'backup_email' }, 'a')).not.toBe(base);
    expect(computeBlindIndex(Buffer.alloc(32, 3), emailColumn, 'a')).not.toBe(base);
    expect(computeBlindIndex(key, emailColumn, 'b')).not.toBe(base);
    expect(computeBlindIndex(key, emailColumn, 'a')).toBe(base);
  });

  it('separates table and column unambiguously', () => {
    const first = computeBlindIndex(key, { table: 'ab', column: 'c' }, 'v');
    const second = computeBlindIndex(key, { table: 'a', column: 'bc' }, 'v');
    expect(first).not.toBe(second);
  });
});

describe('BlindIndexer', () => {
  let setup: TestHierarchy;
  let counters: FieldCryptoCounters;
  let indexer: BlindIndexer;

  beforeEach(async () => {
    setup = await createTestHierarchy();
    counters = new FieldCryptoCounters();
    indexer = new BlindIndexer(setup.hierarchy, counters);
  });

  afterEach(async () => {
    await setup.cleanup();
  });

  it('matches differently written emails', async () => {
    const stored = await indexer.indexForWrite('org-a', emailColumn, 'Alice@Example.com', 'email');
    const lookup = await indexer.indexesForLookup(
      'org-a',
      emailColumn,
      ' alice@example.COM',
      'email',
    );
    expect(lookup).toEqual([stored]);
    expect(counters.blindIndexes).toBe(2);
  });

  it('differs between tenants', async () => {
    const a = await indexer.indexForWrite('org-a', emailColumn, 'bob@example.com', 'email');
    const b = await indexer.indexForWrite('org-b', emailColumn, 'bob@example.com', 'email');
    expect(a).not.toBe(b);
  });

  it('differs from the field encryption sub-key', async () => {
    const ref = await setup.hierarchy.activeDataKey({ kind: 'tenant', tenant: 'org-a' }, 't');
    const { key: encryptionKey } = await setup.hierarchy.subkey(ref, 'field-encryption', 't');
    const { key: indexKey } = await setup.hierarchy.subkey(ref, 'blind-index', 't');
    expect(encryptionKey.equals(indexKey)).toBe(false);
  });

  it('finds rows indexed before a rotation', async () => {
    const before = await indexer.indexForWrite('org-a', emailColumn, 'carol@example.com', 'email');
    const ref = await setup.hierarchy.activeDataKey({ kind: 'tenant', tenant: 'org-a' }, 't');
    await setup.hierarchy.rotate(ref.keyId, 'admin');
    const after = await indexer.indexForWrite('org-a', emailColumn, 'carol@example.com', 'email');
    expect(after).not.toBe(before);
    const lookup = await indexer.indexesForLookup('org-a', emailColumn, 'carol@example.com', 'email');
    expect(lookup).toEqual([before, after]);
  });
});
