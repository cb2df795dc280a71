import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { KeyVersionStatus } from '../../src/cli/commands/encryption-keys.command.js';
import { FieldCipher } from '../../src/data/crypto/field-cipher.js';
import type { KeyHierarchy } from '../../src/data/crypto/key-hierarchy.js';
import {
  openDataProtection,
  sweepDueDeletions,
  type DataProtection,
} from '../../src/data/key-store/data-protection.js';
import { auditKeyDestroyed } from '../../src/server/key-deletion-audit.js';
import { runCli, type CliResult } from '../support/cli-process.js';
import { keyHierarchyAt } from '../support/key-hierarchy-at.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const DAY_MS = 24 * 60 * 60 * 1000;

let t: TestServer;
let keys: DataProtection;
let orgKeyId: string;
let location: { tenant: string; table: string; column: string; rowId: string };
let ciphertext: string;

/** Runs the CLI against this file's test server. */
function cli(...args: string[]): Promise<CliResult> {
  return runCli(t, ...args);
}

/** Creates a key hierarchy over the test database whose clock is `now`, with an empty cache. */
function hierarchyAt(now: Date): KeyHierarchy {
  return keyHierarchyAt(keys, t.owner, now);
}

/** Decrypts the organization value with a fresh hierarchy, so no cached key is involved. */
function decryptAt(now: Date): Promise<string> {
  return new FieldCipher(hierarchyAt(now)).decryptString(location, ciphertext);
}

async function orgKeyStates(): Promise<string[]> {
  const { rows } = await t.owner.query<{ state: string }>(
    'SELECT state FROM encryption_key_versions WHERE key_id = $1 ORDER BY version',
    [orgKeyId],
  );
  return rows.map((row) => row.state);
}

async function auditEntries(
  action: string,
): Promise<{ orgId: string | null; metadata: Record<string, unknown> }[]> {
  const { rows } = await t.owner.query<{
    orgId: string | null;
    metadata: Record<string, unknown>;
    sensitivity: string;
  }>(
    `SELECT org_id AS "orgId", metadata, sensitivity FROM audit_logs WHERE action = $1 ORDER BY seq`,
    [action],
  );
  for (const row of rows) expect(row.sensitivity).toBe('critical');
  return rows.map(({ orgId, metadata }) => ({ orgId, metadata }));
}

beforeAll(async () => {
  t = await startTestServer();
  keys = await openDataProtection(t.config, t.owner, pino({ level: 'silent' }), 'test');
  location = { tenant: t.boot.orgId, table: 'provider_keys', column: 'secret', rowId: 'row-1' };
  ciphertext = await keys.fieldCipher.encrypt(location, 'org secret value');
  orgKeyId = (await keys.hierarchy.activeDataKey({ kind: 'tenant', tenant: t.boot.orgId }, 'test'))
    .keyId;
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await t?.stop();
});

