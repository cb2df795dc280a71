import { entryLeafHash } from '../../../src/monitoring/audit/entry-hash.js';
import { verifyInclusion } from '../../../src/monitoring/audit/merkle.js';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { openPostgresDatabase } from '../../../src/data/database/postgres-database.js';
import { readEntriesAtSeq } from '../../../src/monitoring/audit/audit-entry.reader.js';
import { ensureAuditPartitions } from '../../../src/monitoring/audit/audit-partitions.js';
import { inclusionProofFor } from '../../../src/monitoring/audit/audit-proof.service.js';
import { MAIN_LOG } from '../../../src/monitoring/audit/audit.repository.js';
import { retainAuditLog } from '../../../src/monitoring/audit/audit-retention.service.js';
import { verifyAuditLog } from '../../../src/monitoring/audit/audit-verify.service.js';
import { digestEntry } from '../../../src/monitoring/audit/entry-hash.js';
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

/** Writes 6 entries each in January and February 2024 and 5 now, with checkpoints. */
async function logSpanningMonths(): Promise<AuditFixture> {
  const f = await createAuditFixture();
  fixture = f;
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
  return f;
}

async function retainAsOwner(f: AuditFixture, dryRun = false) {
  const owner = await openPostgresDatabase(f.database.url, { poolSize: 2 });
  try {
    return await retainAuditLog(owner, f.key, { logId: MAIN_LOG, retentionDays: 365, dryRun });
  } finally {
    await owner.close();
  }
}

async function partitionExists(f: AuditFixture, name: string): Promise<boolean> {
  const { rows } = await f.superuser.query<{ name: string | null }>(
    'SELECT to_regclass($1)::text AS name',
    [name],
  );
  return rows[0]?.name === name;
}

describe('audit retention', () => {
  it('dry run covers two expired partitions', async () => {
    const f = await logSpanningMonths();
    const planned = await retainAsOwner(f, true);
    expect(planned.map((item) => [item.partition, item.firstSeq, item.lastSeq])).toEqual([
      ['audit_logs_2024_01', 1, 6],
      ['audit_logs_2024_02', 7, 12],
    ]);
    expect(await partitionExists(f, 'audit_logs_2024_01')).toBe(true);
  });

  it('keeps a partition whose last entry was re-hashed', async () => {
    const f = await logSpanningMonths();
    // Entry 6 is the last of January: its rewritten hash breaks only the link from entry 7,
    // which lies in the next partition.
    const [stored] = await readEntriesAtSeq(f.app, MAIN_LOG, 6);
    const digests = digestEntry({ ...stored!, action: 'user.role_granted' });
    await tamper(
      f,
      "UPDATE audit_logs SET action = 'user.role_granted', entry_hash = $1, leaf_hash = $2 WHERE seq = 6",
      [digests.entryHash, Buffer.from(digests.leafHash)],
    );
    await expect(retainAsOwner(f)).rejects.toThrow(/fails verification/);
    expect(await partitionExists(f, 'audit_logs_2024_01')).toBe(true);
    const report = await verifyAuditLog(f.app, { logId: MAIN_LOG, verifierKey: f.key });
    expect(report.fault).toMatchObject({ kind: 'checkpoint_mismatch' });
  });

  it('reports a month blocked by entries in the default partition', async () => {
    const f = await createAuditFixture();
    fixture = f;
    // A CLI command run months after the last server start writes past the created partitions.
    const later = new Date(Date.now() + 200 * 86_400_000);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(later);
    await appendSampleEntries(f.app, 1, 'late');
    vi.useRealTimers();
    const { rows } = await f.superuser.query<{ name: string }>(
      'SELECT tableoid::regclass::text AS name FROM audit_logs WHERE seq = 1',
    );
    expect(rows[0]?.name).toBe('audit_logs_default');
    const blocked = await ensureAuditPartitions(f.app, later);
    expect(blocked).toEqual([later.toISOString().slice(0, 7)]);
  });

  it('gives an inclusion proof after retention', async () => {
    const f = await logSpanningMonths();
    await retainAsOwner(f);
    await f.checkpointer.sign();
    const proof = await inclusionProofFor(f.app, MAIN_LOG, 15);
    expect(proof.seq).toBe(15);
    expect(proof.proof.length).toBeGreaterThan(0);
    const { entryHash: _stored, ...fields } = proof.entry!;
    const check = verifyInclusion(
      entryLeafHash(fields),
      proof.leafIndex,
      proof.treeSize,
      proof.proof.map((node) => Buffer.from(node, 'hex')),
      Buffer.from(proof.rootHash, 'hex'),
    );
    expect(check).toEqual({ ok: true });
  });
});

describe('audit checkpointer', () => {
  it('rejects a head frontier that the entries do not match', async () => {
    const f = await createAuditFixture();
    fixture = f;
    await appendSampleEntries(f.app, 5);
    // The application role may update the head row, so this needs no superuser.
    await f.app.query(
      "UPDATE audit_log_heads SET frontier = ARRAY[repeat('ab', 32), repeat('cd', 32)] WHERE log_id = 'main'",
    );
    await expect(f.checkpointer.sign()).rejects.toThrow();
  });

  it('rejects moving the head back as the application role', async () => {
    const f = await createAuditFixture();
    fixture = f;
    await appendSampleEntries(f.app, 5);
    await expect(
      f.app.query("UPDATE audit_log_heads SET next_seq = 2 WHERE log_id = 'main'"),
    ).rejects.toThrow();
  });
});
