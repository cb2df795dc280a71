import { describe, expect, it } from 'vitest';

import { KeyStateError } from '../../../src/data/crypto/errors.js';
import {
  canDecrypt,
  canEncrypt,
  cancelDeletion,
  destroyKeyVersion,
  isDueForDestruction,
  planRotation,
  scheduleDeletion,
} from '../../../src/data/crypto/key-lifecycle.js';
import type { KeyRecord } from '../../../src/data/crypto/key-types.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const now = new Date('2026-03-01T00:00:00Z');

function record(overrides: Partial<KeyRecord> = {}): KeyRecord {
  return {
    keyId: 'dk_test',
    version: 1,
    purpose: 'data',
    owner: { kind: 'tenant', tenant: 'org-a' },
    parent: { kind: 'key', keyId: 'pk_db', version: 1 },
    state: 'active',
    createdAt: now,
    wrappedKey: Buffer.alloc(60, 5),
    ...overrides,
  };
}

describe('scheduleDeletion', () => {
  it('defaults to a 30-day waiting period', () => {
    const scheduled = scheduleDeletion(record(), now);
    expect(scheduled.state).toBe('scheduled_for_deletion');
    expect(scheduled.deletionDate?.getTime()).toBe(now.getTime() + 30 * DAY_MS);
    expect(scheduled.stateBeforeDeletion).toBe('active');
  });

  it('accepts 7 days and rejects 6', () => {
    expect(scheduleDeletion(record(), now, 7).deletionDate?.getTime()).toBe(
      now.getTime() + 7 * DAY_MS,
    );
    expect(() => scheduleDeletion(record(), now, 6)).toThrow(RangeError);
    expect(() => scheduleDeletion(record(), now, Number.NaN)).toThrow(RangeError);
  });

  it('rejects an already scheduled or destroyed version', () => {
    const scheduled = scheduleDeletion(record(), now);
    expect(() => scheduleDeletion(scheduled, now)).toThrow(KeyStateError);
    expect(() => scheduleDeletion(record({ state: 'destroyed' }), now)).toThrow(KeyStateError);
  });

  it('keeps decryption but stops encryption', () => {
    const scheduled = scheduleDeletion(record(), now);
    expect(canDecrypt(scheduled)).toBe(true);
    expect(canEncrypt(scheduled)).toBe(false);
  });
});

describe('cancelDeletion', () => {
  it('restores the earlier state', () => {
    const active = cancelDeletion(scheduleDeletion(record(), now));
    expect(active.state).toBe('active');
    expect(active.deletionDate).toBeUndefined();
    expect(active.stateBeforeDeletion).toBeUndefined();
    const decryptOnly = cancelDeletion(scheduleDeletion(record({ state: 'decrypt_only' }), now));
    expect(decryptOnly.state).toBe('decrypt_only');
  });

  it('rejects a version that is not scheduled', () => {
    expect(() => cancelDeletion(record())).toThrow(KeyStateError);
  });
});

describe('destroyKeyVersion', () => {
  it('rejects destruction before the deletion date', () => {
    const scheduled = scheduleDeletion(record(), now, 7);
    const early = new Date(now.getTime() + 7 * DAY_MS - 1);
    expect(isDueForDestruction(scheduled, early)).toBe(false);
    expect(() => destroyKeyVersion(scheduled, early)).toThrow(KeyStateError);
  });

  it('rejects an unscheduled version', () => {
    expect(() => destroyKeyVersion(record(), new Date(now.getTime() + 365 * DAY_MS))).toThrow(
      KeyStateError,
    );
  });

  it('zeroes and removes material on the deletion date', () => {
    const scheduled = scheduleDeletion(record(), now, 7);
    const wrapped = scheduled.wrappedKey;
    const due = new Date(now.getTime() + 7 * DAY_MS);
    const destroyed = destroyKeyVersion(scheduled, due);
    expect(destroyed.state).toBe('destroyed');
    expect(destroyed.wrappedKey).toBeUndefined();
    expect(destroyed.destroyedAt).toEqual(due);
    expect(wrapped?.every((byte) => byte === 0)).toBe(true);
    expect(canDecrypt(destroyed)).toBe(false);
  });
});

describe('planRotation', () => {
  it('demotes the active version and numbers the next', () => {
    const plan = planRotation([record({ state: 'decrypt_only' }), record({ version: 2 })]);
    expect(plan.newVersion).toBe(3);
    expect(plan.updated.map((updated) => [updated.version, updated.state])).toEqual([
      [2, 'decrypt_only'],
    ]);
  });

  it('keeps a scheduled version from returning to active', () => {
    const scheduled = scheduleDeletion(record(), now);
    const plan = planRotation([scheduled]);
    const [updated] = plan.updated;
    expect(updated?.state).toBe('scheduled_for_deletion');
    expect(updated?.stateBeforeDeletion).toBe('decrypt_only');
    expect(cancelDeletion(updated ?? scheduled).state).toBe('decrypt_only');
  });
});
