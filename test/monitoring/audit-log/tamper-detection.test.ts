import { afterEach, describe, expect, it } from 'vitest';

import { MAIN_LOG } from '../../../src/monitoring/audit/audit.repository.js';
import {
  readEntriesAtSeq,
  readStoredEntries,
} from '../../../src/monitoring/audit/audit-entry.reader.js';
import { digestEntry } from '../../../src/monitoring/audit/entry-hash.js';
import { verifyAuditLog } from '../../../src/monitoring/audit/audit-verify.service.js';
import { formatCheckpoint, signCheckpoint } from '../../../src/monitoring/audit/checkpoint.js';
import {
  generateSigningKey,
  type NoteVerifierKey,
} from '../../../src/monitoring/audit/signing-key.js';
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

/** A log of 20 entries with a signed checkpoint at 10 and at 20. */
async function signedLog(): Promise<{
  f: AuditFixture;
  key: NoteVerifierKey;
  checkpoint20: string;
}> {
  const f = await createAuditFixture();
  fixture = f;
  await appendSampleEntries(f.app, 10);
  await f.checkpointer.sign();
  await appendSampleEntries(f.app, 10, 'later');
  const signed = await f.checkpointer.sign();
  return { f, key: f.key, checkpoint20: signed?.signedNote ?? '' };
}

const verify = (f: AuditFixture, key: NoteVerifierKey, externalCheckpoint?: string) =>
  verifyAuditLog(f.app, { logId: MAIN_LOG, verifierKey: key, externalCheckpoint });

describe('audit verify on an untouched log', () => {
  it('passes with every checkpoint', async () => {
    const { f, key, checkpoint20 } = await signedLog();
    const report = await verify(f, key, checkpoint20);
    expect(report.fault).toBeNull();
    expect(report.ok).toBe(true);
    expect(report.entriesVerified).toBe(20);
    expect(report.checkpointsVerified).toBe(2);
    expect(report.externalCheckpoint).toEqual({ treeSize: 20, matched: true });
  });

  it('rejects UPDATE, DELETE and TRUNCATE in the database', async () => {
    const { f } = await signedLog();
    await expect(f.app.query("UPDATE audit_logs SET action = 'x' WHERE seq = 1")).rejects.toThrow();
    await expect(f.app.query('DELETE FROM audit_logs WHERE seq = 1')).rejects.toThrow();
    await expect(f.app.query('TRUNCATE audit_logs')).rejects.toThrow();
    await expect(
      f.superuser.query("UPDATE audit_logs SET action = 'x' WHERE seq = 1"),
    ).rejects.toThrow(/append-only/);
    await expect(f.superuser.query('DELETE FROM audit_logs WHERE seq = 1')).rejects.toThrow(
      /append-only/,
    );
    await expect(f.superuser.query('TRUNCATE audit_logs')).rejects.toThrow(/append-only/);
    const partition = await f.superuser.query<{ name: string }>(
      'SELECT tableoid::regclass::text AS name FROM audit_logs WHERE seq = 1',
    );
    await expect(f.superuser.query(`TRUNCATE ${partition.rows[0]?.name}`)).rejects.toThrow(
      /append-only/,
    );
  });
});

