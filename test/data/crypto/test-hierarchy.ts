import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { InMemoryKeyStore } from '../../../src/data/crypto/in-memory-key-store.js';
import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import type { KeyHierarchyOptions } from '../../../src/data/crypto/key-hierarchy.js';
import { MemoryKeyUsageSink } from '../../../src/data/crypto/key-usage-log.js';
import { LocalFileKmsProvider } from '../../../src/data/kms/local-file-provider.js';

/** Clock whose time only moves when a test advances it. */
export class ManualClock {
  #time: number;

  constructor(start = Date.parse('2026-01-01T00:00:00Z')) {
    this.#time = start;
  }

  now = (): Date => new Date(this.#time);

  advanceDays(days: number): void {
    this.#time += days * 24 * 60 * 60 * 1000;
  }

  advanceMs(ms: number): void {
    this.#time += ms;
  }
}

/** Key hierarchy wired to a local-file KMS in a temporary folder, an in-memory store and sink. */
export interface TestHierarchy {
  hierarchy: KeyHierarchy;
  store: InMemoryKeyStore;
  sink: MemoryKeyUsageSink;
  clock: ManualClock;
  kms: LocalFileKmsProvider;
  cleanup: () => Promise<void>;
}

/** Creates a {@link TestHierarchy}. Call `cleanup` afterwards to remove the key folder. */
export async function createTestHierarchy(
  options: Partial<Omit<KeyHierarchyOptions, 'kms' | 'store' | 'usageSink' | 'clock'>> = {},
): Promise<TestHierarchy> {
  const directory = await mkdtemp(path.join(tmpdir(), 'mindweave-crypto-'));
  const kms = await LocalFileKmsProvider.open({ directory: path.join(directory, 'kms') });
  const store = new InMemoryKeyStore();
  const sink = new MemoryKeyUsageSink();
  const clock = new ManualClock();
  const hierarchy = new KeyHierarchy({
    kms,
    masterKeyId: 'local-master',
    store,
    usageSink: sink,
    clock: clock.now,
    ...options,
  });
  await hierarchy.initialize('test');
  return {
    hierarchy,
    store,
    sink,
    clock,
    kms,
    cleanup: () => rm(directory, { recursive: true, force: true }),
  };
}
