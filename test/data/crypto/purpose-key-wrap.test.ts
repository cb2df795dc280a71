import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { DecryptionError } from '../../../src/data/crypto/errors.js';
import { MemoryKeyUsageSink } from '../../../src/data/crypto/key-usage-log.js';
import { createTestHierarchy } from './test-hierarchy.js';

const context = (version: number) => ({ subject: 'user:1', complianceVersion: String(version) });

describe('wrapping under a purpose key', () => {
  it('round-trips and logs the wrap and the unwrap', async () => {
    const setup = await createTestHierarchy();
    try {
      const material = randomBytes(32);
      const { version, wrapped } = await setup.hierarchy.wrapWithPurposeKey(
        'compliance',
        material,
        context,
        'test',
      );
      expect(wrapped.length).toBe(60);
      const opened = await setup.hierarchy.unwrapWithPurposeKey(
        'compliance',
        version,
        wrapped,
        context(version),
        'test',
      );
      expect(opened.equals(material)).toBe(true);
      const logged = setup.sink.records.filter((record) => record.encryptionContext.subject);
      expect(logged.map((record) => [record.operation, record.purpose, record.outcome])).toEqual([
        ['wrap', 'compliance', 'success'],
        ['unwrap', 'compliance', 'success'],
      ]);
    } finally {
      await setup.cleanup();
    }
  });

  it('rejects another context and logs the failure', async () => {
    const setup = await createTestHierarchy();
    try {
      const { version, wrapped } = await setup.hierarchy.wrapWithPurposeKey(
        'compliance',
        randomBytes(32),
        context,
        'test',
      );
      const failures = new MemoryKeyUsageSink();
      await expect(
        setup.hierarchy.unwrapWithPurposeKey(
          'compliance',
          version,
          wrapped,
          { subject: 'user:2', complianceVersion: String(version) },
          'test',
          failures,
        ),
      ).rejects.toThrow(DecryptionError);
      expect(failures.records.map((record) => [record.operation, record.outcome])).toEqual([
        ['unwrap', 'failure'],
      ]);
    } finally {
      await setup.cleanup();
    }
  });

  it('opens keys wrapped before a rotation and wraps new ones under the new version', async () => {
    const setup = await createTestHierarchy();
    try {
      const material = randomBytes(32);
      const before = await setup.hierarchy.wrapWithPurposeKey('compliance', material, context, 'test');
      const keyId = await setup.hierarchy.purposeKeyId('compliance', 'test');
      await setup.hierarchy.rotate(keyId, 'test');
      const after = await setup.hierarchy.wrapWithPurposeKey('compliance', material, context, 'test');
      expect(after.version).toBe(before.version + 1);
      const opened = await setup.hierarchy.unwrapWithPurposeKey(
        'compliance',
        before.version,
        before.wrapped,
        context(before.version),
        'test',
      );
      expect(opened.equals(material)).toBe(true);
    } finally {
      await setup.cleanup();
    }
  });
});
