import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  prepareInvitationEmail,
  prepareInvitationLookup,
  revokeOpenInvitationOf,
} from '../../../src/application/auth/invitation.repository.js';
import { TotpSecretSealer } from '../../../src/application/mfa/totp-secret-sealer.js';
import { parseCiphertext } from '../../../src/data/crypto/ciphertext-format.js';
import { KeyStateError } from '../../../src/data/crypto/errors.js';
import type { Database } from '../../../src/data/database/database.js';
import { openMemoryDatabase } from '../../../src/data/database/embedded-database.js';
import { migrate } from '../../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../../src/data/database/open-database.js';
import { inTenant } from '../../../src/data/database/tenant-scope.js';
import {
  openDataProtection,
  type DataProtection,
} from '../../../src/data/key-store/data-protection.js';
import {
  countPlaintextPersonalData,
  encryptPlaintextPersonalData,
  migratePlaintextPersonalData,
} from '../../../src/data/personal-data/plaintext-migration.js';
import { TotpSecretCipher } from '../../../src/data/personal-data/totp-secret-cipher.js';
import {
  UserFieldProtection,
  userKeyOwner,
} from '../../../src/data/personal-data/user-field-protection.js';
import {
  installUserFieldProtection,
  uninstallUserFieldProtection,
} from '../../../src/data/personal-data/user-field-registry.js';
import { reencryptUserFields } from '../../../src/data/personal-data/user-field-reencryption.js';
import {
  listMembers,
  loadMemberFieldKeys,
} from '../../../src/tenancy/members/member.repository.js';
import { insertOrganization } from '../../../src/tenancy/organizations/organization.repository.js';
import {
  findUserCredentialsByEmail,
  findUserCredentialsById,
  insertMembership,
  insertUser,
  prepareEmailLookup,
  UnreadableUserError,
} from '../../../src/tenancy/users/user.repository.js';
import { moveUsersToPlatformKey } from './platform-key-rows.js';

const logger = pino({ level: 'silent' });
const LEGACY_KEY = randomBytes(32);
const legacyTotp = () => Promise.resolve(TotpSecretSealer.withKey(LEGACY_KEY));

let directory: string;
let db: Database;
let keys: DataProtection;
let protection: UserFieldProtection;
let orgId: string;

interface StoredUser {
  id: string;
  email: string | null;
  name: string | null;
  emailEncrypted: string | null;
  emailIndex: string | null;
  nameEncrypted: string | null;
  phoneEncrypted: string | null;
}

async function storedUsers(): Promise<StoredUser[]> {
  const result = await db.query<StoredUser>(
    `SELECT id, email, name, email_encrypted AS "emailEncrypted", email_index AS "emailIndex",
            name_encrypted AS "nameEncrypted", phone_encrypted AS "phoneEncrypted"
       FROM users ORDER BY id`,
  );
  return result.rows;
}

/** Key versions of every ciphertext stored for users, invitations and TOTP factors. */
async function storedVersions(): Promise<number[]> {
  const users = await storedUsers();
  const totp = await db.query<{ sealed: string }>(
    'SELECT secret_sealed AS sealed FROM user_totp_factors',
  );
  const invitations = await inTenant(db, orgId, (tx) =>
    tx.query<{ sealed: string }>(
      'SELECT email_encrypted AS sealed FROM user_invitations WHERE org_id = $1',
      [orgId],
    ),
  );
  const values = [
    ...users.flatMap((user) => [user.emailEncrypted, user.nameEncrypted, user.phoneEncrypted]),
    ...totp.rows.map((row) => row.sealed),
    ...invitations.rows.map((row) => row.sealed),
  ].filter((value): value is string => value !== null);
  return values.map((value) => parseCiphertext(value)?.keyVersion ?? 0);
}

