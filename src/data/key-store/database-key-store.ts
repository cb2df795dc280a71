import { KeyConflictError, KeyNotFoundError, KeyStateError } from '../crypto/errors.js';
import type { KeyStore } from '../crypto/key-store.js';
import { KeyedLock } from '../crypto/keyed-lock.js';
import type {
  KeyOwner,
  KeyParent,
  KeyPurpose,
  KeyRecord,
  KeyState,
  KeyVersionRef,
} from '../crypto/key-types.js';
import type { Database, Queryable } from '../database/database.js';

interface VersionRow {
  keyId: string;
  version: number;
  purpose: KeyPurpose;
  ownerKind: KeyOwner['kind'];
  ownerTenant: string | null;
  ownerSubject: string | null;
  parentKind: KeyParent['kind'];
  parentProvider: string | null;
  parentMasterKeyId: string | null;
  parentKeyId: string | null;
  parentVersion: number | null;
  state: KeyState;
  stateBeforeDeletion: 'active' | 'decrypt_only' | null;
  wrappedKey: Uint8Array | null;
  createdAt: Date;
  deletionDate: Date | null;
  destroyedAt: Date | null;
  encryptionCount: number | string;
}

const SELECT_VERSIONS = `
  SELECT v.key_id AS "keyId", v.version, k.purpose,
         k.owner_kind AS "ownerKind", k.owner_tenant AS "ownerTenant",
         k.owner_subject AS "ownerSubject", v.parent_kind AS "parentKind",
         v.parent_provider AS "parentProvider", v.parent_master_key_id AS "parentMasterKeyId",
         v.parent_key_id AS "parentKeyId", v.parent_version AS "parentVersion", v.state,
         v.state_before_deletion AS "stateBeforeDeletion", v.wrapped_key AS "wrappedKey",
         v.created_at AS "createdAt", v.deletion_date AS "deletionDate",
         v.destroyed_at AS "destroyedAt", v.encryption_count AS "encryptionCount"
    FROM encryption_key_versions v JOIN encryption_keys k ON k.key_id = v.key_id`;

// Matches the owner columns the way the unique index `encryption_keys_owner_idx` compares them.
const OWNER_MATCH = `purpose = $1 AND owner_kind = $2 AND coalesce(owner_tenant, '') = $3
  AND coalesce(owner_subject, '') = $4`;

/** One stored key version with its encryption count, as `mindweave keys status` lists it. */
export interface StoredKeyVersion {
  record: KeyRecord;
  encryptionCount: number;
}

function ownerColumns(owner: KeyOwner): [string, string | null, string | null] {
  switch (owner.kind) {
    case 'system':
      return ['system', null, null];
    case 'tenant':
      return ['tenant', owner.tenant, null];
    case 'subject':
      return ['subject', owner.tenant, owner.subject];
  }
}

function toOwner(row: VersionRow): KeyOwner {
  if (row.ownerKind === 'system') {
    return { kind: 'system' };
  }
  if (row.ownerKind === 'tenant') {
    return { kind: 'tenant', tenant: row.ownerTenant ?? '' };
  }
  return { kind: 'subject', tenant: row.ownerTenant ?? '', subject: row.ownerSubject ?? '' };
}

function toParent(row: VersionRow): KeyParent {
  if (row.parentKind === 'kms') {
    return {
      kind: 'kms',
      provider: row.parentProvider ?? '',
      masterKeyId: row.parentMasterKeyId ?? '',
    };
  }
  return { kind: 'key', keyId: row.parentKeyId ?? '', version: row.parentVersion ?? 0 };
}

function toRecord(row: VersionRow): KeyRecord {
  const record: KeyRecord = {
    keyId: row.keyId,
    version: row.version,
    purpose: row.purpose,
    owner: toOwner(row),
    parent: toParent(row),
    state: row.state,
    createdAt: new Date(row.createdAt),
  };
  if (row.deletionDate !== null) {
    record.deletionDate = new Date(row.deletionDate);
  }
  if (row.stateBeforeDeletion !== null) {
    record.stateBeforeDeletion = row.stateBeforeDeletion;
  }
  if (row.destroyedAt !== null) {
    record.destroyedAt = new Date(row.destroyedAt);
  }
  if (row.wrappedKey !== null) {
    // pg returns a Buffer and PGlite a Uint8Array, so the bytes are copied into a new Buffer.
    record.wrappedKey = Buffer.from(row.wrappedKey);
  }
  return record;
}

