import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KeyStateError } from '../../src/data/crypto/errors.js';
import {
  openDataProtection,
  type DataProtection,
} from '../../src/data/key-store/data-protection.js';
import { runCli, type CliResult } from '../support/cli-process.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

// Scheduling an organization's data key for deletion erases the organization after the waiting
// period. A rotation of that key added a new active version that was not scheduled, so writes
// went on under it, `keys reencrypt` moved the old values onto it, and the erasure removed
// nothing. Rotation must leave a key without an active version alone.

let t: TestServer;
let keys: DataProtection;

/** Runs the CLI against this file's test server. */
function cli(...args: string[]): Promise<CliResult> {
  return runCli(t, ...args);
}

async function versionStates(keyId: string): Promise<string[]> {
  const { rows } = await t.owner.query<{ state: string }>(
    'SELECT state FROM encryption_key_versions WHERE key_id = $1 ORDER BY version',
    [keyId],
  );
  return rows.map((row) => row.state);
}

beforeAll(async () => {
  t = await startTestServer();
  keys = await openDataProtection(t.config, t.owner, pino({ level: 'silent' }), 'test');
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await t?.stop();
});

describe('rotation of a key scheduled for deletion', () => {
  it('is rejected by the hierarchy', async () => {
    const keyId = await keys.hierarchy.dataKeyId({ kind: 'tenant', tenant: t.boot.orgId }, 'test');
    await keys.hierarchy.scheduleDeletion(keyId, { actor: 'test', waitingDays: 30 });

    await expect(keys.hierarchy.rotate(keyId, 'test')).rejects.toBeInstanceOf(KeyStateError);
    expect(await versionStates(keyId)).toEqual(['scheduled_for_deletion']);
  }, 60_000);

  it('is skipped by keys rotate', async () => {
    const keyId = await keys.hierarchy.dataKeyId({ kind: 'tenant', tenant: t.boot.orgId }, 'test');

    const allKeys = await cli('keys', 'rotate', '--purpose', 'data');
    expect(allKeys.code).toBe(0);
    expect(allKeys.stderr).toContain(`skipped ${keyId}`);
    expect(allKeys.stdout).not.toContain(keyId);
    const orgKey = await cli('keys', 'rotate', '--org', t.boot.orgId);
    expect(orgKey.code).not.toBe(0);
    expect(orgKey.stderr).toContain('scheduled for deletion');

    expect(await versionStates(keyId)).toEqual(['scheduled_for_deletion']);
  }, 60_000);
});