/** Key ids of every user and TOTP ciphertext. */
async function storedKeyIds(): Promise<string[]> {
  const users = await storedUsers();
  const totp = await db.query<{ sealed: string }>(
    'SELECT secret_sealed AS sealed FROM user_totp_factors',
  );
  return [
    ...users.flatMap((user) => [user.emailEncrypted, user.nameEncrypted, user.phoneEncrypted]),
    ...totp.rows.map((row) => row.sealed),
  ]
    .filter((value): value is string => value !== null)
    .map((value) => parseCiphertext(value)?.keyId ?? '');
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

/** Writes users, an invitation and a TOTP secret the way versions before encryption did. */
async function insertLegacyRows(count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const user = await insertUser(db, {
      email: `legacy${i}@example.org`,
      name: `Legacy Person ${i}`,
      passwordHash: null,
      mustChangePassword: false,
    });
    ids.push(user.id);
  }
  const inviter = ids[0] as string;
  await inTenant(db, orgId, (tx) =>
    tx.query(
      `INSERT INTO user_invitations (org_id, email, role, token_hash, invited_by, expires_at)
       VALUES ($1, 'invitee@example.org', 'member', $2, $3, now() + interval '1 day')`,
      [orgId, randomBytes(32), inviter],
    ),
  );
  const sealed = TotpSecretSealer.withKey(LEGACY_KEY).seal(inviter, Buffer.alloc(20, 7));
  await db.query('INSERT INTO user_totp_factors (user_id, secret_sealed) VALUES ($1, $2)', [
    inviter,
    sealed,
  ]);
  return ids;
}

beforeAll(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'mindweave-user-fields-'));
  db = await openMemoryDatabase();
  await migrate(db);
  await db.query(`SET ROLE ${APPLICATION_ROLE}`);
  keys = await openDataProtection(
    { MINDWEAVE_DATA_DIR: directory, KMS_MASTER_KEY_DIR: undefined },
    db,
    logger,
    'test',
  );
  protection = new UserFieldProtection(keys.fieldCipher, keys.hierarchy);
  const id = randomUUID();
  orgId = (await inTenant(db, id, (tx) => insertOrganization(tx, 'Acme', id))).id;
}, 120_000);

afterAll(async () => {
  uninstallUserFieldProtection(protection);
  await keys.close();
  await db.close();
  await rm(directory, { recursive: true, force: true });
});

describe('start migration of plaintext', () => {
  let legacyIds: string[];

  it('resumes after a failure part-way', async () => {
    legacyIds = await insertLegacyRows(5);
    expect(await countPlaintextPersonalData(db)).toEqual({
      users: 5,
      invitations: 1,
      totpSecrets: 1,
    });

    // The run stops after 3 rows, as a crash would.
    const crash = new Error('simulated crash');
    await expect(
      encryptPlaintextPersonalData(db, protection, {
        legacyTotp,
        logger,
        batchSize: 2,
        afterRow: (migrated) => {
          if (migrated === 3) throw crash;
        },
      }),
    ).rejects.toBe(crash);
    expect((await countPlaintextPersonalData(db)).users).toBe(2);

    const finished = await migratePlaintextPersonalData(db, protection, { legacyTotp, logger });
    expect(finished).toEqual({ users: 2, invitations: 1, totpSecrets: 1, invitationIndexes: 0 });
    expect(await countPlaintextPersonalData(db)).toEqual({
      users: 0,
      invitations: 0,
      totpSecrets: 0,
    });
  });

  it('is idempotent', async () => {
    const again = await migratePlaintextPersonalData(db, protection, { legacyTotp, logger });
    expect(again).toEqual({ users: 0, invitations: 0, totpSecrets: 0, invitationIndexes: 0 });
  });

  it('keeps no plaintext columns', async () => {
    for (const user of await storedUsers()) {
      expect(user.email).toBeNull();
      expect(user.name).toBeNull();
      expect(user.emailEncrypted).toMatch(/^mw1\./);
      expect(user.nameEncrypted).toMatch(/^mw1\./);
      expect(user.emailIndex).toMatch(/^[A-Za-z0-9_-]{22}$/);
    }
  });

  it('keeps every value readable', async () => {
    installUserFieldProtection(protection);
    for (const [i, id] of legacyIds.entries()) {
      const user = await findUserCredentialsById(db, id);
      expect(user?.email).toBe(`legacy${i}@example.org`);
      expect(user?.name).toBe(`Legacy Person ${i}`);
    }
    const factor = await db.query<{ sealed: string }>(
      'SELECT secret_sealed AS sealed FROM user_totp_factors WHERE user_id = $1',
      [legacyIds[0]],
    );
    const sealed = factor.rows[0]?.sealed ?? '';
    expect(sealed).toMatch(/^mw1\./);
    const cipher = new TotpSecretCipher(legacyTotp);
    expect(await cipher.open(legacyIds[0] as string, sealed)).toEqual(Buffer.alloc(20, 7));
  });
});

