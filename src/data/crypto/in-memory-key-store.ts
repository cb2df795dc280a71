import { KeyConflictError } from './errors.js';
import type { KeyStore } from './key-store.js';
import { ownerKey } from './key-store.js';
import type { KeyOwner, KeyPurpose, KeyRecord, KeyVersionRef } from './key-types.js';

function copyRecord(record: KeyRecord): KeyRecord {
  const copy: KeyRecord = { ...record, owner: { ...record.owner }, parent: { ...record.parent } };
  if (record.wrappedKey !== undefined) {
    copy.wrappedKey = Buffer.from(record.wrappedKey);
  }
  return copy;
}

function versionKey(keyId: string, version: number): string {
  return `${keyId}#${version}`;
}

/** {@link KeyStore} kept in process memory, for tests and single-process tools. */
export class InMemoryKeyStore implements KeyStore {
  readonly #records = new Map<string, KeyRecord>();
  readonly #keyIdsByOwner = new Map<string, string>();
  readonly #encryptionCounts = new Map<string, number>();

  insertKey(record: KeyRecord): Promise<void> {
    const id = versionKey(record.keyId, record.version);
    if (this.#records.has(id)) {
      return Promise.reject(
        new KeyConflictError(`key ${record.keyId} version ${record.version} already exists`),
      );
    }
    const owner = ownerKey(record.purpose, record.owner);
    const existing = this.#keyIdsByOwner.get(owner);
    if (existing !== undefined && existing !== record.keyId) {
      return Promise.reject(new KeyConflictError(`owner ${owner} already has key ${existing}`));
    }
    this.#keyIdsByOwner.set(owner, record.keyId);
    this.#records.set(id, copyRecord(record));
    return Promise.resolve();
  }

  updateKey(record: KeyRecord): Promise<void> {
    const id = versionKey(record.keyId, record.version);
    const previous = this.#records.get(id);
    if (previous === undefined) {
      return Promise.reject(new Error(`key ${record.keyId} version ${record.version} not found`));
    }
    // When an update removes the wrapped key (destruction), the stored copy is zeroed so destroyed
    // material does not linger in this process's memory.
    if (previous.wrappedKey !== undefined && record.wrappedKey === undefined) {
      previous.wrappedKey.fill(0);
    }
    this.#records.set(id, copyRecord(record));
    return Promise.resolve();
  }

  getKey(keyId: string, version: number): Promise<KeyRecord | undefined> {
    const record = this.#records.get(versionKey(keyId, version));
    return Promise.resolve(record === undefined ? undefined : copyRecord(record));
  }

  listVersions(keyId: string): Promise<KeyRecord[]> {
    const versions = [...this.#records.values()]
      .filter((record) => record.keyId === keyId)
      .sort((a, b) => a.version - b.version)
      .map(copyRecord);
    return Promise.resolve(versions);
  }

  findKeyId(purpose: KeyPurpose, owner: KeyOwner): Promise<string | undefined> {
    return Promise.resolve(this.#keyIdsByOwner.get(ownerKey(purpose, owner)));
  }

  listScheduledForDeletion(): Promise<KeyRecord[]> {
    const scheduled = [...this.#records.values()]
      .filter((record) => record.state === 'scheduled_for_deletion')
      .map(copyRecord);
    return Promise.resolve(scheduled);
  }

  listActive(): Promise<KeyRecord[]> {
    const active = [...this.#records.values()]
      .filter((record) => record.state === 'active')
      .map(copyRecord);
    return Promise.resolve(active);
  }

  listWrappedUnderOtherVersions(
    parent: KeyVersionRef,
    after: KeyVersionRef | undefined,
    limit: number,
  ): Promise<KeyRecord[]> {
    const isAfter = (record: KeyRecord): boolean =>
      after === undefined ||
      record.keyId > after.keyId ||
      (record.keyId === after.keyId && record.version > after.version);
    const found = [...this.#records.values()]
      .filter(
        (record) =>
          record.state !== 'destroyed' &&
          record.parent.kind === 'key' &&
          record.parent.keyId === parent.keyId &&
          record.parent.version !== parent.version &&
          isAfter(record),
      )
      .sort((a, b) => Number(a.keyId > b.keyId) - Number(a.keyId < b.keyId) || a.version - b.version)
      .slice(0, limit)
      .map(copyRecord);
    return Promise.resolve(found);
  }

  replaceWrapping(record: KeyRecord, previousParent: KeyVersionRef): Promise<boolean> {
    const id = versionKey(record.keyId, record.version);
    const stored = this.#records.get(id);
    if (
      stored === undefined ||
      stored.state === 'destroyed' ||
      stored.parent.kind !== 'key' ||
      stored.parent.keyId !== previousParent.keyId ||
      stored.parent.version !== previousParent.version
    ) {
      return Promise.resolve(false);
    }
    stored.wrappedKey?.fill(0);
    const replaced = copyRecord(stored);
    replaced.parent = { ...record.parent };
    if (record.wrappedKey !== undefined) {
      replaced.wrappedKey = Buffer.from(record.wrappedKey);
    }
    this.#records.set(id, replaced);
    return Promise.resolve(true);
  }

  /** Counts key versions wrapped under `parent`. This store contains no subject keys. */
  countWrappedUnder(parent: KeyVersionRef): Promise<number> {
    let count = 0;
    for (const record of this.#records.values()) {
      if (
        record.state !== 'destroyed' &&
        record.parent.kind === 'key' &&
        record.parent.keyId === parent.keyId &&
        record.parent.version === parent.version
      ) {
        count += 1;
      }
    }
    return Promise.resolve(count);
  }

  addEncryptions(keyId: string, version: number, count: number): Promise<number> {
    const id = versionKey(keyId, version);
    const total = (this.#encryptionCounts.get(id) ?? 0) + count;
    this.#encryptionCounts.set(id, total);
    return Promise.resolve(total);
  }
}
