import { KeyStateError } from './errors.js';
import type { KeyRecord } from './key-types.js';

/** Default waiting period between scheduling a deletion and the earliest destruction, in days. */
export const DEFAULT_DELETION_WAITING_DAYS = 30;

/** Shortest waiting period accepted, in days, so a mistaken deletion can still be cancelled. */
export const MIN_DELETION_WAITING_DAYS = 7;

const DAY_MS = 24 * 60 * 60 * 1000;

function describe(record: KeyRecord): string {
  return `key ${record.keyId} version ${record.version}`;
}

/** Reports whether a version may encrypt new data. */
export function canEncrypt(record: KeyRecord): boolean {
  return record.state === 'active' && record.wrappedKey !== undefined;
}

/**
 * Reports whether a version may decrypt, which includes the waiting period before deletion. It
 * ignores the deletion date, so use {@link canDecryptAt} where the current time is known.
 */
export function canDecrypt(record: KeyRecord): boolean {
  return record.state !== 'destroyed' && record.wrappedKey !== undefined;
}

/**
 * Reports whether a version may decrypt at `now`: it is not destroyed and, for a data key
 * scheduled for deletion, its deletion date has not passed. Such a data key stops decrypting at
 * once, before the maintenance sweep destroys it. A purpose key version keeps unwrapping after
 * its date, because the sweep skips it while keys are still wrapped under it, and re-wrapping
 * those keys needs it.
 */
export function canDecryptAt(record: KeyRecord, now: Date): boolean {
  if (!canDecrypt(record)) return false;
  return record.purpose !== 'data' || !isDueForDestruction(record, now);
}

/**
 * Returns a copy of `record` scheduled for deletion `waitingDays` after `now`.
 *
 * @throws RangeError when `waitingDays` is below {@link MIN_DELETION_WAITING_DAYS}.
 * @throws KeyStateError when the version is already scheduled or destroyed.
 */
export function scheduleDeletion(
  record: KeyRecord,
  now: Date,
  waitingDays: number = DEFAULT_DELETION_WAITING_DAYS,
): KeyRecord {
  if (!Number.isFinite(waitingDays) || waitingDays < MIN_DELETION_WAITING_DAYS) {
    throw new RangeError(
      `invalid deletion waiting period ${waitingDays} days: expected at least ` +
        `${MIN_DELETION_WAITING_DAYS}`,
    );
  }
  if (record.state !== 'active' && record.state !== 'decrypt_only') {
    throw new KeyStateError(
      `cannot schedule deletion of ${describe(record)} because it is ${record.state}`,
    );
  }
  return {
    ...record,
    state: 'scheduled_for_deletion',
    stateBeforeDeletion: record.state,
    deletionDate: new Date(now.getTime() + waitingDays * DAY_MS),
  };
}

/**
 * Returns a copy of `record` with its scheduled deletion cancelled and its earlier state restored.
 *
 * @throws KeyStateError when the version is not scheduled for deletion.
 */
export function cancelDeletion(record: KeyRecord): KeyRecord {
  if (record.state !== 'scheduled_for_deletion') {
    throw new KeyStateError(
      `cannot cancel deletion of ${describe(record)} because it is ${record.state}, not scheduled`,
    );
  }
  const restored: KeyRecord = { ...record, state: record.stateBeforeDeletion ?? 'decrypt_only' };
  delete restored.deletionDate;
  delete restored.stateBeforeDeletion;
  return restored;
}

/** Reports whether a version is scheduled for deletion and its deletion date has passed. */
export function isDueForDestruction(record: KeyRecord, now: Date): boolean {
  return (
    record.state === 'scheduled_for_deletion' &&
    record.deletionDate !== undefined &&
    now.getTime() >= record.deletionDate.getTime()
  );
}

/**
 * Returns a copy of `record` in state `destroyed` without key material, and zeroes the wrapped key
 * buffer of `record` itself.
 *
 * @throws KeyStateError when the version is not scheduled for deletion or its date has not passed.
 */
export function destroyKeyVersion(record: KeyRecord, now: Date): KeyRecord {
  if (!isDueForDestruction(record, now)) {
    const when =
      record.deletionDate === undefined
        ? 'no deletion date'
        : `deletion date ${record.deletionDate.toISOString()}`;
    throw new KeyStateError(
      `cannot destroy ${describe(record)}, which is ${record.state} with ${when}. Schedule ` +
        `deletion and wait for the deletion date.`,
    );
  }
  record.wrappedKey?.fill(0);
  const destroyed: KeyRecord = { ...record, state: 'destroyed', destroyedAt: now };
  delete destroyed.wrappedKey;
  delete destroyed.stateBeforeDeletion;
  return destroyed;
}

/** Returns the date `rotationDays` after `record` was created, when it is due for rotation. */
export function nextRotationDate(record: KeyRecord, rotationDays: number): Date {
  return new Date(record.createdAt.getTime() + rotationDays * DAY_MS);
}

/** Reports whether `record` is the active version and at least `rotationDays` old at `now`. */
export function isRotationDue(record: KeyRecord, now: Date, rotationDays: number): boolean {
  return (
    record.state === 'active' &&
    now.getTime() >= nextRotationDate(record, rotationDays).getTime()
  );
}

/** Result of {@link planRotation}. */
export interface RotationPlan {
  /** Version number for the new active version. */
  newVersion: number;
  /** Copies of the existing versions whose state changes, to be saved with the new version. */
  updated: KeyRecord[];
}

/**
 * Plans a rotation over all versions of one key. The new version number is one above the highest,
 * and every active version becomes decrypt_only. A version scheduled for deletion keeps its
 * schedule, but a later cancellation restores it to decrypt_only rather than active, so that only
 * the new version stays active.
 */
export function planRotation(versions: readonly KeyRecord[]): RotationPlan {
  let highest = 0;
  const updated: KeyRecord[] = [];
  for (const record of versions) {
    highest = Math.max(highest, record.version);
    if (record.state === 'active') {
      updated.push({ ...record, state: 'decrypt_only' });
    } else if (record.stateBeforeDeletion === 'active') {
      updated.push({ ...record, stateBeforeDeletion: 'decrypt_only' });
    }
  }
  return { newVersion: highest + 1, updated };
}
