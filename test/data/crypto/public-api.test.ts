import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  BlindIndexer,
  FieldCipher,
  InMemoryKeyStore,
  KeyHierarchy,
  MemoryKeyUsageSink,
} from '../../../src/data/crypto/index.js';
import { LocalFileKmsProvider } from '../../../src/data/kms/index.js';

describe('public API', () => {
  it('runs the README usage example', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 'mindweave-api-'));
    try {
      const kms = await LocalFileKmsProvider.open({ directory: path.join(directory, 'kms') });
      expect(kms.productionWarning('production')).toBeDefined();
      const hierarchy = new KeyHierarchy({
        kms,
        masterKeyId: 'local-master',
        store: new InMemoryKeyStore(),
        usageSink: new MemoryKeyUsageSink(),
      });
      await hierarchy.initialize('server');

      const fields = new FieldCipher(hierarchy);
      const location = { tenant: 'org-1', table: 'users', column: 'email', rowId: 'user-1' };
      const stored = await fields.encrypt(location, 'alice@example.com');
      const email = await fields.decryptString(location, stored);
      expect(email).toBe('alice@example.com');

      const index = new BlindIndexer(hierarchy, fields.counters);
      const column = { table: 'users', column: 'email' };
      const emailIndex = await index.indexForWrite('org-1', column, email, 'email');
      expect(emailIndex).toHaveLength(22);
      expect(fields.counters.snapshot()).toMatchObject({
        encryptions: 1,
        decryptions: 1,
        blindIndexes: 1,
      });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
