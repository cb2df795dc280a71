import { randomBytes } from 'node:crypto';

import type { KmsProvider } from '../kms/kms-provider.js';
import { KmsError } from '../kms/kms-provider.js';
import { aesGcmDecrypt, aesGcmEncrypt, concatSealed, splitSealed } from './aes-gcm.js';
import { EncryptionBudget } from './encryption-budget.js';
import type { EncryptionLimitOptions, RotationNotice } from './encryption-budget.js';
import { KeyConflictError, KeyNotFoundError, KeyStateError } from './errors.js';
import type { SubkeyPurpose } from './hkdf.js';
import {
  canEncrypt,
  cancelDeletion,
  DEFAULT_DELETION_WAITING_DAYS,
  destroyKeyVersion,
  isDueForDestruction,
  isRotationDue,
  planRotation,
  scheduleDeletion,
} from './key-lifecycle.js';
import { KeyedLock } from './keyed-lock.js';
import { KeyMaterialCache } from './key-material-cache.js';
import type { CachedSubkey, KeyMaterialCacheOptions } from './key-material-cache.js';
import { KeyMaterialService } from './key-material-service.js';
import type { KeyStore } from './key-store.js';
import { ownerKey } from './key-store.js';
import type {
  Clock,
  KeyOwner,
  KeyPurpose,
  KeyRecord,
  KeyVersionRef,
  PurposeKeyName,
} from './key-types.js';
import { PURPOSE_KEY_NAMES } from './key-types.js';
import type { KeyUsageSink } from './key-usage-log.js';
import { unwrapKey, wrapKey } from './key-wrap.js';
import { identityContext, kmsContext, KeyUsageLogger } from './key-usage-logger.js';
import { encodeLengthPrefixed } from './length-prefixed.js';
import { LruCache } from './lru-cache.js';

/** Options for {@link KeyHierarchy}. */
export interface KeyHierarchyOptions {
  kms: KmsProvider;
  /** KMS master key that wraps the purpose keys. */
  masterKeyId: string;
  store: KeyStore;
  usageSink: KeyUsageSink;
  /** Defaults to the system clock. */
  clock?: Clock;
  /** Bounds of the unwrapped-key cache. Its TTL also bounds how long an active version is cached. */
  cache?: Omit<KeyMaterialCacheOptions, 'now'>;
  encryptionLimit?: EncryptionLimitOptions;
  /** Called once per key version when its encryption count passes the rotation threshold. */
  onRotationNeeded?: (notice: RotationNotice) => void;
  /** Default waiting period for scheduled deletions, in days. Defaults to 30, minimum 7. */
  deletionWaitingDays?: number;
}

/** Options for deletion scheduling and cancellation. */
export interface DeletionOptions {
  /** User or component that requests the change, recorded in the key usage log. */
  actor: string;
  /** Version to change. All versions that allow the change are changed when omitted. */
  version?: number;
  /** Waiting period in days, for scheduling only. */
  waitingDays?: number;
}

/** Options for {@link KeyHierarchy.rewrapDataKeys}. */
export interface RewrapOptions {
  /** User or component that requests the re-wrap, recorded in the key usage log. */
  actor: string;
  /** Key versions read per store query. Defaults to 100. */
  batchSize?: number;
  /**
   * Called after each key version is re-wrapped and saved, with the counts so far. An error it
   * throws stops the run, and every key stays readable.
   */
  onRewrapped?: (ref: KeyVersionRef, progress: RewrapResult) => void | Promise<void>;
}

/** Counts of one {@link KeyHierarchy.rewrapDataKeys} run. */
export interface RewrapResult {
  /** Purpose key version that the re-wrapped keys are wrapped under now. */
  parentVersion: number;
  /** Key versions found under an older purpose key version. */
  examined: number;
  rewrapped: number;
  /** Key versions that another process destroyed or re-wrapped meanwhile. */
  skipped: number;
}

/** A purpose key's active version and when it was read from the key store. */
interface RememberedPurposeRecord {
  record: KeyRecord;
  readAt: number;
}

/** Associated data of a value wrapped under a purpose key: a label and the context's pairs, sorted. */
function contextAad(context: Record<string, string>): Buffer {
  const pairs = Object.entries(context);
  // Code unit order, not locale order, so the associated data never depends on the ICU data.
  pairs.sort(([a], [b]) => Number(a > b) - Number(a < b));
  return encodeLengthPrefixed(['mindweave/purpose-wrap/v1', ...pairs.flat()]);
}

