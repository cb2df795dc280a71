import type { KeyOwner, KeyPurpose, KeyRecord, KeyVersionRef } from './key-types.js';

/**
 * Persistent storage for wrapped key versions and their encryption counters.
 *
 * Implementations return copies, so changing a returned record never changes stored state. They
 * keep (keyId, version) unique and give each (purpose, owner) at most one key id. A
 * database-backed implementation should run `addEncryptions` as one atomic increment.
 */
export interface KeyStore {
  /**
   * Stores a new key version.
   *
   * @throws KeyConflictError when the version already exists, or when the (purpose, owner)
   * already has another key id.
   */
  insertKey(record: KeyRecord): Promise<void>;

  /**
   * Replaces an existing key version with `record`.
   *
   * @throws Error when the version does not exist.
   */
  updateKey(record: KeyRecord): Promise<void>;

  /** Returns one key version, or undefined when it does not exist. */
  getKey(keyId: string, version: number): Promise<KeyRecord | undefined>;

  /** Returns all versions of a key in ascending version order, or an empty list. */
  listVersions(keyId: string): Promise<KeyRecord[]>;

  /** Returns the key id used for `purpose` by `owner`, or undefined when none exists yet. */
  findKeyId(purpose: KeyPurpose, owner: KeyOwner): Promise<string | undefined>;

  /** Returns every version in state `scheduled_for_deletion`. */
  listScheduledForDeletion(): Promise<KeyRecord[]>;

  /** Returns every version in state `active`: at most one per key. */
  listActive(): Promise<KeyRecord[]>;

  /** Adds `count` to the encryption counter of a key version and returns the new total. */
  addEncryptions(keyId: string, version: number, count: number): Promise<number>;

  /**
   * Runs `work` while holding a lock on `keyId` that other processes sharing the store respect,
   * so rotations and deletion steps on one key do not interleave. Stores used by a single
   * process may omit it, and `KeyHierarchy` then serializes changes in this process only.
   */
  withKeyLock?<T>(keyId: string, work: () => Promise<T>): Promise<T>;

  /**
   * Returns up to `limit` versions that are not destroyed and are wrapped under a version of
   * `parent.keyId` other than `parent.version`, ordered by key id and version and starting after
   * `after`. Re-wrapping needs it, and a store without it cannot re-wrap.
   */
  listWrappedUnderOtherVersions?(
    parent: KeyVersionRef,
    after: KeyVersionRef | undefined,
    limit: number,
  ): Promise<KeyRecord[]>;

  /**
   * Saves the parent and wrapped key of `record` in one atomic change, only while the stored
   * version is not destroyed and still wrapped under `previousParent`. Returns false when it
   * changed meanwhile.
   */
  replaceWrapping?(record: KeyRecord, previousParent: KeyVersionRef): Promise<boolean>;

  /**
   * Counts the keys that are not destroyed and are wrapped under `parent`, including keys stored
   * outside this store's key tables. A purpose key version can be deleted only at zero, so a
   * store without it never lets a purpose key version be deleted.
   */
  countWrappedUnder?(parent: KeyVersionRef): Promise<number>;
}

/** Returns a string that identifies a (purpose, owner) pair, for use as a map key. */
export function ownerKey(purpose: KeyPurpose, owner: KeyOwner): string {
  switch (owner.kind) {
    case 'system':
      return JSON.stringify([purpose, 'system']);
    case 'tenant':
      return JSON.stringify([purpose, 'tenant', owner.tenant]);
    case 'subject':
      return JSON.stringify([purpose, 'subject', owner.tenant, owner.subject]);
  }
}
