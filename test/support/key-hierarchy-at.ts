import { KeyHierarchy } from '../../src/data/crypto/key-hierarchy.js';
import type { Database } from '../../src/data/database/database.js';
import { DatabaseKeyStore } from '../../src/data/key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../../src/data/key-store/database-key-usage-sink.js';
import type { DataProtection } from '../../src/data/key-store/data-protection.js';

/** Creates a key hierarchy over `db` whose clock is `now`, with an empty cache. */
export function keyHierarchyAt(keys: DataProtection, db: Database, now: Date): KeyHierarchy {
  return new KeyHierarchy({
    kms: keys.kms,
    masterKeyId: keys.masterKeyId,
    store: new DatabaseKeyStore(db),
    usageSink: new DatabaseKeyUsageSink(db),
    clock: () => now,
  });
}