function newKeyId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/**
 * Key hierarchy: a KMS master key wraps the `database`, `application` and `compliance` purpose
 * keys, and the `database` key wraps one data key per organization (tenant) and, where erasure of
 * one person's data must be possible, per data subject. Each key has numbered versions with a
 * lifecycle state. Every generate, wrap, unwrap, rotate and deletion step writes a key usage
 * record, and unwrapped keys are kept in a bounded cache that zeroes them on eviction.
 *
 * Rotation and the deletion steps run under a per-key lock: the store's `withKeyLock` when it
 * has one, so several processes sharing a database take turns, and otherwise a lock in this
 * process. Two processes creating the same key at once both succeed, because the store rejects
 * the second insert and the loser reads the winner's key id.
 */
export class KeyHierarchy {
  readonly #kms: KmsProvider;
  readonly #masterKeyId: string;
  readonly #store: KeyStore;
  readonly #clock: Clock;
  readonly #cache: KeyMaterialCache;
  readonly #logger: KeyUsageLogger;
  readonly #material: KeyMaterialService;
  readonly #budget: EncryptionBudget;
  readonly #waitingDays: number;
  // Active version per owner. Rotations made by another process become visible when an entry
  // expires, after at most the cache TTL. Old versions stay decryptable meanwhile.
  readonly #activeRefs: LruCache<string, KeyVersionRef>;
  readonly #creating = new Map<string, Promise<string>>();
  readonly #keyLocks = new KeyedLock();
  readonly #purposeKeyIds = new Map<PurposeKeyName, string>();
  readonly #activePurposeRecords = new Map<PurposeKeyName, RememberedPurposeRecord>();
  readonly #purposeRecords = new Map<string, KeyRecord>();
  readonly #purposeRefreshes = new Map<PurposeKeyName, Promise<void>>();
  readonly #purposeRecordTtlMs: number;