describe('login lookup by email', () => {
  it('finds a user regardless of case', async () => {
    const user = await insertUser(db, {
      email: 'mixed.case@example.org',
      name: 'Mixed Case',
      phone: '+49 30 1234567',
      passwordHash: null,
      mustChangePassword: false,
    });
    const found = await findUserCredentialsByEmail(db, 'Mixed.Case@Example.ORG');
    expect(found?.id).toBe(user.id);
    expect(found?.phone).toBe('+49 30 1234567');
  });

  it('returns null for an unknown email', async () => {
    expect(await findUserCredentialsByEmail(db, 'nobody@example.org')).toBeNull();
  });

  it('rejects an index match whose email differs', async () => {
    // Give one row the index of another email, as a truncated-HMAC collision would.
    const victim = await insertUser(db, {
      email: 'collides@example.org',
      name: 'Collision Victim',
      passwordHash: null,
      mustChangePassword: false,
    });
    const [index] = (await prepareEmailLookup('target@example.org')).indexes;
    await db.query('UPDATE users SET email_index = $2 WHERE id = $1', [victim.id, index]);
    expect(await findUserCredentialsByEmail(db, 'target@example.org')).toBeNull();
  });

  it('rejects a ciphertext moved to another row', async () => {
    const [first, second] = await storedUsers();
    if (first === undefined || second === undefined) throw new Error('expected two users');
    await db.query('UPDATE users SET name_encrypted = $2 WHERE id = $1', [
      first.id,
      second.nameEncrypted,
    ]);
    await expect(findUserCredentialsById(db, first.id)).rejects.toThrow(UnreadableUserError);
    await db.query('UPDATE users SET name_encrypted = $2 WHERE id = $1', [
      first.id,
      first.nameEncrypted,
    ]);
    expect((await findUserCredentialsById(db, first.id))?.id).toBe(first.id);
  });
});

