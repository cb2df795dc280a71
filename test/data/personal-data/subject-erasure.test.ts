import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import type { Database } from '../../../src/data/database/database.js';
import { openMigratedDatabase } from '../../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../../src/data/database/postgres-database.js';
import { DatabaseKeyStore } from '../../../src/data/key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../../../src/data/key-store/database-key-usage-sink.js';
import {
  openDataProtection,
  startKeyMaintenance,
  sweepDueDeletions,
  type DataProtection,
} from '../../../src/data/key-store/data-protection.js';
import {
  complianceKeyWrapping,
  PersonalDataSealer,
} from '../../../src/data/personal-data/personal-data-sealer.js';
import {
  cancelSubjectErasure,
  scheduleSubjectErasure,
  subjectKeyStatus,
} from '../../../src/data/personal-data/subject-erasure.js';
import { ensureAuditPartitions } from '../../../src/monitoring/audit/audit-partitions.js';
import { auditSubjectErased } from '../../../src/server/key-deletion-audit.js';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const silent = pino({ level: 'silent' });

let database: TestDatabase;
let dataDir: string;
let db: Database;
let keys: DataProtection;

/** Creates a key hierarchy over the test database whose clock is `now`, with an empty cache. */
function hierarchyAt(now: Date): KeyHierarchy {
  return new KeyHierarchy({
    kms: keys.kms,
    masterKeyId: keys.masterKeyId,
    store: new DatabaseKeyStore(db),
    usageSink: new DatabaseKeyUsageSink(db),
    clock: () => now,
  });
}

function sealerAt(now: Date): PersonalDataSealer {
  const sealer = new PersonalDataSealer(() => now);
  sealer.useWrapping(complianceKeyWrapping(keys.hierarchy));
  return sealer;
}

const noAudit = () => Promise.resolve();

function schedule(subjectId: string, waitingDays: number, now = new Date()) {
  return scheduleSubjectErasure(db, keys.hierarchy, keys.store, subjectId, {
    actor: 'test',
    waitingDays,
    now,
    audit: noAudit,
  });
}

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'mindweave-erasure-'));
  const config = { DATABASE_URL: database.url, MINDWEAVE_DATA_DIR: dataDir };
  db = await openMigratedDatabase(config, 'test');
  await ensureAuditPartitions(db);
  keys = await openDataProtection({ ...config, KMS_MASTER_KEY_DIR: undefined }, db, silent);
}, 60_000);

afterAll(async () => {
  await keys?.close();
  await db?.close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('scheduled subject erasure', () => {
  it('rejects a waiting period below 7 days', async () => {
    await expect(schedule('user:short-wait', 6)).rejects.toThrow(RangeError);
    expect((await subjectKeyStatus(db, 'user:short-wait')).state).toBe('none');
  });

  it('creates a scheduled key for a new subject', async () => {
    const now = new Date();
    const change = await schedule('api_key:fresh', 7, now);
    expect(change.previousState).toBe('none');
    expect(change.state).toBe('scheduled');
    expect(change.deletionDate?.getTime()).toBe(now.getTime() + 7 * DAY_MS);

    const sealed = await sealerAt(now).seal(db, 'api_key:fresh', 'actor_ip', '192.0.2.7');
    expect(sealed).not.toBeNull();
    const beforeDate = new Date(now.getTime() + 7 * DAY_MS - 1000);
    expect(await sealerAt(beforeDate).unseal(db, sealed ?? '', 'actor_ip')).toBe('192.0.2.7');
    const afterDate = new Date(now.getTime() + 7 * DAY_MS);
    expect(await sealerAt(afterDate).unseal(db, sealed ?? '', 'actor_ip')).toBeNull();
    expect(await sealerAt(afterDate).seal(db, 'api_key:fresh', 'actor_ip', '192.0.2.8')).toBeNull();
  });

  it('never uses a cached key past its date', async () => {
    let now = new Date();
    const sealer = new PersonalDataSealer(() => now);
    sealer.useWrapping(complianceKeyWrapping(keys.hierarchy));
    const sealed = await sealer.seal(db, 'user:cached', 'actor_email', 'c@example.com');
    const change = await schedule('user:cached', 7, now);
    // The first read after scheduling loads the row and its date into the cache.
    sealer.forgetSubject('user:cached');
    expect(await sealer.unseal(db, sealed ?? '', 'actor_email')).toBe('c@example.com');
    now = new Date((change.deletionDate ?? now).getTime() + 1);
    expect(await sealer.unseal(db, sealed ?? '', 'actor_email')).toBeNull();
  });

  it('sweep skips a cancelled erasure', async () => {
    await schedule('user:changed-mind', 7);
    const cancelled = await cancelSubjectErasure(
      db,
      keys.hierarchy,
      keys.store,
      'user:changed-mind',
      { actor: 'test', audit: noAudit },
    );
    expect(cancelled.state).toBe('live');
    const far = new Date(Date.now() + 400 * DAY_MS);
    const swept = await sweepDueDeletions(hierarchyAt(far), silent, {
      subjectErasure: { db, audit: auditSubjectErased },
      clock: () => far,
    });
    expect(swept.subjects.map((subject) => subject.subjectId)).not.toContain('user:changed-mind');
    expect((await subjectKeyStatus(db, 'user:changed-mind')).state).toBe('live');
  });

  it('maintenance timer erases due subjects', async () => {
    const change = await schedule('user:timer', 7);
    const late = new Date((change.deletionDate ?? new Date()).getTime() + 1000);
    const maintenance = startKeyMaintenance(hierarchyAt(late), silent, {
      rotationDays: 0,
      subjectErasure: { db, audit: auditSubjectErased },
      clock: () => late,
    });
    try {
      // The first check runs right after start, so wait for its transaction to commit.
      for (let attempt = 0; attempt < 100; attempt += 1) {
        if ((await subjectKeyStatus(db, 'user:timer')).state === 'erased') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      maintenance.stop();
    }
    expect((await subjectKeyStatus(db, 'user:timer')).state).toBe('erased');
    // Row-level security hides entries of no organization from the application role, so the
    // table owner reads them.
    const owner = await openPostgresDatabase(database.url, { poolSize: 1 });
    try {
      const { rows } = await owner.query<{ subject: string }>(
        `SELECT metadata->>'subject' AS subject FROM audit_logs
          WHERE action = 'personal_data.erased' ORDER BY seq`,
      );
      expect(rows.map((row) => row.subject)).toContain('user:timer');
    } finally {
      await owner.close();
    }
  });
});
