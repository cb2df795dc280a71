/** Purpose keys wrapped directly by the KMS master key. */
export const PURPOSE_KEY_NAMES = ['database', 'application', 'compliance'] as const;

/**
 * Purpose key name. `database` wraps the per-organization and per-subject data keys, and
 * `compliance` wraps the per-subject keys of the audit log's personal fields. `application`
 * wraps application secrets, which today is only the sign-in throttle key.
 */
export type PurposeKeyName = (typeof PURPOSE_KEY_NAMES)[number];

/** Purpose of a stored key: one of the purpose keys, or a data key. */
export type KeyPurpose = PurposeKeyName | 'data';

/**
 * Lifecycle state of one key version.
 * - `active`: encrypts new data and decrypts old data. At most one version of a key is active.
 * - `decrypt_only`: decrypts existing data only, after a rotation.
 * - `scheduled_for_deletion`: still decrypts until its deletion date, then may be destroyed.
 * - `destroyed`: key material is gone and data under it can no longer be decrypted.
 */
export type KeyState = 'active' | 'decrypt_only' | 'scheduled_for_deletion' | 'destroyed';

/** Owner of a key. Purpose keys belong to the installation (`system`). */
export type KeyOwner =
  | { kind: 'system' }
  | { kind: 'tenant'; tenant: string }
  | { kind: 'subject'; tenant: string; subject: string };

/** Key that wraps a stored key: the KMS master key, or another stored key version. */
export type KeyParent =
  | { kind: 'kms'; provider: string; masterKeyId: string }
  | { kind: 'key'; keyId: string; version: number };

/** One stored, wrapped version of a key together with its lifecycle metadata. */
export interface KeyRecord {
  keyId: string;
  /** Version number, starting at 1 and increased by one on each rotation. */
  version: number;
  purpose: KeyPurpose;
  owner: KeyOwner;
  parent: KeyParent;
  state: KeyState;
  createdAt: Date;
  /** Earliest time the version may be destroyed, set while scheduled for deletion. */
  deletionDate?: Date;
  /** State to restore if a scheduled deletion is cancelled. */
  stateBeforeDeletion?: 'active' | 'decrypt_only';
  destroyedAt?: Date;
  /** Wrapped key material, absent once the version is destroyed. */
  wrappedKey?: Buffer;
}

/** Reference to one key version. */
export interface KeyVersionRef {
  keyId: string;
  version: number;
}

/** Clock returning the current time, passed in so tests control time. */
export type Clock = () => Date;

/** Returns the tenant that owns a key, or undefined for system keys. */
export function ownerTenant(owner: KeyOwner): string | undefined {
  return owner.kind === 'system' ? undefined : owner.tenant;
}
