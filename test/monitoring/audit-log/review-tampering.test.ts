import { afterEach, describe, expect, it } from 'vitest';

import { inTenant } from '../../../src/data/database/tenant-scope.js';
import { buildAuditRecord } from '../../../src/monitoring/audit/audit-entry.js';
import {
  inexactJsonNumber,
  readEntriesAtSeq,
  readStoredEntries,
} from '../../../src/monitoring/audit/audit-entry.reader.js';
import { exportAuditEntries } from '../../../src/monitoring/audit/audit-export.service.js';
import { appendAuditRecords, MAIN_LOG } from '../../../src/monitoring/audit/audit.repository.js';
import { verifyAuditLog } from '../../../src/monitoring/audit/audit-verify.service.js';
import { ChainVerifier } from '../../../src/monitoring/audit/chain-verifier.js';
import { digestEntry } from '../../../src/monitoring/audit/entry-hash.js';
import {
  appendSampleEntries,
  createAuditFixture,
  tamper,
  type AuditFixture,
} from '../../support/audit-fixture.js';

let fixture: AuditFixture | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

/** 20 entries, a signed checkpoint at 15, and 5 entries that no checkpoint covers yet. */
async function logWithUnsignedTail(): Promise<AuditFixture> {
  const f = await createAuditFixture();
  fixture = f;
  await appendSampleEntries(f.app, 15);
  await f.checkpointer.sign();
  await appendSampleEntries(f.app, 5, 'tail');
  return f;
}

const verify = (f: AuditFixture) => verifyAuditLog(f.app, { logId: MAIN_LOG, verifierKey: f.key });

/** Rewrites the entry at `seq` with a new action and recomputed entry and leaf hashes. */
async function rehashEntry(f: AuditFixture, seq: number, action: string): Promise<void> {
  const [stored] = await readEntriesAtSeq(f.app, MAIN_LOG, seq);
  const digests = digestEntry({ ...stored!, action });
  await tamper(
    f,
    'UPDATE audit_logs SET action = $2, entry_hash = $3, leaf_hash = $4 WHERE seq = $1',
    [seq, action, digests.entryHash, Buffer.from(digests.leafHash)],
  );
}

describe('inexactJsonNumber', () => {
  it.each([
    ['{"a": 6}', null],
    ['{"a": 0.1, "b": -2.5, "c": 0}', null],
    ['{"a": 1000000000000000000000}', null],
    ['{"a": 1e+21}', null],
    ['{"a": "6.0000000000000000001"}', null],
    ['{"a\\"1.00000000000000000001": 1}', null],
    ['{"a": 6.0000000000000000001}', '6.0000000000000000001'],
    ['{"a": [1, 9007199254740993]}', '9007199254740993'],
    ['{"a": 100.000}', null],
  ])('checks %s', (text, expected) => {
    expect(inexactJsonNumber(text)).toBe(expected);
  });
});

