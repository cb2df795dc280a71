import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { insertInvitation, prepareInvitationEmail } from '../../../src/application/auth/invitation.repository.js';
import { parseCiphertext } from '../../../src/data/crypto/ciphertext-format.js';
import type { Database } from '../../../src/data/database/database.js';
import { migrate } from '../../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../../src/data/database/postgres-database.js';
import { inTenant } from '../../../src/data/database/tenant-scope.js';
import {
  openDataProtection,
  type DataProtection,
} from '../../../src/data/key-store/data-protection.js';
import {
  UserFieldProtection,
  userKeyOwner,
} from '../../../src/data/personal-data/user-field-protection.js';
import {
  installUserFieldProtection,
  uninstallUserFieldProtection,
} from '../../../src/data/personal-data/user-field-registry.js';
import { insertOrganization } from '../../../src/tenancy/organizations/organization.repository.js';
import {
  findUserCredentialsByEmail,
  insertUser,
} from '../../../src/tenancy/users/user.repository.js';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.js';
import { moveUsersToPlatformKey } from './platform-key-rows.js';

const JOB = fileURLToPath(new URL('./reencrypt-users.process.ts', import.meta.url));
const USERS = 12;
const PAUSE_AFTER = 7;
const logger = pino({ level: 'silent' });

let database: TestDatabase;
let directory: string;
let db: Database;
let keys: DataProtection;
let protection: UserFieldProtection;
let orgId: string;
const totpSecrets = new Map<string, Buffer>();

/** Runs the job in a child process; with `pauseAfter`, SIGKILLs it once it has paused there. */
function runJob(pauseAfter?: number): Promise<{ stdout: string; signal: NodeJS.Signals | null }> {
  const args = ['--import', 'tsx', JOB, database.url, directory];
  if (pauseAfter !== undefined) args.push(String(pauseAfter));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    if (stdout.includes('paused after')) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve({ stdout, signal }));
  });
}

/**
 * Key of every user and TOTP ciphertext: 'platform' for the platform key, 'own' for the user's
 * own key, and 'other' for anything else.
 */
async function storedUserKeys(): Promise<string[]> {
  const platformKeyId = await protection.keyId();
  const users = await db.query<{ id: string; values: (string | null)[] }>(
    'SELECT id, ARRAY[email_encrypted, name_encrypted, phone_encrypted] AS values FROM users',
  );
  const totp = await db.query<{ id: string; sealed: string }>(
    'SELECT user_id AS id, secret_sealed AS sealed FROM user_totp_factors',
  );
  const pairs = [
    ...users.rows.flatMap((row) => row.values.map((value) => [row.id, value] as const)),
    ...totp.rows.map((row) => [row.id, row.sealed] as const),
  ];
  const kinds: string[] = [];
  for (const [userId, value] of pairs) {
    if (value === null) continue;
    const keyId = parseCiphertext(value)?.keyId;
    const own = await keys.hierarchy.dataKeyId(userKeyOwner(userId), 'test');
    if (keyId === platformKeyId) {
      kinds.push('platform');
    } else if (keyId === own) {
      kinds.push('own');
    } else {
      kinds.push('other');
    }
  }
  return kinds;
}

/** Key versions of every invitation ciphertext. */
async function storedInvitationVersions(): Promise<number[]> {
  const invitations = await inTenant(db, orgId, (tx) =>
    tx.query<{ sealed: string }>(
      'SELECT email_encrypted AS sealed FROM user_invitations WHERE org_id = $1',
      [orgId],
    ),
  );
  return invitations.rows.map((row) => parseCiphertext(row.sealed)?.keyVersion ?? 0);
}

