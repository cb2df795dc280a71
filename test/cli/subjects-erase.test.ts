import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FieldCipher } from '../../src/data/crypto/field-cipher.js';
import type { KeyHierarchy } from '../../src/data/crypto/key-hierarchy.js';
import {
  openDataProtection,
  sweepDueDeletions,
  type DataProtection,
} from '../../src/data/key-store/data-protection.js';
import {
  complianceKeyWrapping,
  PersonalDataSealer,
} from '../../src/data/personal-data/personal-data-sealer.js';
import { auditKeyDestroyed, auditSubjectErased } from '../../src/server/key-deletion-audit.js';
import { ownerSession } from '../support/admin-session.js';
import { runCli, type CliResult } from '../support/cli-process.js';
import { keyHierarchyAt } from '../support/key-hierarchy-at.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const DAY_MS = 24 * 60 * 60 * 1000;

let t: TestServer;
let keys: DataProtection;
let subject: string;
/** A user field encrypted under a data key owned by the subject, as user fields are stored. */
const userField = { tenant: 'platform', table: 'users', column: 'phone', rowId: 'subject-row' };
let userFieldCiphertext: string;

/** Runs the CLI against this file's test server. */
function cli(...args: string[]): Promise<CliResult> {
  return runCli(t, ...args);
}

/** Creates a key hierarchy over the test database whose clock is `now`, with an empty cache. */
function hierarchyAt(now: Date): KeyHierarchy {
  return keyHierarchyAt(keys, t.owner, now);
}

/** Opens the subject's sealed actor emails with a sealer of its own, at time `now`. */
async function openedEmails(now = new Date()): Promise<(string | null)[]> {
  const sealer = new PersonalDataSealer(() => now);
  sealer.useWrapping(complianceKeyWrapping(keys.hierarchy));
  const { rows } = await t.owner.query<{ email: string }>(
    `SELECT actor_email AS email FROM audit_logs
      WHERE actor_type = 'user' AND actor_id = $1 AND actor_email IS NOT NULL`,
    [t.boot.adminUserId],
  );
  expect(rows.length).toBeGreaterThan(0);
  return Promise.all(rows.map((row) => sealer.unseal(t.owner, row.email, 'actor_email')));
}

/** Decrypts the subject's user field with a fresh hierarchy, so no cached key is involved. */
function openUserField(now = new Date()): Promise<string> {
  return new FieldCipher(hierarchyAt(now)).decryptString(userField, userFieldCiphertext);
}

async function subjectDataKeyStates(): Promise<string[]> {
  const { rows } = await t.owner.query<{ state: string }>(
    `SELECT v.state FROM encryption_key_versions v JOIN encryption_keys k USING (key_id)
      WHERE k.owner_kind = 'subject' AND k.owner_subject = $1 ORDER BY v.version`,
    [subject],
  );
  return rows.map((row) => row.state);
}

async function auditActions(action: string): Promise<Record<string, unknown>[]> {
  const { rows } = await t.owner.query<{ metadata: Record<string, unknown>; sensitivity: string }>(
    `SELECT metadata, sensitivity FROM audit_logs WHERE action = $1 ORDER BY seq`,
    [action],
  );
  for (const row of rows) expect(row.sensitivity).toBe('critical');
  return rows.map((row) => row.metadata);
}

beforeAll(async () => {
  t = await startTestServer();
  // The sign-in writes audit entries with the owner's email sealed under the owner's key.
  await ownerSession(t);
  keys = await openDataProtection(t.config, t.owner, pino({ level: 'silent' }), 'test');
  subject = `user:${t.boot.adminUserId}`;
  userFieldCiphertext = await keys.fieldCipher.encrypt(userField, '+15550100', { subject });
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await t?.stop();
});