describe('audit verify against database tampering', () => {
  it('catches a JSON number edited to an equal double', async () => {
    const f = await logWithUnsignedTail();
    // metadata.index of entry 7 is 6; this literal parses to the same JavaScript number.
    await tamper(
      f,
      `UPDATE audit_logs SET metadata = jsonb_set(metadata, '{index}', '6.0000000000000000001')
        WHERE seq = 7`,
    );
    const stored = await f.superuser.query<{ index: string }>(
      "SELECT metadata->>'index' AS index FROM audit_logs WHERE seq = 7",
    );
    expect(stored.rows[0]?.index).toBe('6.0000000000000000001');
    const report = await verify(f);
    expect(report.ok).toBe(false);
    expect(report.fault).toMatchObject({ seq: 7, kind: 'edited' });
  });

  it('catches an edited leaf hash column', async () => {
    const f = await logWithUnsignedTail();
    await tamper(f, 'UPDATE audit_logs SET leaf_hash = $1 WHERE seq = 3', [Buffer.alloc(32)]);
    const report = await verify(f);
    expect(report.ok).toBe(false);
    expect(report.fault).toMatchObject({ seq: 3, kind: 'edited' });
  });

  it('catches an edited checkpoint root_hash column', async () => {
    const f = await logWithUnsignedTail();
    await tamper(f, 'UPDATE audit_checkpoints SET root_hash = $1 WHERE tree_size = 15', [
      Buffer.alloc(32, 7),
    ]);
    const report = await verify(f);
    expect(report.ok).toBe(false);
    expect(report.fault).toMatchObject({ seq: 15, kind: 'forged_checkpoint' });
  });

  it('catches a deleted unsigned tail', async () => {
    const f = await logWithUnsignedTail();
    await tamper(f, 'DELETE FROM audit_logs WHERE seq > 18');
    const report = await verify(f);
    expect(report.ok).toBe(false);
    expect(report.fault).toMatchObject({ seq: 19, kind: 'truncated' });
  });

  it('catches a re-hashed last entry', async () => {
    const f = await logWithUnsignedTail();
    await rehashEntry(f, 20, 'user.role_granted');
    const report = await verify(f);
    expect(report.ok).toBe(false);
    expect(report.fault).toMatchObject({ seq: 20, kind: 'edited' });
  });

  it('catches an entry appended past the head', async () => {
    const f = await logWithUnsignedTail();
    const [last] = await readEntriesAtSeq(f.app, MAIN_LOG, 20);
    const forged = {
      ...last!,
      seq: '21',
      action: 'user.role_granted',
      previousHash: last!.entryHash,
    };
    const digests = digestEntry(forged);
    await tamper(
      f,
      `INSERT INTO audit_logs SELECT log_id, 21, gen_random_uuid(), timestamp, actor_type,
         actor_id, actor_email, actor_ip, actor_user_agent, org_id, project_id, request_id,
         session_id, 'user.role_granted', resource_type, resource_id, old_values, new_values,
         metadata, sensitivity, compliance_relevant, $1, $2, $3
         FROM audit_logs WHERE seq = 20`,
      [last!.entryHash, digests.entryHash, Buffer.from(digests.leafHash)],
    );
    const report = await verify(f);
    expect(report.ok).toBe(false);
    expect(report.fault).toMatchObject({ seq: 21, kind: 'inserted' });
  });

  it('catches a prefix deleted behind a made-up seal', async () => {
    const f = await logWithUnsignedTail();
    // Everything a real seal contains can be computed from the entries before deleting them.
    const verifier = new ChainVerifier({ logId: MAIN_LOG });
    let lastEntryHash = '';
    for await (const entry of readStoredEntries(f.app, MAIN_LOG)) {
      if (Number(entry.seq) > 15) break;
      expect(verifier.push(entry)).toBeNull();
      lastEntryHash = entry.entryHash;
    }
    const note = await f.superuser.query<{ note: string }>(
      'SELECT signed_note AS note FROM audit_checkpoints WHERE tree_size = 15',
    );
    await tamper(f, 'DELETE FROM audit_logs WHERE seq <= 15');
    await tamper(
      f,
      `INSERT INTO audit_retention_seals (log_id, partition_name, first_seq, last_seq,
         last_entry_hash, frontier, checkpoint_note) VALUES ('main', 'audit_logs_2019_01', 1, 15,
         $1, $2, $3)`,
      [lastEntryHash, verifier.frontierState(), note.rows[0]?.note],
    );
    const report = await verify(f);
    expect(report.ok).toBe(false);
    expect(report.fault).toMatchObject({ seq: 1, kind: 'deleted' });
  });

  it('passes while another writer appends', async () => {
    const f = await logWithUnsignedTail();
    let writing = true;
    const writer = (async () => {
      while (writing) await appendSampleEntries(f.app, 1, 'concurrent');
    })();
    try {
      for (let round = 0; round < 5; round++) {
        const report = await verify(f);
        expect(report.fault).toBeNull();
        expect(report.ok).toBe(true);
      }
    } finally {
      writing = false;
      await writer;
    }
  });
});

describe('audit append of unusual values', () => {
  it('keeps a "__proto__" key and verifies', async () => {
    const f = await createAuditFixture();
    fixture = f;
    const metadata = JSON.parse(
      '{"__proto__": {"polluted": true}, "nul": "a\\u0000b", "lone": "\\ud800x"}',
    ) as Record<string, unknown>;
    await f.app.transaction((tx) =>
      appendAuditRecords(tx, [
        buildAuditRecord(
          { type: 'system', id: null },
          { requestId: null, ip: null, userAgent: 'agent\u0000\udc00/1.0' },
          { action: 'user.login_failed\u0000', metadata },
        ),
      ]),
    );
    const stored = await f.superuser.query<{ metadata: Record<string, unknown> }>(
      'SELECT metadata FROM audit_logs WHERE seq = 1',
    );
    expect(Object.keys(stored.rows[0]!.metadata).sort()).toEqual(['__proto__', 'lone', 'nul']);
    expect(stored.rows[0]!.metadata['nul']).toBe('a\uFFFDb');
    const report = await verify(f);
    expect(report.fault).toBeNull();
    expect(report.ok).toBe(true);
  });
});

describe('audit export paging', () => {
  it('continues after the last exported entry', async () => {
    const f = await createAuditFixture();
    fixture = f;
    const orgId = '7d2b1c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e';
    const appendForOrg = (count: number) =>
      f.app.transaction((tx) =>
        appendAuditRecords(
          tx,
          Array.from({ length: count }, () =>
            buildAuditRecord(
              { type: 'system', id: null },
              { requestId: null, ip: null, userAgent: null },
              { action: 'organization.update', orgId },
            ),
          ),
        ),
      );
    await appendForOrg(3);
    await f.checkpointer.sign();
    await appendForOrg(2);

    const firstPage = await inTenant(f.app, orgId, (tx) =>
      exportAuditEntries(tx, f.key, { orgId, limit: 4 }),
    );
    const entryLines = firstPage.filter((line) => (line as { type: string }).type === 'entry');
    expect(entryLines).toHaveLength(3);
    const checkpointLine = firstPage.at(-1) as { type: string; nextAfterSeq: string | null };
    expect(checkpointLine.type).toBe('checkpoint');
    // Entry 4 is past the checkpoint, so the next page must start after entry 3, not skip it.
    expect(checkpointLine.nextAfterSeq).toBe('3');
  });
});