describe('audit verify catches tampering', () => {
  it('an edited field', async () => {
    const { f, key } = await signedLog();
    await tamper(f, "UPDATE audit_logs SET action = 'project.delete' WHERE seq = 7");
    const report = await verify(f, key);
    expect(report.ok).toBe(false);
    expect(report.fault).toMatchObject({ seq: 7, kind: 'edited' });
  });

  it('an edited JSON value', async () => {
    const { f, key } = await signedLog();
    await tamper(
      f,
      `UPDATE audit_logs SET metadata = jsonb_set(metadata, '{index}', '99') WHERE seq = 12`,
    );
    expect((await verify(f, key)).fault).toMatchObject({ seq: 12, kind: 'edited' });
  });

  it('a deleted entry', async () => {
    const { f, key } = await signedLog();
    await tamper(f, 'DELETE FROM audit_logs WHERE seq = 5');
    expect((await verify(f, key)).fault).toMatchObject({ seq: 5, kind: 'deleted' });
  });

  it('a reordered entry', async () => {
    const { f, key } = await signedLog();
    await tamper(
      f,
      'UPDATE audit_logs SET seq = CASE seq WHEN 8 THEN 9 ELSE 8 END WHERE seq IN (8, 9)',
    );
    expect((await verify(f, key)).fault).toMatchObject({ seq: 8, kind: 'reordered' });
  });

  it('an inserted entry with a duplicate seq', async () => {
    const { f, key } = await signedLog();
    await tamper(
      f,
      `INSERT INTO audit_logs SELECT log_id, seq, gen_random_uuid(), timestamp + interval '1 microsecond',
         actor_type, actor_id, actor_email, actor_ip, actor_user_agent, org_id, project_id, request_id,
         session_id, 'user.role_granted', resource_type, resource_id, old_values, new_values, metadata,
         sensitivity, compliance_relevant, previous_hash, entry_hash, leaf_hash
         FROM audit_logs WHERE seq = 4`,
    );
    expect((await verify(f, key)).fault).toMatchObject({ seq: 4, kind: 'inserted' });
  });

  it('an inserted entry with a valid hash and later entries renumbered', async () => {
    const { f, key } = await signedLog();
    await tamper(f, 'UPDATE audit_logs SET seq = seq + 1 WHERE seq >= 6');
    const [template] = await readEntriesAtSeq(f.app, MAIN_LOG, 5);
    const forged = {
      ...template!,
      seq: '6',
      action: 'user.role_granted',
      previousHash: template!.entryHash,
    };
    const digests = digestEntry(forged);
    await tamper(
      f,
      `INSERT INTO audit_logs SELECT log_id, 6, gen_random_uuid(), timestamp, actor_type, actor_id,
         actor_email, actor_ip, actor_user_agent, org_id, project_id, request_id, session_id,
         'user.role_granted', resource_type, resource_id, old_values, new_values, metadata,
         sensitivity, compliance_relevant, $1, $2, $3
         FROM audit_logs WHERE seq = 5`,
      [template!.entryHash, digests.entryHash, Buffer.from(digests.leafHash)],
    );
    expect((await verify(f, key)).fault).toMatchObject({ seq: 6, kind: 'inserted' });
  });

  it('a truncated tail, against a checkpoint held outside the database', async () => {
    const { f, key, checkpoint20 } = await signedLog();
    // A thorough attacker also removes the later checkpoints and rewinds the head.
    await tamper(f, 'DELETE FROM audit_logs WHERE seq > 15');
    await tamper(f, 'DELETE FROM audit_checkpoints WHERE tree_size > 15');
    const report = await verify(f, key, checkpoint20);
    expect(report.fault).toMatchObject({ seq: 16, kind: 'truncated' });
  });

  it('a truncated tail, against the stored checkpoints', async () => {
    const { f, key } = await signedLog();
    await tamper(f, 'DELETE FROM audit_logs WHERE seq > 15');
    expect((await verify(f, key)).fault).toMatchObject({ seq: 16, kind: 'truncated' });
  });

  it('a rewritten and re-hashed history, by the signed root', async () => {
    const { f, key } = await signedLog();
    // Recomputing every later hash keeps the chain intact, but not the signed Merkle roots.
    const entries = [];
    for await (const entry of readStoredEntries(f.app, MAIN_LOG)) entries.push(entry);
    let previousHash: string | null = null;
    for (const entry of entries) {
      const fields = { ...entry, previousHash };
      if (fields.seq === '3') fields.action = 'user.role_granted';
      const digests = digestEntry(fields);
      await tamper(
        f,
        `UPDATE audit_logs SET action = $2, previous_hash = $3, entry_hash = $4, leaf_hash = $5
          WHERE seq = $1`,
        [
          Number(entry.seq),
          fields.action,
          previousHash,
          digests.entryHash,
          Buffer.from(digests.leafHash),
        ],
      );
      previousHash = digests.entryHash;
    }
    const report = await verify(f, key);
    expect(report.fault).toMatchObject({ seq: 10, kind: 'checkpoint_mismatch' });
  });

  it('a forged checkpoint signature in the database', async () => {
    const { f, key } = await signedLog();
    const { rows } = await f.superuser.query<{ note: string }>(
      'SELECT signed_note AS note FROM audit_checkpoints WHERE tree_size = 10',
    );
    const note = rows[0]?.note ?? '';
    const at = note.lastIndexOf(' ') + 10;
    const forgedNote = note.slice(0, at) + (note[at] === 'A' ? 'B' : 'A') + note.slice(at + 1);
    await tamper(f, 'UPDATE audit_checkpoints SET signed_note = $1 WHERE tree_size = 10', [
      forgedNote,
    ]);
    expect((await verify(f, key)).fault).toMatchObject({ seq: 10, kind: 'forged_checkpoint' });
  });

  it('an external checkpoint signed by another key', async () => {
    const { f, key } = await signedLog();
    const impostor = generateSigningKey(key.name);
    const body = formatCheckpoint({
      origin: key.name,
      treeSize: 20,
      rootHash: new Uint8Array(32),
      time: new Date().toISOString(),
      extensions: [],
    });
    const report = await verify(f, key, signCheckpoint(body, impostor));
    expect(report.fault?.kind).toBe('forged_checkpoint');
  });
});
