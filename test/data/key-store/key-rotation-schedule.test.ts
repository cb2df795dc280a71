import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseCiphertext } from '../../../src/data/crypto/ciphertext-format.js';
import { FieldCipher } from '../../../src/data/crypto/field-cipher.js';
import { InMemoryKeyStore } from '../../../src/data/crypto/in-memory-key-store.js';
import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import { MemoryKeyUsageSink } from '../../../src/data/crypto/key-usage-log.js';
import type { Database } from '../../../src/data/database/database.js';
import { openMemoryDatabase } from '../../../src/data/database/embedded-database.js';
import { migrate } from '../../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../../src/data/database/open-database.js';
import {
  ROTATION_SCHEDULE_ACTOR,
  startKeyMaintenance,
} from '../../../src/data/key-store/data-protection.js';
import { DatabaseKeyStore } from '../../../src/data/key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../../../src/data/key-store/database-key-usage-sink.js';
import { LocalFileKmsProvider } from '../../../src/data/kms/local-file-provider.js';
import { createLogger } from '../../../src/monitoring/logging/logger.js';
import { auditScheduledRotation } from '../../../src/server/key-rotation-audit.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const START = new Date('2026-01-01T00:00:00Z');

let folder: string;
let kms: LocalFileKmsProvider;

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'mindweave-rotation-'));
  kms = await LocalFileKmsProvider.open({ directory: folder });
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** Creates a clock that tests move forward by whole days. */
function testClock(): { now: () => Date; advanceDays(days: number): void } {
  let current = START.getTime();
  return {
    now: () => new Date(current),
    advanceDays(days) {
      current += days * DAY_MS;
    },
  };
}

/** Creates a JSON logger and the list of parsed lines it writes. */
function captureLog<Line>(): { lines: Line[]; logger: ReturnType<typeof createLogger> } {
  const lines: Line[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
          lines.push(JSON.parse(line) as Line);
        }
        callback();
      },
    }),
  );
  return { lines, logger };
}

const location = { tenant: 'org-1', table: 'users', column: 'email', rowId: 'user-1' };

describe('rotation by age', () => {
  it('rotates purpose and data keys once they are due', async () => {
    const clock = testClock();
    const usage = new MemoryKeyUsageSink();
    const hierarchy = new KeyHierarchy({
      kms,
      masterKeyId: 'local-master',
      store: new InMemoryKeyStore(),
      usageSink: usage,
      clock: clock.now,
    });
    await hierarchy.initialize('test');
    const cipher = new FieldCipher(hierarchy);
    const before = await cipher.encrypt(location, 'alice@example.com');
    expect(parseCiphertext(before)?.keyVersion).toBe(1);

    clock.advanceDays(364);
    expect(await hierarchy.rotateDueKeys(365, ROTATION_SCHEDULE_ACTOR)).toEqual([]);

    clock.advanceDays(1);
    const rotated = await hierarchy.rotateDueKeys(365, ROTATION_SCHEDULE_ACTOR);
    expect(rotated).toHaveLength(4);
    expect(rotated.every((ref) => ref.version === 2)).toBe(true);
    const purposes = await Promise.all(
      rotated.map(async (ref) => (await hierarchy.getKey(ref)).purpose),
    );
    expect(purposes.sort()).toEqual(['application', 'compliance', 'data', 'database']);

    // New writes use the new version at once, and data under the old one stays readable.
    const after = await cipher.encrypt(location, 'alice@example.com');
    expect(parseCiphertext(after)?.keyVersion).toBe(2);
    expect(await cipher.decryptString(location, before)).toBe('alice@example.com');

    const rotations = usage.records.filter((record) => record.operation === 'rotate');
    expect(rotations).toHaveLength(4);
    for (const record of rotations) {
      expect(record.actor).toBe(ROTATION_SCHEDULE_ACTOR);
      expect(record.version).toBe(2);
      expect(record.outcome).toBe('success');
    }

    // The new versions are fresh, so the next check rotates nothing.
    clock.advanceDays(1);
    expect(await hierarchy.rotateDueKeys(365, ROTATION_SCHEDULE_ACTOR)).toEqual([]);
  });
});