describe('mindweave keys schedule-deletion and cancel-deletion', { timeout: 120_000 }, () => {
  it('rejects invalid selections and values with exit code 2', async () => {
    const cases: [string[], string][] = [
      [['--yes'], 'exactly one of --org, --key or --subject'],
      [['--org', 'not-a-uuid', '--yes'], 'invalid --org'],
      [['--org', t.boot.orgId, '--key', orgKeyId, '--yes'], 'exactly one of'],
      [['--org', t.boot.orgId, '--waiting-days', '6', '--yes'], 'invalid --waiting-days'],
      [['--org', t.boot.orgId, '--version', '0', '--yes'], 'invalid --version'],
      [['--key', 'dk_unknown', '--yes'], 'key dk_unknown not found'],
      [['--subject', 'user:nobody', '--yes'], 'owns no data keys'],
    ];
    for (const [args, message] of cases) {
      const result = await cli('keys', 'schedule-deletion', ...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toContain('    at ');
    }
    expect(await orgKeyStates()).toEqual(['active']);
  });

  it('schedules a purpose key version only once unused', async () => {
    const status = await cli('keys', 'status', '--json');
    const data = (JSON.parse(status.stdout) as { data: KeyVersionStatus[] }).data;
    const databaseKeyId = data.find((key) => key.purpose === 'database')?.keyId ?? '';
    expect(databaseKeyId).not.toBe('');
    const states = async () =>
      (
        await t.owner.query<{ state: string }>(
          'SELECT state FROM encryption_key_versions WHERE key_id = $1 ORDER BY version',
          [databaseKeyId],
        )
      ).rows.map((row) => row.state);
    const schedule = (...args: string[]) =>
      cli('keys', 'schedule-deletion', '--key', databaseKeyId, ...args);

    const withoutVersion = await schedule('--yes');
    expect(withoutVersion.code).toBe(2);
    expect(withoutVersion.stderr).toContain('pass --version');

    const active = await schedule('--version', '1', '--yes');
    expect(active.code).toBe(2);
    expect(active.stderr).toContain('because it is the active version');
    expect(active.stderr).not.toContain('    at ');

    expect((await cli('keys', 'rotate', '--purpose', 'database')).code).toBe(0);
    const newActive = await schedule('--version', '2', '--yes');
    expect(newActive.code).toBe(2);
    expect(newActive.stderr).toContain('because it is the active version');

    // The organization's data key is still wrapped under version 1.
    const withDependants = await schedule('--version', '1', '--yes');
    expect(withDependants.code).toBe(2);
    expect(withDependants.stderr).toContain('keys are still wrapped under it');
    expect(withDependants.stderr).toContain('mindweave keys rewrap --purpose database');
    const planWithDependants = await schedule('--version', '1');
    expect(planWithDependants.code).toBe(2);
    expect(await states()).toEqual(['decrypt_only', 'active']);

    expect((await cli('keys', 'rewrap', '--purpose', 'database')).code).toBe(0);
    const scheduled = await schedule('--version', '1', '--yes', '--json');
    expect(scheduled.stderr).toBe('');
    expect(scheduled.code).toBe(0);
    expect(JSON.parse(scheduled.stdout)).toMatchObject({
      changed: true,
      keys: [
        {
          keyId: databaseKeyId,
          purpose: 'database',
          versions: [{ version: 1, state: 'scheduled_for_deletion' }],
        },
      ],
    });
    expect(await states()).toEqual(['scheduled_for_deletion', 'active']);
    const audited = await auditEntries('encryption_key.deletion_scheduled');
    expect(audited).toHaveLength(1);
    expect(audited[0]?.orgId).toBeNull();
    expect(audited[0]?.metadata).toMatchObject({ keyId: databaseKeyId, ownerKind: 'system' });

    // Cancelled again, so the later sweep over the organization key destroys only that key.
    const cancelled = await cli(
      'keys',
      'cancel-deletion',
      '--key',
      databaseKeyId,
      '--version',
      '1',
      '--yes',
    );
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(
      `cancelled the deletion of database key ${databaseKeyId} v1`,
    );
    expect(await states()).toEqual(['decrypt_only', 'active']);
  });

  it('only shows the change without --yes', async () => {
    const result = await cli('keys', 'schedule-deletion', '--org', t.boot.orgId, '--json');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      action: 'schedule-deletion',
      changed: false,
      waitingDays: 30,
      keys: [{ keyId: orgKeyId, versions: [{ version: 1, state: 'active', deletionDate: null }] }],
    });
    expect(await orgKeyStates()).toEqual(['active']);
    const audited = await auditEntries('encryption_key.deletion_scheduled');
    expect(audited.filter((entry) => entry.metadata.keyId === orgKeyId)).toEqual([]);
  });

  it('schedules deletion; values still decrypt', async () => {
    const started = Date.now();
    const result = await cli(
      'keys',
      'schedule-deletion',
      '--org',
      t.boot.orgId,
      '--waiting-days',
      '7',
      '--yes',
      '--json',
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as {
      changed: boolean;
      keys: { keyId: string; versions: { state: string; deletionDate: string }[] }[];
    };
    expect(output.changed).toBe(true);
    expect(output.keys[0]?.versions[0]?.state).toBe('scheduled_for_deletion');
    const due = new Date(output.keys[0]?.versions[0]?.deletionDate ?? '').getTime();
    expect(due).toBeGreaterThanOrEqual(started + 7 * DAY_MS);
    expect(due).toBeLessThan(started + 7 * DAY_MS + 60_000);

    expect(await orgKeyStates()).toEqual(['scheduled_for_deletion']);
    expect(await decryptAt(new Date())).toBe('org secret value');
    // New values can no longer be encrypted under a key scheduled for deletion.
    await expect(new FieldCipher(hierarchyAt(new Date())).encrypt(location, 'x')).rejects.toThrow(
      'no active version',
    );

    const audited = (await auditEntries('encryption_key.deletion_scheduled')).filter(
      (entry) => entry.metadata.ownerKind !== 'system',
    );
    expect(audited).toHaveLength(1);
    expect(audited[0]?.orgId).toBe(t.boot.orgId);
    expect(audited[0]?.metadata).toMatchObject({
      keyId: orgKeyId,
      ownerKind: 'tenant',
      versions: [1],
    });
    const usage = await t.owner.query<{ actor: string }>(
      `SELECT actor FROM key_usage_log WHERE operation = 'schedule_deletion' AND key_id = $1`,
      [orgKeyId],
    );
    expect(usage.rows).toEqual([{ actor: 'cli' }]);
  });

  it('cancels deletion and restores the state', async () => {
    const result = await cli('keys', 'cancel-deletion', '--key', orgKeyId, '--yes', '--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      changed: true,
      keys: [{ keyId: orgKeyId, versions: [{ version: 1, state: 'active', deletionDate: null }] }],
    });
    expect(await orgKeyStates()).toEqual(['active']);
    const far = new Date(Date.now() + 400 * DAY_MS);
    expect(await decryptAt(far)).toBe('org secret value');
    const again = await cli(
      'keys',
      'cancel-deletion',
      '--key',
      orgKeyId,
      '--version',
      '1',
      '--yes',
    );
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is active');
    const cancelled = (await auditEntries('encryption_key.deletion_cancelled')).filter(
      (entry) => entry.metadata.ownerKind !== 'system',
    );
    expect(cancelled).toHaveLength(1);
  });

  it('destroys the key after the date; the log still verifies', async () => {
    const scheduled = await cli(
      'keys',
      'schedule-deletion',
      '--org',
      t.boot.orgId,
      '--yes',
      '--json',
    );
    expect(scheduled.code).toBe(0);
    const due = new Date(
      (JSON.parse(scheduled.stdout) as { keys: { versions: { deletionDate: string }[] }[] }).keys[0]
        ?.versions[0]?.deletionDate ?? '',
    );
    expect(due.getTime()).toBeGreaterThan(Date.now() + 29 * DAY_MS);

    const late = new Date(due.getTime() + 1000);
    const hierarchy = hierarchyAt(late);
    const swept = await sweepDueDeletions(hierarchy, pino({ level: 'silent' }), {
      onDestroyed: (ref) => auditKeyDestroyed(t.owner, hierarchy, ref),
    });
    expect(swept.keys).toEqual([{ keyId: orgKeyId, version: 1 }]);
    expect(await orgKeyStates()).toEqual(['destroyed']);
    await expect(decryptAt(late)).rejects.toThrow();
    const destroyed = await auditEntries('encryption_key.destroyed');
    expect(destroyed).toHaveLength(1);
    expect(destroyed[0]?.orgId).toBe(t.boot.orgId);

    const verify = await cli('audit', 'verify', '--json');
    expect(verify.code).toBe(0);
    expect((JSON.parse(verify.stdout) as { ok: boolean }).ok).toBe(true);
  });

  it('shows the destruction to another process', async () => {
    const status = await cli('keys', 'status', '--json');
    const data = (JSON.parse(status.stdout) as { data: KeyVersionStatus[] }).data;
    const org = data.find((key) => key.keyId === orgKeyId);
    expect(org?.state).toBe('destroyed');
    expect(org?.destroyedAt).not.toBeNull();
    const cancel = await cli('keys', 'cancel-deletion', '--org', t.boot.orgId, '--yes', '--json');
    expect(cancel.code).toBe(0);
    expect((JSON.parse(cancel.stdout) as { changed: boolean }).changed).toBe(false);
    expect(await orgKeyStates()).toEqual(['destroyed']);
  });
});