describe('mindweave subjects erase', { timeout: 120_000 }, () => {
  it('rejects a malformed subject id', async () => {
    const result = await cli(
      'subjects',
      'erase',
      '--subject',
      "user:x'; DROP TABLE users",
      '--yes',
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('is not a subject id');
    expect(result.stderr).not.toContain('    at ');
  });

  it('rejects a waiting period below 7 days', async () => {
    for (const days of ['6', '7.5']) {
      const result = await cli(
        'subjects',
        'erase',
        '--subject',
        subject,
        '--waiting-days',
        days,
        '--yes',
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--waiting-days');
    }
    expect(await subjectDataKeyStates()).toEqual(['active']);
  });

  it('only shows the key state without --yes', async () => {
    const result = await cli('subjects', 'erase', '--subject', subject, '--json');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      subjectId: subject,
      state: 'live',
      deletionDate: null,
      waitingDays: 30,
      changed: false,
    });
    expect(await openedEmails()).toContain(t.boot.adminEmail);
    expect(await subjectDataKeyStates()).toEqual(['active']);
  });

  it('schedules the erasure; keys keep working until the date', async () => {
    const started = Date.now();
    const erased = await cli(
      'subjects',
      'erase',
      '--subject',
      subject,
      '--waiting-days',
      '7',
      '--yes',
      '--json',
    );
    expect(erased.stderr).toBe('');
    expect(erased.code).toBe(0);
    const change = JSON.parse(erased.stdout) as {
      previousState: string;
      state: string;
      deletionDate: string;
      dataKeys: { keyId: string; versions: number[] }[];
    };
    expect(change.previousState).toBe('live');
    expect(change.state).toBe('scheduled');
    const due = new Date(change.deletionDate).getTime();
    expect(due).toBeGreaterThanOrEqual(started + 7 * DAY_MS);
    expect(due).toBeLessThan(started + 7 * DAY_MS + 60_000);
    expect(change.dataKeys).toHaveLength(1);
    expect(change.dataKeys[0]?.versions).toEqual([1]);
    expect(await subjectDataKeyStates()).toEqual(['scheduled_for_deletion']);

    // During the waiting period: old values open and new values seal.
    expect(await openedEmails()).toContain(t.boot.adminEmail);
    expect(await openUserField()).toBe('+15550100');
    const sealer = new PersonalDataSealer();
    sealer.useWrapping(complianceKeyWrapping(keys.hierarchy));
    const sealed = await sealer.seal(t.owner, subject, 'actor_email', 'new@example.com');
    expect(sealed).not.toBeNull();
    expect(await sealer.unseal(t.owner, sealed ?? '', 'actor_email')).toBe('new@example.com');

    // Once the date has passed, the subject key reads as destroyed even before the sweep.
    const late = new Date(due + 1000);
    expect((await openedEmails(late)).every((email) => email === null)).toBe(true);

    const status = await cli('keys', 'status', '--json');
    expect(status.code).toBe(0);
    const erasures = (JSON.parse(status.stdout) as { subjectErasures: unknown[] }).subjectErasures;
    expect(erasures).toEqual([
      {
        subjectId: subject,
        state: 'scheduled',
        deletionDate: change.deletionDate,
        destroyedAt: null,
      },
    ]);
    const text = await cli('keys', 'status');
    expect(text.stdout).toContain(`subject erasure  ${subject}`);
    expect(text.stdout).toContain(change.deletionDate);

    const audited = await auditActions('personal_data.erasure_scheduled');
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({ subject, previousKeyState: 'live' });
  });

  it('reports a second erasure as already scheduled', async () => {
    const again = await cli('subjects', 'erase', '--subject', subject, '--yes', '--json');
    expect(again.code).toBe(0);
    const change = JSON.parse(again.stdout) as { previousState: string; changed: boolean };
    expect(change.previousState).toBe('scheduled');
    expect(change.changed).toBe(false);
    expect(await auditActions('personal_data.erasure_scheduled')).toHaveLength(1);
  });

  it('cancels the erasure and restores the keys', async () => {
    const preview = await cli('subjects', 'cancel-erasure', '--subject', subject);
    expect(preview.code).toBe(1);
    expect(await subjectDataKeyStates()).toEqual(['scheduled_for_deletion']);

    const cancelled = await cli(
      'subjects',
      'cancel-erasure',
      '--subject',
      subject,
      '--yes',
      '--json',
    );
    expect(cancelled.stderr).toBe('');
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({
      previousState: 'scheduled',
      state: 'live',
      deletionDate: null,
      changed: true,
    });
    expect(await subjectDataKeyStates()).toEqual(['active']);
    const far = new Date(Date.now() + 400 * DAY_MS);
    expect(await openedEmails(far)).toContain(t.boot.adminEmail);
    const audited = await auditActions('personal_data.erasure_cancelled');
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({ subject, previousKeyState: 'scheduled' });
  });

  it('destroys the keys after the date; the log still verifies', async () => {
    const before = await cli('audit', 'verify', '--json');
    expect(before.code).toBe(0);
    const erased = await cli('subjects', 'erase', '--subject', subject, '--yes', '--json');
    expect(erased.code).toBe(0);
    const due = new Date((JSON.parse(erased.stdout) as { deletionDate: string }).deletionDate);

    // One day before the date the sweep destroys nothing.
    const early = new Date(due.getTime() - DAY_MS);
    const earlyHierarchy = hierarchyAt(early);
    const nothing = await sweepDueDeletions(earlyHierarchy, pino({ level: 'silent' }), {
      subjectErasure: { db: t.owner, audit: auditSubjectErased },
      clock: () => early,
    });
    expect(nothing).toEqual({ keys: [], subjects: [] });
    expect(await openUserField(early)).toBe('+15550100');

    const late = new Date(due.getTime() + 1000);
    const hierarchy = hierarchyAt(late);
    const swept = await sweepDueDeletions(hierarchy, pino({ level: 'silent' }), {
      subjectErasure: { db: t.owner, audit: auditSubjectErased },
      onDestroyed: (ref) => auditKeyDestroyed(t.owner, hierarchy, ref),
      clock: () => late,
    });
    expect(swept.subjects.map((s) => s.subjectId)).toEqual([subject]);
    expect(swept.keys).toHaveLength(1);

    const { rows } = await t.owner.query<{
      keyMaterial: Buffer | null;
      wrappedKey: Buffer | null;
      destroyed: boolean;
    }>(
      `SELECT key_material AS "keyMaterial", wrapped_key AS "wrappedKey",
              destroyed_at IS NOT NULL AS destroyed
         FROM personal_data_keys WHERE subject_id = $1`,
      [subject],
    );
    expect(rows).toEqual([{ keyMaterial: null, wrappedKey: null, destroyed: true }]);
    expect(await subjectDataKeyStates()).toEqual(['destroyed']);
    expect((await openedEmails()).every((email) => email === null)).toBe(true);
    await expect(openUserField(late)).rejects.toThrow();

    const usage = await t.owner.query<{ actor: string; purpose: string }>(
      `SELECT actor, purpose FROM key_usage_log
        WHERE operation = 'destroy' AND encryption_context->>'subject' = $1
        ORDER BY purpose`,
      [subject],
    );
    // The personal data key under the compliance key, and the subject's data key.
    expect(usage.rows).toEqual([
      { actor: 'server', purpose: 'compliance' },
      { actor: 'server', purpose: 'data' },
    ]);
    const erasedEntries = await auditActions('personal_data.erased');
    expect(erasedEntries).toEqual([{ subject, deletionDate: due.toISOString() }]);
    const destroyedEntries = await auditActions('encryption_key.destroyed');
    expect(destroyedEntries).toHaveLength(1);
    expect(destroyedEntries[0]).toMatchObject({ ownerKind: 'subject', subject, version: 1 });

    const after = await cli('audit', 'verify', '--json');
    expect(after.code).toBe(0);
    expect((JSON.parse(after.stdout) as { ok: boolean }).ok).toBe(true);
  });

  it('shows the erasure to another process', async () => {
    const state = await cli('subjects', 'erase', '--subject', subject, '--json');
    expect(state.code).toBe(1);
    expect(JSON.parse(state.stdout)).toMatchObject({ subjectId: subject, state: 'erased' });

    const status = await cli('keys', 'status', '--json');
    const parsed = JSON.parse(status.stdout) as {
      subjectErasures: { subjectId: string; state: string; destroyedAt: string | null }[];
    };
    expect(parsed.subjectErasures).toHaveLength(1);
    expect(parsed.subjectErasures[0]?.state).toBe('erased');
    expect(parsed.subjectErasures[0]?.destroyedAt).not.toBeNull();
  });

  it('rejects cancelling a finished erasure', async () => {
    const result = await cli('subjects', 'cancel-erasure', '--subject', subject, '--yes');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('already erased');
    expect(result.stderr).not.toContain('    at ');
  });

  it('reports a second erasure as already done', async () => {
    const again = await cli('subjects', 'erase', '--subject', subject, '--yes', '--json');
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { previousState: string }).previousState).toBe('erased');
  });
});