describe('key maintenance schedule', () => {
  let db: Database;

  beforeAll(async () => {
    db = await openMemoryDatabase();
    await migrate(db);
    await db.query(`SET ROLE ${APPLICATION_ROLE}`);
  });

  afterAll(async () => {
    await db.close();
  });

  it('rotates due keys and records them', async () => {
    const clock = testClock();
    const store = new DatabaseKeyStore(db);
    const hierarchy = new KeyHierarchy({
      kms,
      masterKeyId: 'local-master',
      store,
      usageSink: new DatabaseKeyUsageSink(db),
      clock: clock.now,
    });
    await hierarchy.initialize('test');
    const { lines, logger } = captureLog<{ msg: string; rotationDays?: number }>();
    clock.advanceDays(30);
    const recorded: string[] = [];
    const maintenance = startKeyMaintenance(hierarchy, logger, {
      rotationDays: 30,
      checkIntervalMs: 20,
      onRotated: async (ref) => {
        await auditScheduledRotation(db, hierarchy, ref);
        recorded.push(`${ref.keyId}:${ref.version}`);
      },
    });
    try {
      const deadline = Date.now() + 10_000;
      while (recorded.length < 3 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      maintenance.stop();
    }
    expect(recorded).toHaveLength(3);
    const active = await store.listActive();
    expect(active.map((record) => record.version)).toEqual([2, 2, 2]);
    const logged = lines.filter((line) => line.msg === 'rotated key by age; new writes use the new version');
    expect(logged).toHaveLength(3);
    expect(logged[0]?.rotationDays).toBe(30);
    const usage = await db.query<{ actor: string; version: number }>(
      `SELECT actor, version FROM key_usage_log WHERE operation = 'rotate'`,
    );
    expect(usage.rows).toEqual([
      { actor: ROTATION_SCHEDULE_ACTOR, version: 2 },
      { actor: ROTATION_SCHEDULE_ACTOR, version: 2 },
      { actor: ROTATION_SCHEDULE_ACTOR, version: 2 },
    ]);
    // Row-level security hides entries of no organization from the application role, so the
    // owner reads them.
    await db.query('RESET ROLE');
    const audit = await db.query<{ metadata: { purpose: string; scheduled: boolean } }>(
      `SELECT metadata FROM audit_logs WHERE action = 'encryption_key.rotated' ORDER BY seq`,
    );
    await db.query(`SET ROLE ${APPLICATION_ROLE}`);
    expect(audit.rows.map((row) => row.metadata.purpose).sort()).toEqual([
      'application',
      'compliance',
      'database',
    ]);
    expect(audit.rows.every((row) => row.metadata.scheduled)).toBe(true);
  });

  it('re-wraps data keys after a rotation', async () => {
    const clock = testClock();
    const store = new InMemoryKeyStore();
    const hierarchy = new KeyHierarchy({
      kms,
      masterKeyId: 'local-master',
      store,
      usageSink: new MemoryKeyUsageSink(),
      clock: clock.now,
    });
    await hierarchy.initialize('test');
    const cipher = new FieldCipher(hierarchy);
    const values: { location: typeof location; ciphertext: string }[] = [];
    for (const tenant of ['org-a', 'org-b', 'org-c']) {
      const at = { ...location, tenant };
      values.push({ location: at, ciphertext: await cipher.encrypt(at, `${tenant} value`) });
    }
    const databaseKeyId = await hierarchy.purposeKeyId('database', 'test');
    expect(await store.countWrappedUnder({ keyId: databaseKeyId, version: 1 })).toBe(3);

    const { lines, logger } = captureLog<{ msg: string; purpose?: string; rewrapped?: number; finished?: boolean }>();
    clock.advanceDays(30);
    const maintenance = startKeyMaintenance(hierarchy, logger, {
      rotationDays: 30,
      checkIntervalMs: 20,
      rewrapKeysPerPass: 2,
    });
    const rewrapLines = () => lines.filter((line) => line.purpose === 'database');
    try {
      const deadline = Date.now() + 10_000;
      while (!rewrapLines().some((line) => line.finished === true) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      maintenance.stop();
    }

    // Two per pass: the rotating pass re-wraps two keys, the next one the third.
    expect(rewrapLines().map((line) => [line.rewrapped, line.finished])).toEqual([
      [2, false],
      [1, true],
    ]);
    expect(await store.countWrappedUnder({ keyId: databaseKeyId, version: 1 })).toBe(0);
    expect(await store.countWrappedUnder({ keyId: databaseKeyId, version: 2 })).toBeGreaterThan(3);
    for (const value of values) {
      expect(await cipher.decryptString(value.location, value.ciphertext)).toBe(
        `${value.location.tenant} value`,
      );
    }
    expect(lines.filter((line) => line.msg.startsWith('failed'))).toEqual([]);
  });

  it('logs a failed re-wrap and keeps going', async () => {
    const clock = testClock();
    // This store cannot re-wrap, so every re-wrap attempt fails.
    const store = new DatabaseKeyStore(db);
    const hierarchy = new KeyHierarchy({
      kms,
      masterKeyId: 'local-master',
      store: {
        insertKey: (record) => store.insertKey(record),
        updateKey: (record) => store.updateKey(record),
        getKey: (keyId, version) => store.getKey(keyId, version),
        listVersions: (keyId) => store.listVersions(keyId),
        findKeyId: (purpose, owner) => store.findKeyId(purpose, owner),
        listScheduledForDeletion: () => store.listScheduledForDeletion(),
        listActive: () => store.listActive(),
        addEncryptions: (keyId, version, count) => store.addEncryptions(keyId, version, count),
      },
      usageSink: new MemoryKeyUsageSink(),
      clock: clock.now,
    });
    await hierarchy.initialize('test');
    const { lines, logger } = captureLog<{ msg: string; purpose?: string }>();
    clock.advanceDays(400);
    const maintenance = startKeyMaintenance(hierarchy, logger, {
      rotationDays: 30,
      checkIntervalMs: 20,
    });
    const failures = () =>
      lines.filter((line) => line.msg === 'failed to re-wrap keys after a scheduled rotation');
    try {
      const deadline = Date.now() + 10_000;
      while (failures().length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      maintenance.stop();
    }
    // The purpose stays pending, so the next pass tries again.
    expect(failures().length).toBeGreaterThanOrEqual(2);
    expect(failures()[0]?.purpose).toBe('database');
  });

  it('rotates nothing when turned off', async () => {
    const clock = testClock();
    const hierarchy = new KeyHierarchy({
      kms,
      masterKeyId: 'local-master',
      store: new InMemoryKeyStore(),
      usageSink: new MemoryKeyUsageSink(),
      clock: clock.now,
    });
    await hierarchy.initialize('test');
    clock.advanceDays(5000);
    let calls = 0;
    const maintenance = startKeyMaintenance(hierarchy, createLogger('silent'), {
      rotationDays: 0,
      checkIntervalMs: 10,
      onRotated: () => {
        calls += 1;
        return Promise.resolve();
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    maintenance.stop();
    expect(calls).toBe(0);
  });
});

describe('audit entry of a scheduled rotation', () => {
  let db: Database;

  beforeAll(async () => {
    db = await openMemoryDatabase();
    await migrate(db);
  });

  afterAll(async () => {
    await db.close();
  });

  it('names no organization for platform and per-user keys', async () => {
    const store = new DatabaseKeyStore(db);
    const hierarchy = new KeyHierarchy({
      kms,
      masterKeyId: 'local-master',
      store,
      usageSink: new DatabaseKeyUsageSink(db),
    });
    await hierarchy.initialize('test');
    const owners = [
      { kind: 'tenant', tenant: 'platform' },
      { kind: 'subject', tenant: 'platform', subject: 'user:5b1c9a4e-0d7f-4a57-9a55-3f0f2b1e6c01' },
    ] as const;
    for (const owner of owners) {
      const ref = await hierarchy.activeDataKey(owner, 'test');
      await auditScheduledRotation(db, hierarchy, await hierarchy.rotate(ref.keyId, 'test'));
    }
    const audit = await db.query<{ org_id: string | null }>(
      `SELECT org_id FROM audit_logs WHERE action = 'encryption_key.rotated' ORDER BY seq`,
    );
    expect(audit.rows).toEqual([{ org_id: null }, { org_id: null }]);
  });
});