describe('rotation and re-encryption', () => {
  it('moves platform key values to per-user keys', async () => {
    expect(new Set(await storedVersions())).toEqual(new Set([1]));
    const ids = (await storedUsers()).map((user) => user.id);
    await moveUsersToPlatformKey(db, keys.fieldCipher, protection, ids);
    const platformKeyId = await protection.keyId();
    expect(new Set(await storedKeyIds())).toEqual(new Set([platformKeyId]));

    await keys.hierarchy.rotate(platformKeyId, 'test');
    // Before re-encryption, platform key values and indexes of version 1 still work.
    expect((await findUserCredentialsByEmail(db, 'legacy1@example.org'))?.name).toBe(
      'Legacy Person 1',
    );

    const result = await reencryptUserFields(db, protection, { batchSize: 3 });
    expect(result.skippedConcurrent).toBe(0);
    expect(result.unreadable).toBe(0);
    expect(result.current).toBe(0);
    expect(result.reencrypted).toBe(result.examined);
    expect(await storedKeyIds()).not.toContain(platformKeyId);
    for (const user of await storedUsers()) {
      const own = await keys.hierarchy.dataKeyId(userKeyOwner(user.id), 'test');
      for (const value of [user.emailEncrypted, user.nameEncrypted, user.phoneEncrypted]) {
        if (value !== null) expect(parseCiphertext(value)?.keyId).toBe(own);
      }
    }
    expect(new Set(await storedInvitationVersions())).toEqual(new Set([2]));

    const rerun = await reencryptUserFields(db, protection, { batchSize: 3 });
    expect(rerun.reencrypted).toBe(0);
    expect(rerun.current).toBe(rerun.examined);
  });

  it('moves values to a rotated user key', async () => {
    const user = await findUserCredentialsByEmail(db, 'legacy2@example.org');
    if (user === null) throw new Error('expected legacy2');
    const own = await keys.hierarchy.dataKeyId(userKeyOwner(user.id), 'test');
    await keys.hierarchy.rotate(own, 'test');

    const result = await reencryptUserFields(db, protection);
    expect(result.reencrypted).toBe(1);
    const [stored] = (await storedUsers()).filter((row) => row.id === user.id);
    expect(parseCiphertext(stored?.emailEncrypted ?? '')?.keyVersion).toBe(2);
    expect(parseCiphertext(stored?.nameEncrypted ?? '')?.keyVersion).toBe(2);
    expect((await findUserCredentialsById(db, user.id))?.name).toBe('Legacy Person 2');
  });

  it('reads every value after version 1 is destroyed', async () => {
    const keyId = await protection.keyId();
    await keys.hierarchy.scheduleDeletion(keyId, { version: 1, actor: 'test', waitingDays: 7 });
    await db.query(
      `UPDATE encryption_key_versions SET deletion_date = now() - interval '1 day'
        WHERE key_id = $1 AND version = 1`,
      [keyId],
    );
    keys.hierarchy.clearCache();
    expect(await keys.hierarchy.destroyDueKeys('test')).toEqual([{ keyId, version: 1 }]);

    for (let i = 0; i < 5; i += 1) {
      const user = await findUserCredentialsByEmail(db, `legacy${i}@example.org`);
      expect(user?.email).toBe(`legacy${i}@example.org`);
    }
    expect((await findUserCredentialsByEmail(db, 'mixed.case@example.org'))?.phone).toBe(
      '+49 30 1234567',
    );
    const invitations = await inTenant(db, orgId, (tx) =>
      tx.query<{ id: string; sealed: string }>(
        'SELECT id, email_encrypted AS sealed FROM user_invitations WHERE org_id = $1',
        [orgId],
      ),
    );
    for (const row of invitations.rows) {
      expect(await protection.decryptInvitationEmail(row.id, row.sealed)).toBe(
        'invitee@example.org',
      );
    }
  });
});

describe('per-user keys and erasure', () => {
  let remaining: { id: string; email: string };
  let erased: { id: string; email: string };

  it('encrypts two users under different keys', async () => {
    const insert = (email: string) =>
      insertUser(db, { email, name: 'Key Owner', passwordHash: null, mustChangePassword: false });
    remaining = await insert('kept@example.org');
    erased = await insert('erased@example.org');
    await inTenant(db, orgId, async (tx) => {
      await insertMembership(tx, { orgId, userId: remaining.id, role: 'member' });
      await insertMembership(tx, { orgId, userId: erased.id, role: 'member' });
    });

    const byId = new Map((await storedUsers()).map((user) => [user.id, user]));
    const remainingKey = parseCiphertext(byId.get(remaining.id)?.emailEncrypted ?? '')?.keyId;
    const erasedKey = parseCiphertext(byId.get(erased.id)?.emailEncrypted ?? '')?.keyId;
    expect(remainingKey).toBe(await keys.hierarchy.dataKeyId(userKeyOwner(remaining.id), 'test'));
    expect(erasedKey).toBe(await keys.hierarchy.dataKeyId(userKeyOwner(erased.id), 'test'));
    expect(remainingKey).not.toBe(erasedKey);
    expect(remainingKey).not.toBe(await protection.keyId());
  });

  it('makes only the erased user unreadable', async () => {
    const keyId = await keys.hierarchy.dataKeyId(userKeyOwner(erased.id), 'test');
    await keys.hierarchy.scheduleDeletion(keyId, { actor: 'test', waitingDays: 7 });
    await db.query(
      `UPDATE encryption_key_versions SET deletion_date = now() - interval '1 day'
        WHERE key_id = $1`,
      [keyId],
    );
    expect(await keys.hierarchy.destroyDueKeys('test')).toEqual([{ keyId, version: 1 }]);
    keys.hierarchy.clearCache();

    await expect(findUserCredentialsById(db, erased.id)).rejects.toThrow(UnreadableUserError);
    await expect(findUserCredentialsByEmail(db, erased.email)).rejects.toThrow(
      UnreadableUserError,
    );
    expect((await findUserCredentialsById(db, remaining.id))?.email).toBe('kept@example.org');
    expect((await findUserCredentialsByEmail(db, 'kept@example.org'))?.id).toBe(remaining.id);
  });

  it('lists an erased member as unavailable', async () => {
    keys.hierarchy.clearCache();
    await loadMemberFieldKeys(db, orgId);
    const members = await inTenant(db, orgId, (tx) => listMembers(tx, orgId));
    const erasedMember = members.find((member) => member.userId === erased.id);
    const remainingMember = members.find((member) => member.userId === remaining.id);
    expect(erasedMember?.email).toBeNull();
    expect(erasedMember?.name).toBeNull();
    expect(remainingMember?.email).toBe('kept@example.org');
  });

  it('leaves erased rows in re-encryption', async () => {
    const result = await reencryptUserFields(db, protection);
    expect(result.unreadable).toBe(1);
    expect(result.skippedConcurrent).toBe(0);
    await expect(protection.encrypt(erased.id, 'email', 'new@example.org')).rejects.toThrow(
      KeyStateError,
    );
  });
});