  constructor(options: KeyHierarchyOptions) {
    this.#kms = options.kms;
    this.#masterKeyId = options.masterKeyId;
    this.#store = options.store;
    this.#clock = options.clock ?? (() => new Date());
    const now = (): number => this.#clock().getTime();
    this.#cache = new KeyMaterialCache({ ...options.cache, now });
    this.#logger = new KeyUsageLogger(options.usageSink, this.#clock);
    this.#material = new KeyMaterialService({
      kms: options.kms,
      masterKeyId: options.masterKeyId,
      store: options.store,
      cache: this.#cache,
      logger: this.#logger,
      clock: this.#clock,
    });
    this.#activeRefs = new LruCache({
      maxEntries: options.cache?.maxEntries ?? 1000,
      ttlMs: options.cache?.ttlMs ?? 5 * 60 * 1000,
      now,
    });
    this.#budget = new EncryptionBudget(
      options.store,
      options.encryptionLimit,
      options.onRotationNeeded,
    );
    this.#waitingDays = options.deletionWaitingDays ?? DEFAULT_DELETION_WAITING_DAYS;
    this.#purposeRecordTtlMs = options.cache?.ttlMs ?? 5 * 60 * 1000;
  }

  /**
   * Checks that the KMS master key is enabled and creates any purpose key that does not exist
   * yet. Safe to call on every start.
   *
   * @throws KmsError when the master key is unknown to the provider or disabled.
   */
  async initialize(actor: string): Promise<void> {
    const description = await this.#kms.describe(this.#masterKeyId);
    if (!description.enabled) {
      throw new KmsError(
        `KMS master key ${this.#masterKeyId} of provider ${description.provider} is disabled. ` +
          `Enable it before starting.`,
      );
    }
    for (const name of PURPOSE_KEY_NAMES) {
      await this.#ensureKeyId(name, { kind: 'system' }, actor);
    }
  }

  /** Returns the key id of a purpose key, creating the key if needed. */
  purposeKeyId(name: PurposeKeyName, actor: string): Promise<string> {
    return this.#ensureKeyId(name, { kind: 'system' }, actor);
  }

  /** Returns the data key id of a tenant or data subject, creating the key if needed. */
  dataKeyId(owner: Exclude<KeyOwner, { kind: 'system' }>, actor: string): Promise<string> {
    return this.#ensureKeyId('data', owner, actor);
  }

  /**
   * Returns the active version of the data key for `owner`, creating the key if needed.
   *
   * @throws KeyStateError when the key has no active version, for example after its deletion
   * was scheduled.
   */
  async activeDataKey(
    owner: Exclude<KeyOwner, { kind: 'system' }>,
    actor: string,
  ): Promise<KeyVersionRef> {
    const cacheKey = ownerKey('data', owner);
    const cached = this.#activeRefs.get(cacheKey);
    if (cached !== undefined) {
      return cached;
    }
    const keyId = await this.dataKeyId(owner, actor);
    const active = await this.#activeRecord(keyId);
    const ref = { keyId, version: active.version };
    this.#activeRefs.set(cacheKey, ref);
    return ref;
  }

  /**
   * Returns one stored key version.
   *
   * @throws KeyNotFoundError when it does not exist.
   */
  async getKey(ref: KeyVersionRef): Promise<KeyRecord> {
    const record = await this.#store.getKey(ref.keyId, ref.version);
    if (record === undefined) {
      throw new KeyNotFoundError(`key ${ref.keyId} version ${ref.version} not found`);
    }
    return record;
  }

  /** Returns all versions of a key in ascending order. */
  listVersions(keyId: string): Promise<KeyRecord[]> {
    return this.#store.listVersions(keyId);
  }

  /**
   * Returns a copy of the `purpose` sub-key of a data key version, with the key's owner. The
   * caller zeroes the key after use. A cache hit reads nothing from the key store, so a version
   * destroyed by another process stays usable here until its cache entry expires. A cached
   * version whose deletion date was known when it was cached stops at that date.
   *
   * @throws KeyNotFoundError when the version does not exist.
   * @throws KeyStateError when the version is destroyed or past its deletion date, or is not a
   * data key.
   */
  async subkey(ref: KeyVersionRef, purpose: SubkeyPurpose, actor: string): Promise<CachedSubkey> {
    const cached = this.#cache.getSubkey(ref, purpose);
    if (cached !== undefined) {
      return cached;
    }
    const record = await this.getKey(ref);
    if (record.purpose !== 'data') {
      throw new KeyStateError(`key ${ref.keyId} is a ${record.purpose} key, not a data key`);
    }
    const material = await this.#material.unwrap(record, actor);
    material.fill(0);
    const subkey = this.#cache.getSubkey(ref, purpose);
    if (subkey === undefined) {
      // Reached only if the cache evicted the entry between insertion and this lookup.
      throw new KeyStateError(`key ${ref.keyId} version ${ref.version} was evicted before use. Retry the operation.`);
    }
    return subkey;
  }

  /**
   * Wraps `material` under the active version of the `name` purpose key with AES-256-GCM, binding
   * `context` of that version as associated data, and records the wrap in the key usage log. `usage` replaces the
   * hierarchy's sink for that record, so a caller inside a transaction can write it there.
   */
  async wrapWithPurposeKey(
    name: PurposeKeyName,
    material: Uint8Array,
    contextOf: (version: number) => Record<string, string>,
    actor: string,
    usage?: KeyUsageSink,
  ): Promise<{ version: number; wrapped: Buffer }> {
    const record = await this.#activePurposeRecord(name, actor);
    const context = contextOf(record.version);
    const logger = this.#usageLogger(usage);
    // The unwrap record goes to `usage` too, because on embedded PostgreSQL a write to the
    // hierarchy's own sink would wait for the caller's open transaction forever.
    const wrappingKey = await this.#material.unwrap(record, actor, logger);
    try {
      const wrapped = concatSealed(aesGcmEncrypt(wrappingKey, material, contextAad(context)));
      await logger.write('wrap', record, actor, { ...kmsContext(record), ...context });
      return { version: record.version, wrapped };
    } finally {
      wrappingKey.fill(0);
    }
  }

  /**
   * Opens what {@link KeyHierarchy.wrapWithPurposeKey} wrapped under `version` of the `name`
   * purpose key for the same `context`, and records the unwrap (or its failure). The caller
   * zeroes the result after use.
   *
   * @throws DecryptionError when the wrapped bytes or the context do not match.
   */
  async unwrapWithPurposeKey(
    name: PurposeKeyName,
    version: number,
    wrapped: Uint8Array,
    context: Record<string, string>,
    actor: string,
    usage?: KeyUsageSink,
  ): Promise<Buffer> {
    const record = await this.#purposeRecord(name, version, actor);
    const logged = { ...kmsContext(record), ...context };
    const logger = this.#usageLogger(usage);
    let wrappingKey: Buffer | undefined;
    try {
      wrappingKey = await this.#material.unwrap(record, actor, logger);
      const sealed = splitSealed(wrapped);
      const material = aesGcmDecrypt(wrappingKey, sealed.iv, sealed.ciphertext, sealed.tag, contextAad(context));
      await logger.write('unwrap', record, actor, logged);
      return material;
    } catch (error) {
      await logger.write('unwrap', record, actor, logged, error);
      throw error;
    } finally {
      wrappingKey?.fill(0);
    }
  }

  /**
   * Reads the records of all versions of the `name` purpose key from the key store, loads the
   * active version into the cache and returns its number. Wraps and unwraps afterwards read
   * nothing from the key store. The KMS unwraps the purpose key again once its cache entry
   * expires.
   */
  async loadPurposeKey(name: PurposeKeyName, actor: string): Promise<number> {
    const record = await this.#readPurposeRecords(name, actor);
    (await this.#material.unwrap(record, actor)).fill(0);
    return record.version;
  }

  /**
   * Records in the key usage log that a key wrapped under the `name` purpose key, named by
   * `context`, was destroyed. The purpose key itself is untouched. `version` is the purpose key
   * version that wrapped it, or undefined for a key that was never wrapped (the active version is
   * recorded then).
   */
  async recordWrappedKeyDestroyed(
    name: PurposeKeyName,
    version: number | undefined,
    context: Record<string, string>,
    actor: string,
    usage?: KeyUsageSink,
  ): Promise<void> {
    const record =
      version === undefined
        ? await this.#activePurposeRecord(name, actor)
        : await this.#purposeRecord(name, version, actor);
    await this.#usageLogger(usage).write('destroy', record, actor, {
      ...kmsContext(record),
      ...context,
    });
  }

  #usageLogger(usage: KeyUsageSink | undefined): KeyUsageLogger {
    return usage === undefined ? this.#logger : new KeyUsageLogger(usage, this.#clock);
  }

  /**
   * The active version of a purpose key, remembered so that a wrap inside an open transaction
   * reads nothing from the key store (embedded PostgreSQL runs no other query then). Once the
   * remembered record is older than the cache TTL, it is still returned, and a read of the store
   * starts without being awaited, so the next wraps use the result of a rotation or destruction
   * by another process. Until then new wraps use the older version. A purpose key version is
   * deleted only when nothing is wrapped under it, and a wrap made meanwhile blocks that.
   */
  async #activePurposeRecord(name: PurposeKeyName, actor: string): Promise<KeyRecord> {
    const known = this.#activePurposeRecords.get(name);
    if (known === undefined) return this.#readPurposeRecords(name, actor);
    if (this.#clock().getTime() - known.readAt >= this.#purposeRecordTtlMs) {
      this.#refreshPurposeRecordsLater(name, actor);
    }
    return known.record;
  }

  /** Reads every version of a purpose key from the store and returns the active one. */
  async #readPurposeRecords(name: PurposeKeyName, actor: string): Promise<KeyRecord> {
    const keyId = await this.#purposeKeyIdOf(name, actor);
    const versions = await this.#store.listVersions(keyId);
    for (const record of versions) {
      this.#purposeRecords.set(`${keyId}:${record.version}`, record);
    }
    const active = versions.find(canEncrypt);
    if (active === undefined) {
      throw new KeyStateError(
        `${name} key ${keyId} has no active version. Rotate it to encrypt again.`,
      );
    }
    this.#activePurposeRecords.set(name, { record: active, readAt: this.#clock().getTime() });
    return active;
  }

  #refreshPurposeRecordsLater(name: PurposeKeyName, actor: string): void {
    if (this.#purposeRefreshes.has(name)) return;
    // A failed read keeps the remembered records, and the next wrap tries again.
    const refresh = this.#readPurposeRecords(name, actor).then(
      () => undefined,
      () => undefined,
    );
    this.#purposeRefreshes.set(name, refresh);
    void refresh.finally(() => this.#purposeRefreshes.delete(name));
  }

  /**
   * One version of a purpose key, remembered once read. A destruction by another process is seen
   * when the active version's record is read again.
   */
  async #purposeRecord(name: PurposeKeyName, version: number, actor: string): Promise<KeyRecord> {
    const keyId = await this.#purposeKeyIdOf(name, actor);
    const known = this.#purposeRecords.get(`${keyId}:${version}`);
    if (known !== undefined) return known;
    const record = await this.getKey({ keyId, version });
    if (record.purpose !== name) {
      throw new KeyStateError(`key ${keyId} is a ${record.purpose} key, not the ${name} key`);
    }
    this.#purposeRecords.set(`${keyId}:${version}`, record);
    return record;
  }

  async #purposeKeyIdOf(name: PurposeKeyName, actor: string): Promise<string> {
    // A purpose key's id never changes once created, so it is remembered for good.
    const known = this.#purposeKeyIds.get(name);
    if (known !== undefined) return known;
    const keyId = await this.purposeKeyId(name, actor);
    this.#purposeKeyIds.set(name, keyId);
    return keyId;
  }

  /**
   * Counts one encryption under `ref` against its limit.
   *
   * @throws KeyUsageLimitError when the version must be rotated first.
   */
  reserveEncryption(ref: KeyVersionRef): Promise<void> {
    return this.#budget.reserve(ref);
  }

  /** Reports whether `ref` has passed its rotation threshold, as far as this process has seen. */
  isRotationNeeded(ref: KeyVersionRef): boolean {
    return this.#budget.isRotationNeeded(ref);
  }

  /**
   * Rotates a key: creates a new active version for new writes and makes the previous active
   * version decrypt_only, so data written under it stays readable.
   */
  rotate(keyId: string, actor: string): Promise<KeyVersionRef> {
    return this.#withKeyLock(keyId, () => this.#rotateLocked(keyId, actor));
  }

  async #rotateLocked(keyId: string, actor: string): Promise<KeyVersionRef> {
    const versions = await this.#store.listVersions(keyId);
    const latest = versions.at(-1);
    if (latest === undefined) {
      throw new KeyNotFoundError(`key ${keyId} not found`);
    }
    // A key whose versions wait for destruction is being erased. A new version would take new
    // writes, and re-encryption would copy the old values onto it, so the erasure would remove
    // nothing. Such a key rotates again once its deletion is cancelled or done.
    if (
      !versions.some(canEncrypt) &&
      versions.some((record) => record.state === 'scheduled_for_deletion')
    ) {
      throw new KeyStateError(
        `key ${keyId} is scheduled for deletion: cancel its deletion before rotating it`,
      );
    }
    const plan = planRotation(versions);
    const record = await this.#createVersion(latest.purpose, latest.owner, keyId, plan.newVersion, actor);
    for (const updated of plan.updated) {
      await this.#store.updateKey(updated);
    }
    this.#activeRefs.delete(ownerKey(latest.purpose, latest.owner));
    if (latest.purpose !== 'data') {
      // Remembered here rather than read again, so the next wrap inside a transaction reads
      // nothing from the key store. Older versions stay remembered and still unwrap.
      this.#activePurposeRecords.set(latest.purpose, { record, readAt: this.#clock().getTime() });
      this.#purposeRecords.set(`${record.keyId}:${record.version}`, record);
    }
    await this.#logger.write('rotate', record, actor, identityContext(record));
    return { keyId, version: record.version };
  }

  /**
   * Rotates every purpose and data key whose active version is at least `rotationDays` old, so
   * new writes use a fresh version at once. Each key is checked again under its lock, so a key
   * that another process rotated meanwhile is skipped. Returns the new versions.
   */
  async rotateDueKeys(rotationDays: number, actor: string): Promise<KeyVersionRef[]> {
    const rotated: KeyVersionRef[] = [];
    for (const candidate of await this.#store.listActive()) {
      if (!isRotationDue(candidate, this.#clock(), rotationDays)) {
        continue;
      }
      const ref = await this.#withKeyLock(candidate.keyId, async () => {
        const versions = await this.#store.listVersions(candidate.keyId);
        const due = versions.some((record) => isRotationDue(record, this.#clock(), rotationDays));
        return due ? this.#rotateLocked(candidate.keyId, actor) : undefined;
      });
      if (ref !== undefined) {
        rotated.push(ref);
      }
    }
    return rotated;
  }

  /**
   * Schedules deletion of one version, or of every active and decrypt_only version. Scheduled
   * versions still decrypt until their deletion date, and stop at that date even before
   * {@link KeyHierarchy.destroy} runs. New writes are rejected at once.
   *
   * A purpose key version can be scheduled only by its number, once it is no longer active and no
   * key is wrapped under it: {@link KeyHierarchy.rewrapDataKeys} and the subject key re-wrap
   * move those keys to the active version.
   *
   * @throws KeyStateError for a purpose key without `version`, for its active version, and for
   * a version that still wraps keys or whose store cannot count them.
   */
  scheduleDeletion(keyId: string, options: DeletionOptions): Promise<KeyRecord[]> {
    return this.#withKeyLock(keyId, () => this.#scheduleDeletionLocked(keyId, options));
  }

  async #scheduleDeletionLocked(keyId: string, options: DeletionOptions): Promise<KeyRecord[]> {
    const targets = await this.#selectVersions(keyId, options.version, (record) =>
      record.state === 'active' || record.state === 'decrypt_only',
    );
    // Every purpose key target is checked before any version changes.
    for (const record of targets) {
      if (record.purpose === 'data') continue;
      if (options.version === undefined) {
        throw new KeyStateError(
          `cannot schedule deletion of every version of ${record.purpose} key ${keyId}: pass ` +
            `the number of a version that is no longer active and wraps no key`,
        );
      }
      if (record.state === 'active') {
        throw new KeyStateError(
          `cannot schedule deletion of ${record.purpose} key ${keyId} version ${record.version}, ` +
            `because it is the active version. Rotate the key and re-wrap the keys under it first.`,
        );
      }
      const dependants = await this.#dependantsError(record);
      if (dependants !== undefined) throw dependants;
    }
    const now = this.#clock();
    const scheduled: KeyRecord[] = [];
    for (const record of targets) {
      const updated = scheduleDeletion(record, now, options.waitingDays ?? this.#waitingDays);
      await this.#store.updateKey(updated);
      this.#forgetVersion(updated);
      await this.#logger.write('schedule_deletion', updated, options.actor, identityContext(updated));
      scheduled.push(updated);
    }
    return scheduled;
  }

  /** Cancels the scheduled deletion of one version, or of every scheduled version of the key. */
  cancelDeletion(keyId: string, options: DeletionOptions): Promise<KeyRecord[]> {
    return this.#withKeyLock(keyId, () => this.#cancelDeletionLocked(keyId, options));
  }

  async #cancelDeletionLocked(keyId: string, options: DeletionOptions): Promise<KeyRecord[]> {
    const targets = await this.#selectVersions(
      keyId,
      options.version,
      (record) => record.state === 'scheduled_for_deletion',
    );
    const restored: KeyRecord[] = [];
    for (const record of targets) {
      const updated = cancelDeletion(record);
      await this.#store.updateKey(updated);
      this.#forgetVersion(updated);
      await this.#logger.write('cancel_deletion', updated, options.actor, identityContext(updated));
      restored.push(updated);
    }
    return restored;
  }

  /**
   * Drops what this process remembers of a version whose deletion schedule changed. The next
   * read of its key material reads the record again, so the cache entry carries the current
   * deletion date, and a cached key stops decrypting once that date passes.
   */
  #forgetVersion(updated: KeyRecord): void {
    this.#cache.delete({ keyId: updated.keyId, version: updated.version });
    this.#activeRefs.delete(ownerKey(updated.purpose, updated.owner));
    if (updated.purpose !== 'data') {
      this.#purposeRecords.set(`${updated.keyId}:${updated.version}`, updated);
    }
  }

  /**
   * Destroys a version whose deletion date has passed: the wrapped key is zeroed and removed from
   * the store and the unwrapped copy leaves the cache, so data under it can no longer be read.
   *
   * @throws KeyStateError when the version is not scheduled or its deletion date has not passed.
   */
  destroy(ref: KeyVersionRef, actor: string): Promise<KeyRecord> {
    return this.#withKeyLock(ref.keyId, async () => this.#destroyLocked(await this.getKey(ref), actor));
  }

  async #destroyLocked(record: KeyRecord, actor: string): Promise<KeyRecord> {
    const ref = { keyId: record.keyId, version: record.version };
    let destroyed: KeyRecord;
    try {
      destroyed = destroyKeyVersion(record, this.#clock());
      // Checked again at destruction, because a process that had not yet seen the rotation may
      // have wrapped a new key under this version during the waiting period.
      const dependants = record.purpose === 'data' ? undefined : await this.#dependantsError(record);
      if (dependants !== undefined) throw dependants;
    } catch (error) {
      await this.#logger.write('destroy', record, actor, identityContext(record), error);
      throw error;
    }
    await this.#store.updateKey(destroyed);
    this.#cache.delete(ref);
    this.#activeRefs.delete(ownerKey(record.purpose, record.owner));
    if (record.purpose !== 'data') {
      this.#purposeRecords.set(`${record.keyId}:${record.version}`, destroyed);
    }
    await this.#logger.write('destroy', destroyed, actor, identityContext(destroyed));
    return destroyed;
  }

  /**
   * Destroys every scheduled version whose deletion date has passed and returns them. A purpose
   * key version that still wraps keys is skipped, with a failed `destroy` in the key usage log,
   * and is tried again at the next call.
   */
  async destroyDueKeys(actor: string): Promise<KeyVersionRef[]> {
    const now = this.#clock();
    const destroyed: KeyVersionRef[] = [];
    for (const candidate of await this.#store.listScheduledForDeletion()) {
      if (!isDueForDestruction(candidate, now)) {
        continue;
      }
      // Another process may have destroyed or restored the version since the list was read, so
      // it is read again under the key lock and skipped unless it is still due.
      const done = await this.#withKeyLock(candidate.keyId, async () => {
        const record = await this.#store.getKey(candidate.keyId, candidate.version);
        if (record === undefined || !isDueForDestruction(record, this.#clock())) {
          return false;
        }
        try {
          await this.#destroyLocked(record, actor);
        } catch (error) {
          if (record.purpose !== 'data' && error instanceof KeyStateError) return false;
          throw error;
        }
        return true;
      });
      if (done) {
        destroyed.push({ keyId: candidate.keyId, version: candidate.version });
      }
    }
    return destroyed;
  }

  /**
   * Re-wraps every data key version wrapped under an older version of the `database` purpose key
   * under its active version, so the older versions can be deleted. The key material and the data
   * key's own id and version stay, so no encrypted value changes. Each version is re-wrapped
   * under its key lock, and its parent and wrapped key are saved in one conditional update, so a
   * run stopped at any point leaves every key readable and the next run continues. Each
   * re-wrap records an `unwrap` under the old parent and a `wrap` under the new one.
   *
   * @throws KeyStateError when the store cannot re-wrap, or an old parent version is destroyed.
   * @throws DecryptionError when a stored data key does not unwrap.
   */
  async rewrapDataKeys(options: RewrapOptions): Promise<RewrapResult> {
    const store = this.#store;
    if (store.listWrappedUnderOtherVersions === undefined || store.replaceWrapping === undefined) {
      throw new KeyStateError('this key store cannot re-wrap keys under a newer purpose key version');
    }
    const parent = await this.#activeRecord(await this.#purposeKeyIdOf('database', options.actor));
    const result: RewrapResult = { parentVersion: parent.version, examined: 0, rewrapped: 0, skipped: 0 };
    const batchSize = options.batchSize ?? 100;
    let after: KeyVersionRef | undefined;
    for (;;) {
      const batch = await store.listWrappedUnderOtherVersions(parent, after, batchSize);
      for (const candidate of batch) {
        const ref = { keyId: candidate.keyId, version: candidate.version };
        after = ref;
        result.examined += 1;
        const done = await this.#withKeyLock(ref.keyId, () =>
          this.#rewrapLocked(ref, parent, options.actor),
        );
        if (!done) {
          result.skipped += 1;
          continue;
        }
        result.rewrapped += 1;
        await options.onRewrapped?.(ref, { ...result });
      }
      if (batch.length < batchSize) break;
    }
    return result;
  }

  /** Re-wraps one data key version under `parent`. Returns false when there is nothing to do. */
  async #rewrapLocked(ref: KeyVersionRef, parent: KeyRecord, actor: string): Promise<boolean> {
    const record = await this.#store.getKey(ref.keyId, ref.version);
    if (
      record?.wrappedKey === undefined ||
      record.state === 'destroyed' ||
      record.parent.kind !== 'key' ||
      record.parent.keyId !== parent.keyId ||
      record.parent.version === parent.version
    ) {
      return false;
    }
    const previousParent = { keyId: record.parent.keyId, version: record.parent.version };
    const previousMaterial = await this.#material.unwrap(await this.getKey(previousParent), actor);
    let material: Buffer | undefined;
    let parentMaterial: Buffer | undefined;
    try {
      try {
        material = unwrapKey(previousMaterial, record.wrappedKey, record);
      } catch (error) {
        await this.#logger.write('unwrap', record, actor, identityContext(record), error);
        throw error;
      }
      await this.#logger.write('unwrap', record, actor, identityContext(record));
      parentMaterial = await this.#material.unwrap(parent, actor);
      const rewrapped: KeyRecord = {
        ...record,
        parent: { kind: 'key', keyId: parent.keyId, version: parent.version },
        wrappedKey: wrapKey(parentMaterial, material, record),
      };
      if (!(await this.#store.replaceWrapping?.(rewrapped, previousParent))) {
        return false;
      }
      await this.#logger.write('wrap', rewrapped, actor, identityContext(rewrapped));
      return true;
    } finally {
      previousMaterial.fill(0);
      material?.fill(0);
      parentMaterial?.fill(0);
    }
  }

  /**
   * Returns the error that keeps a purpose key version from being deleted because keys are still
   * wrapped under it, or undefined when nothing is.
   */
  async #dependantsError(record: KeyRecord): Promise<KeyStateError | undefined> {
    const name = `${record.purpose} key ${record.keyId} version ${record.version}`;
    if (this.#store.countWrappedUnder === undefined) {
      return new KeyStateError(
        `cannot delete ${name}, because this key store cannot count the keys wrapped under it`,
      );
    }
    const count = await this.#store.countWrappedUnder({ keyId: record.keyId, version: record.version });
    if (count === 0) return undefined;
    return new KeyStateError(
      `cannot delete ${name}, because ${count} keys are still wrapped under it. Run ` +
        `mindweave keys rewrap --purpose ${record.purpose} first.`,
    );
  }

  /**
   * Removes and zeroes every cached unwrapped key whose TTL has passed. Cache lookups already do
   * this at most once per second, so a timer only matters for an idle process.
   */
  purgeExpiredKeys(): void {
    this.#cache.purgeExpired();
    this.#activeRefs.purgeExpired();
  }

  /** Removes and zeroes every cached unwrapped key. */
  clearCache(): void {
    this.#cache.clear();
    this.#activeRefs.clear();
  }

  #withKeyLock<T>(keyId: string, work: () => Promise<T>): Promise<T> {
    const store = this.#store;
    const locked = () => (store.withKeyLock ? store.withKeyLock(keyId, work) : work());
    return this.#keyLocks.run(keyId, locked);
  }

  async #selectVersions(
    keyId: string,
    version: number | undefined,
    eligible: (record: KeyRecord) => boolean,
  ): Promise<KeyRecord[]> {
    const versions = await this.#store.listVersions(keyId);
    if (versions.length === 0) {
      throw new KeyNotFoundError(`key ${keyId} not found`);
    }
    if (version === undefined) {
      return versions.filter(eligible);
    }
    const record = versions.find((candidate) => candidate.version === version);
    if (record === undefined) {
      throw new KeyNotFoundError(`key ${keyId} version ${version} not found`);
    }
    return [record];
  }

  async #activeRecord(keyId: string): Promise<KeyRecord> {
    const versions = await this.#store.listVersions(keyId);
    const active = versions.find(canEncrypt);
    if (active === undefined) {
      throw new KeyStateError(
        `key ${keyId} has no active version. Cancel its deletion, or rotate it once it is ` +
          'destroyed, to encrypt again.',
      );
    }
    return active;
  }

  #ensureKeyId(purpose: KeyPurpose, owner: KeyOwner, actor: string): Promise<string> {
    const id = ownerKey(purpose, owner);
    const pending = this.#creating.get(id);
    if (pending !== undefined) {
      return pending;
    }
    // One creation per owner runs at a time in this process, and concurrent callers share it.
    const creation = (async () => {
      const existing = await this.#store.findKeyId(purpose, owner);
      if (existing !== undefined) {
        return existing;
      }
      try {
        const keyId = newKeyId(purpose === 'data' ? 'dk' : 'pk');
        const record = await this.#createVersion(purpose, owner, keyId, 1, actor);
        return record.keyId;
      } catch (error) {
        // Another process created a key for this owner between the lookup and the insert.
        const winner = error instanceof KeyConflictError ? await this.#store.findKeyId(purpose, owner) : undefined;
        if (winner === undefined) {
          throw error;
        }
        return winner;
      }
    })();
    this.#creating.set(id, creation);
    return creation.finally(() => this.#creating.delete(id));
  }

  async #createVersion(
    purpose: KeyPurpose,
    owner: KeyOwner,
    keyId: string,
    version: number,
    actor: string,
  ): Promise<KeyRecord> {
    if (purpose !== 'data') {
      return this.#material.createPurposeKeyVersion(purpose, keyId, version, actor);
    }
    const databaseKeyId = await this.purposeKeyId('database', actor);
    const parent = await this.#activeRecord(databaseKeyId);
    return this.#material.createDataKeyVersion(owner, keyId, version, parent, actor);
  }
}
