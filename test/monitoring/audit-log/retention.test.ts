import { afterEach, describe, expect, it, vi } from 'vitest';

import { openPostgresDatabase } from '../../../src/data/database/postgres-database.js';
import { MAIN_LOG } from '../../../src/monitoring/audit/audit.repository.js';
import { retainAuditLog } from '../../../src/monitoring/audit/audit-retention.service.js';
import { verifyAuditLog } from '../../../src/monitoring/audit/audit-verify.service.js';
import {
  appendSampleEntries,
  createAuditFixture,
  tamper,
  type AuditFixture,
} from '../../support/audit-fixture.js';

let fixture: AuditFixture | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await fixture?.close();
  fixture = undefined;
});

/** Writes entries in January and February 2024 and now, with checkpoints along the way. */
async function logSpanningMonths(f: AuditFixture): Promise<void> {
  for (const month of ['2024-01-15T10:00:00Z', '2024-02-15T10:00:00Z']) {
    await f.superuser.query('SELECT audit_ensure_partition($1)', [month]);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date(month));
    await appendSampleEntries(f.app, 6, `month_${month.slice(5, 7)}`);
    await f.checkpointer.sign();
    vi.useRealTimers();
  }
  await appendSampleEntries(f.app, 5, 'recent');
  await f.checkpointer.sign();
}

describe('audit retention', () => {
  it('drops old partitions, records the drop, and verification still passes', async () => {
    const f = await createAuditFixture();
    fixture = f;
    await logSpanningMonths(f);
    const owner = await openPostgresDatabase(f.database.url, { poolSize: 2 });
    try {
      const dropped = await retainAuditLog(owner, f.key, { logId: MAIN_LOG, retentionDays: 365 });
      expect(dropped.map((item) => item.partition)).toEqual([
        'audit_logs_2024_01',
        'audit_logs_2024_02',
      ]);
      expect(dropped.map((item) => [item.firstSeq, item.lastSeq])).toEqual([
        [1, 6],
        [7, 12],
      ]);
    } finally {
      await owner.close();
    }

    const remaining = await f.superuser.query<{ min: string; action: string }>(
      'SELECT min(seq) AS min FROM audit_logs',
    );
    expect(Number(remaining.rows[0]?.min)).toBe(13);
    const recorded = await f.superuser.query<{ count: string }>(
      "SELECT count(*) AS count FROM audit_logs WHERE action = 'audit.partition_dropped'",
    );
    expect(Number(recorded.rows[0]?.count)).toBe(2);

    const signed = await f.checkpointer.sign();
    const report = await verifyAuditLog(f.app, {
      logId: MAIN_LOG,
      verifierKey: f.key,
      externalCheckpoint: signed?.signedNote,
    });
    expect(report.fault).toBeNull();
    expect(report.ok).toBe(true);
    expect(report.treeSize).toBe(19);
  });

  it('still catches an edit after a retention gap', async () => {
    const f = await createAuditFixture();
    fixture = f;
    await logSpanningMonths(f);
    const owner = await openPostgresDatabase(f.database.url, { poolSize: 2 });
    await retainAuditLog(owner, f.key, { logId: MAIN_LOG, retentionDays: 365 }).finally(() =>
      owner.close(),
    );
    await tamper(f, "UPDATE audit_logs SET action = 'forged' WHERE seq = 14");
    const report = await verifyAuditLog(f.app, { logId: MAIN_LOG, verifierKey: f.key });
    expect(report.fault).toMatchObject({ seq: 14, kind: 'edited' });
  });

  it('reports a deleted seal as deleted entries', async () => {
    const f = await createAuditFixture();
    fixture = f;
    await logSpanningMonths(f);
    const owner = await openPostgresDatabase(f.database.url, { poolSize: 2 });
    await retainAuditLog(owner, f.key, { logId: MAIN_LOG, retentionDays: 365 }).finally(() =>
      owner.close(),
    );
    await tamper(f, 'DELETE FROM audit_retention_seals WHERE first_seq = 1');
    const report = await verifyAuditLog(f.app, { logId: MAIN_LOG, verifierKey: f.key });
    expect(report.fault).toMatchObject({ seq: 1, kind: 'deleted' });
  });

  it('is refused to the application role', async () => {
    const f = await createAuditFixture();
    fixture = f;
    await logSpanningMonths(f);
    await expect(
      retainAuditLog(f.app, f.key, { logId: MAIN_LOG, retentionDays: 365 }),
    ).rejects.toThrow();
    const { rows } = await f.superuser.query<{ count: string }>(
      'SELECT count(*) AS count FROM audit_logs',
    );
    expect(Number(rows[0]?.count)).toBe(17);
  });
});