beforeAll(async () => {
  database = await createTestDatabase();
  directory = await mkdtemp(path.join(tmpdir(), 'mindweave-reencrypt-crash-'));
  const owner = await openPostgresDatabase(database.url, { poolSize: 2 });
  try {
    await migrate(owner);
  } finally {
    await owner.close();
  }
  db = await openPostgresDatabase(database.url, { role: APPLICATION_ROLE, poolSize: 4 });
  keys = await openDataProtection(
    { MINDWEAVE_DATA_DIR: directory, KMS_MASTER_KEY_DIR: undefined },
    db,
    logger,
    'test',
  );
  protection = new UserFieldProtection(keys.fieldCipher, keys.hierarchy);
  installUserFieldProtection(protection);
  const id = randomUUID();
  orgId = (await inTenant(db, id, (tx) => insertOrganization(tx, 'Crash Test', id))).id;

  for (let i = 0; i < USERS; i += 1) {
    const user = await insertUser(db, {
      email: `crash${i}@example.org`,
      name: `Crash Person ${i}`,
      phone: `+1 555 010 ${String(i).padStart(4, '0')}`,
      passwordHash: null,
      mustChangePassword: false,
    });
    if (i % 3 === 0) {
      const secret = randomBytes(20);
      totpSecrets.set(user.id, secret);
      await db.query('INSERT INTO user_totp_factors (user_id, secret_sealed) VALUES ($1, $2)', [
        user.id,
        await protection.encryptTotpSecret(user.id, secret),
      ]);
    }
    if (i === 0) {
      const email = await prepareInvitationEmail(orgId, 'crash-invitee@example.org');
      await inTenant(db, orgId, (tx) =>
        insertInvitation(tx, {
          orgId,
          email,
          role: 'member',
          tokenHash: randomBytes(32),
          invitedBy: user.id,
          expiresAt: new Date(Date.now() + 86_400_000),
        }),
      );
    }
  }
  const ids = await db.query<{ id: string }>('SELECT id FROM users');
  await moveUsersToPlatformKey(
    db,
    keys.fieldCipher,
    protection,
    ids.rows.map((row) => row.id),
  );
  await keys.hierarchy.rotate(await protection.keyId(), 'test');
}, 120_000);

afterAll(async () => {
  uninstallUserFieldProtection(protection);
  await keys?.close();
  await db?.close();
  await database?.drop();
  await rm(directory, { recursive: true, force: true });
});

describe('re-encryption killed part-way', () => {
  it('leaves old and new versions', async () => {
    const killed = await runJob(PAUSE_AFTER);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).toContain(`paused after ${PAUSE_AFTER}`);
    const userKeys = await storedUserKeys();
    expect(userKeys).toContain('platform');
    expect(userKeys).toContain('own');
  });

  it('finishes when run again', async () => {
    const finished = await runJob();
    expect(finished.signal).toBeNull();
    const result = JSON.parse(finished.stdout.trim()) as Record<string, number>;
    // 12 users, 1 invitation and 4 TOTP factors. The killed run had done some of them.
    expect(result.examined).toBe(USERS + 1 + 4);
    expect(result.current).toBeGreaterThan(0);
    expect(result.reencrypted).toBeGreaterThan(0);
    expect(result.skippedConcurrent).toBe(0);
    expect(result.unreadable).toBe(0);
    expect(new Set(await storedUserKeys())).toEqual(new Set(['own']));
    expect(new Set(await storedInvitationVersions())).toEqual(new Set([2]));
  });

  it('keeps every value readable', async () => {
    keys.hierarchy.clearCache();
    for (let i = 0; i < USERS; i += 1) {
      const user = await findUserCredentialsByEmail(db, `crash${i}@example.org`);
      expect(user?.name).toBe(`Crash Person ${i}`);
      expect(user?.phone).toBe(`+1 555 010 ${String(i).padStart(4, '0')}`);
    }
    for (const [userId, secret] of totpSecrets) {
      const row = await db.query<{ sealed: string }>(
        'SELECT secret_sealed AS sealed FROM user_totp_factors WHERE user_id = $1',
        [userId],
      );
      expect(await protection.decryptTotpSecret(userId, row.rows[0]?.sealed ?? '')).toEqual(secret);
    }
  });

  it('indexes every email under the new version only', async () => {
    for (let i = 0; i < USERS; i += 1) {
      const email = `crash${i}@example.org`;
      const stored = await db.query<{ emailIndex: string }>(
        'SELECT email_index AS "emailIndex" FROM users WHERE email_index = $1',
        [await protection.emailIndexForWrite(email)],
      );
      expect(stored.rows).toHaveLength(1);
    }
  });
});