describe('invitation email index', () => {
  let otherOrgId: string;

  beforeAll(async () => {
    const id = randomUUID();
    otherOrgId = (await inTenant(db, id, (tx) => insertOrganization(tx, 'Other', id))).id;
  });

  it('differs across organizations', async () => {
    const first = await prepareInvitationEmail(orgId, 'same.person@example.org');
    const second = await prepareInvitationEmail(otherOrgId, 'same.person@example.org');
    expect(first.emailIndex).not.toBe(second.emailIndex);
    const lookup = await prepareInvitationLookup(orgId, 'Same.Person@example.org');
    expect(lookup.indexes).toContain(first.emailIndex);
    expect(lookup.indexes).not.toContain(second.emailIndex);
  });

  it('moves platform indexes to the organization at start', async () => {
    const invitee = 'moved.invitee@example.org';
    const [inviter] = await storedUsers();
    const prepared = await prepareInvitationEmail(otherOrgId, invitee);
    const [legacyIndex] = await protection.legacyInvitationIndexesForLookup(invitee);
    await inTenant(db, otherOrgId, (tx) =>
      tx.query(
        `INSERT INTO user_invitations (id, org_id, email_encrypted, email_index, role, token_hash,
                                       invited_by, expires_at)
         VALUES ($1, $2, $3, $4, 'member', $5, $6, now() + interval '1 day')`,
        [prepared.id, otherOrgId, prepared.emailEncrypted, legacyIndex, randomBytes(32), inviter?.id],
      ),
    );

    const result = await migratePlaintextPersonalData(db, protection, { legacyTotp, logger });
    expect(result.invitationIndexes).toBe(1);
    const stored = await inTenant(db, otherOrgId, (tx) =>
      tx.query<{ emailIndex: string; scope: string }>(
        `SELECT email_index AS "emailIndex", email_index_scope AS scope
           FROM user_invitations WHERE id = $1`,
        [prepared.id],
      ),
    );
    expect(stored.rows[0]?.scope).toBe('organization');
    expect(stored.rows[0]?.emailIndex).toBe(prepared.emailIndex);
    const lookup = await prepareInvitationLookup(otherOrgId, invitee);
    const revoked = await inTenant(db, otherOrgId, (tx) =>
      revokeOpenInvitationOf(tx, otherOrgId, lookup),
    );
    expect(revoked).toBe(prepared.id);

    const again = await migratePlaintextPersonalData(db, protection, { legacyTotp, logger });
    expect(again.invitationIndexes).toBe(0);
  });
});