/**
 * {@link KeyStore} in the `encryption_keys` and `encryption_key_versions` tables, shared by every
 * server process that uses the database. The same SQL runs on PostgreSQL and on PGlite.
 *
 * Concurrency: primary keys and the owner index reject a second key id per owner and a second
 * copy of a version (raised as `KeyConflictError`). `addEncryptions` is one atomic UPDATE.
 * `withKeyLock` holds a row lock on the key for the duration of a change on PostgreSQL.
 */
export class DatabaseKeyStore implements KeyStore {
  readonly #db: Database;
  readonly #embeddedLocks = new KeyedLock();

  constructor(db: Database) {
    this.#db = db;
  }

  async insertKey(record: KeyRecord): Promise<void> {
    const [ownerKind, ownerTenant, ownerSubject] = ownerColumns(record.owner);
    await this.#db.transaction(async (tx) => {
      // ON CONFLICT without a target skips the row on any unique violation: a key id already
      // stored (a new version of an existing key) or an owner that already has a key.
      await tx.query(
        `INSERT INTO encryption_keys (key_id, purpose, owner_kind, owner_tenant, owner_subject)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [record.keyId, record.purpose, ownerKind, ownerTenant, ownerSubject],
      );
      const owners = await tx.query<{ keyId: string }>(
        `SELECT key_id AS "keyId" FROM encryption_keys WHERE ${OWNER_MATCH}`,
        [record.purpose, ownerKind, ownerTenant ?? '', ownerSubject ?? ''],
      );
      const existing = owners.rows[0]?.keyId;
      if (existing !== record.keyId) {
        const reason =
          existing === undefined
            ? 'the key id already belongs to another owner'
            : `its owner already has ${record.purpose} key ${existing}`;
        throw new KeyConflictError(`key ${record.keyId} cannot be stored, because ${reason}`);
      }
      const inserted = await this.#insertVersion(tx, record);
      if (inserted === 0) {
        throw new KeyConflictError(`key ${record.keyId} version ${record.version} already exists`);
      }
    });
  }

  async #insertVersion(tx: Queryable, record: KeyRecord): Promise<number> {
    const parent = record.parent;
    const result = await tx.query(
      `INSERT INTO encryption_key_versions (key_id, version, parent_kind, parent_provider,
         parent_master_key_id, parent_key_id, parent_version, state, state_before_deletion,
         wrapped_key, created_at, deletion_date, destroyed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT (key_id, version) DO NOTHING`,
      [
        record.keyId,
        record.version,
        parent.kind,
        parent.kind === 'kms' ? parent.provider : null,
        parent.kind === 'kms' ? parent.masterKeyId : null,
        parent.kind === 'key' ? parent.keyId : null,
        parent.kind === 'key' ? parent.version : null,
        record.state,
        record.stateBeforeDeletion ?? null,
        record.wrappedKey ?? null,
        record.createdAt,
        record.deletionDate ?? null,
        record.destroyedAt ?? null,
      ],
    );
    return result.rowCount;
  }

  /**
   * Saves the lifecycle fields of a version: state, deletion date, destruction time and wrapped
   * key. Key id, owner, parent, creation time and the encryption count never change.
   *
   * @throws KeyNotFoundError when the version does not exist.
   * @throws KeyStateError when the version is already destroyed, so a stale copy of the record
   * cannot bring its wrapped key back.
   */
  async updateKey(record: KeyRecord): Promise<void> {
    const result = await this.#db.query(
      `UPDATE encryption_key_versions
          SET state = $3, state_before_deletion = $4, wrapped_key = $5, deletion_date = $6,
              destroyed_at = $7
        WHERE key_id = $1 AND version = $2 AND state <> 'destroyed'`,
      [
        record.keyId,
        record.version,
        record.state,
        record.stateBeforeDeletion ?? null,
        record.wrappedKey ?? null,
        record.deletionDate ?? null,
        record.destroyedAt ?? null,
      ],
    );
    if (result.rowCount === 1) {
      return;
    }
    if ((await this.getKey(record.keyId, record.version)) === undefined) {
      throw new KeyNotFoundError(`key ${record.keyId} version ${record.version} not found`);
    }
    throw new KeyStateError(
      `key ${record.keyId} version ${record.version} is destroyed and cannot change`,
    );
  }

  async getKey(keyId: string, version: number): Promise<KeyRecord | undefined> {
    const result = await this.#db.query<VersionRow>(
      `${SELECT_VERSIONS} WHERE v.key_id = $1 AND v.version = $2`,
      [keyId, version],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toRecord(row);
  }

  async listVersions(keyId: string): Promise<KeyRecord[]> {
    const result = await this.#db.query<VersionRow>(
      `${SELECT_VERSIONS} WHERE v.key_id = $1 ORDER BY v.version`,
      [keyId],
    );
    return result.rows.map(toRecord);
  }

  async findKeyId(purpose: KeyPurpose, owner: KeyOwner): Promise<string | undefined> {
    const [ownerKind, ownerTenant, ownerSubject] = ownerColumns(owner);
    const result = await this.#db.query<{ keyId: string }>(
      `SELECT key_id AS "keyId" FROM encryption_keys WHERE ${OWNER_MATCH}`,
      [purpose, ownerKind, ownerTenant ?? '', ownerSubject ?? ''],
    );
    return result.rows[0]?.keyId;
  }

  /**
   * Returns the id and organization of every data key owned by data subject `subject`, whatever
   * organization the key is stored under, ordered by key id.
   */
  async findSubjectDataKeys(subject: string): Promise<{ keyId: string; tenant: string }[]> {
    const result = await this.#db.query<{ keyId: string; tenant: string }>(
      `SELECT key_id AS "keyId", owner_tenant AS tenant FROM encryption_keys
        WHERE purpose = 'data' AND owner_kind = 'subject' AND owner_subject = $1
        ORDER BY key_id`,
      [subject],
    );
    return result.rows;
  }

  async listScheduledForDeletion(): Promise<KeyRecord[]> {
    const result = await this.#db.query<VersionRow>(
      `${SELECT_VERSIONS} WHERE v.state = 'scheduled_for_deletion'
        ORDER BY v.deletion_date, v.key_id, v.version`,
    );
    return result.rows.map(toRecord);
  }

  async listActive(): Promise<KeyRecord[]> {
    const result = await this.#db.query<VersionRow>(
      `${SELECT_VERSIONS} WHERE v.state = 'active' ORDER BY v.created_at, v.key_id, v.version`,
    );
    return result.rows.map(toRecord);
  }

  /**
   * Adds `count` to the encryption counter in one UPDATE, so concurrent reservations from
   * several processes never lose an increment.
   *
   * @throws KeyNotFoundError when the version does not exist.
   */
  async addEncryptions(keyId: string, version: number, count: number): Promise<number> {
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new RangeError(`invalid encryption count ${count}: expected a positive integer`);
    }
    const result = await this.#db.query<{ total: number | string }>(
      `UPDATE encryption_key_versions SET encryption_count = encryption_count + $3
        WHERE key_id = $1 AND version = $2
        RETURNING encryption_count AS total`,
      [keyId, version, count],
    );
    const row = result.rows[0];
    if (row === undefined) {
      throw new KeyNotFoundError(`key ${keyId} version ${version} not found`);
    }
    return Number(row.total);
  }

  /**
   * Runs `work` while a transaction holds `SELECT ... FOR NO KEY UPDATE` on the key's row, so a
   * second process changing the same key waits. `work` itself runs outside that transaction on
   * other pool connections. The lock mode still lets them insert versions, whose foreign key
   * check takes only a KEY SHARE lock on the row.
   *
   * NOTE: each lock holder keeps one pool connection while `work` needs others, so as many
   * concurrent changes to different keys as the pool has connections would wait forever. The
   * server changes keys one at a time (timer, CLI), which stays far below that.
   *
   * Embedded PGlite has one process per data folder, so there the lock is a promise chain per
   * key in this store object. A PGlite transaction cannot be used, because it would hold the
   * single connection and block every query that `work` makes.
   */
  async withKeyLock<T>(keyId: string, work: () => Promise<T>): Promise<T> {
    if (this.#db.kind === 'embedded') {
      return this.#embeddedLocks.run(keyId, work);
    }
    return this.#db.transaction(async (tx) => {
      await tx.query('SELECT key_id FROM encryption_keys WHERE key_id = $1 FOR NO KEY UPDATE', [
        keyId,
      ]);
      return work();
    });
  }

  /** Returns every stored key version with its encryption count, ordered by purpose and owner. */
  async listAllVersions(): Promise<StoredKeyVersion[]> {
    const result = await this.#db.query<VersionRow>(
      `${SELECT_VERSIONS}
        ORDER BY k.purpose, k.owner_kind, k.owner_tenant NULLS FIRST,
                 k.owner_subject NULLS FIRST, v.key_id, v.version`,
    );
    return result.rows.map((row) => ({
      record: toRecord(row),
      encryptionCount: Number(row.encryptionCount),
    }));
  }

  async listWrappedUnderOtherVersions(
    parent: KeyVersionRef,
    after: KeyVersionRef | undefined,
    limit: number,
  ): Promise<KeyRecord[]> {
    const result = await this.#db.query<VersionRow>(
      `${SELECT_VERSIONS}
        WHERE v.parent_key_id = $1 AND v.parent_version <> $2 AND v.state <> 'destroyed'
          AND (v.key_id, v.version) > ($3, $4)
        ORDER BY v.key_id, v.version LIMIT $5`,
      [parent.keyId, parent.version, after?.keyId ?? '', after?.version ?? 0, limit],
    );
    return result.rows.map(toRecord);
  }

  async replaceWrapping(record: KeyRecord, previousParent: KeyVersionRef): Promise<boolean> {
    if (record.parent.kind !== 'key' || record.wrappedKey === undefined) {
      throw new KeyStateError(
        `key ${record.keyId} version ${record.version} has no parent key to re-wrap under`,
      );
    }
    const result = await this.#db.query(
      `UPDATE encryption_key_versions SET parent_version = $5, wrapped_key = $6
        WHERE key_id = $1 AND version = $2 AND parent_key_id = $3 AND parent_version = $4
          AND state <> 'destroyed'`,
      [
        record.keyId,
        record.version,
        previousParent.keyId,
        previousParent.version,
        record.parent.version,
        record.wrappedKey,
      ],
    );
    return result.rowCount === 1;
  }

  /**
   * Counts the key versions wrapped under `parent` that are not destroyed, plus the keys wrapped
   * under it that live outside the key tables. For a `compliance` version these are the
   * per-subject keys of `personal_data_keys`. For an `application` version it is the sign-in
   * throttle key of `login_throttle_keys`.
   */
  async countWrappedUnder(parent: KeyVersionRef): Promise<number> {
    const result = await this.#db.query<{ total: number | string }>(
      `SELECT (SELECT count(*) FROM encryption_key_versions
                WHERE parent_key_id = $1 AND parent_version = $2 AND state <> 'destroyed')
            + (SELECT count(*) FROM personal_data_keys
                WHERE compliance_key_version = $2 AND wrapped_key IS NOT NULL
                  AND EXISTS (SELECT 1 FROM encryption_keys
                               WHERE key_id = $1 AND purpose = 'compliance'))
            + (SELECT count(*) FROM login_throttle_keys
                WHERE application_key_version = $2
                  AND EXISTS (SELECT 1 FROM encryption_keys
                               WHERE key_id = $1 AND purpose = 'application')) AS total`,
      [parent.keyId, parent.version],
    );
    return Number(result.rows[0]?.total ?? 0);
  }
}
