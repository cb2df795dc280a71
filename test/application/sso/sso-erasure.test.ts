import { randomBytes } from 'node:crypto';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import {
  openDataProtection,
  sweepDueDeletions,
  type DataProtection,
} from '../../../src/data/key-store/data-protection.js';
import { scheduleSubjectErasure } from '../../../src/data/personal-data/subject-erasure.js';
import { auditSubjectErased } from '../../../src/server/key-deletion-audit.js';
import {
  findUserIdsByEmail,
  insertMembership,
} from '../../../src/tenancy/users/user.repository.js';
import { runCli, type CliResult } from '../../support/cli-process.js';
import { keyHierarchyAt } from '../../support/key-hierarchy-at.js';
import type { TestOidcProvider } from '../../support/oidc-test-provider.js';
import {
  runSsoSignIn,
  configureSso,
  startSsoFixture,
  type SsoFixture,
} from '../../support/sso-fixture.js';
import type { TestServer } from '../../support/test-server.js';
import {
  auditRows,
  call,
  createUser,
  enrollTotp,
  expectNoSecretLeaks,
  SecretRecorder,
} from '../identity-api.js';

const CLIENT_SECRET = 'sso-erasure-client-secret-0123456789';
const DAY_MS = 24 * 60 * 60 * 1000;
const silent = pino({ level: 'silent' });

/**
 * Tables whose rows may still contain an erased user's id after the sweep. The users row itself
 * stays with unreadable personal fields, and governance records keep only ids that the audit
 * trail refers to. README.md and docs/audit-log.md list the same tables.
 */
const RETAINED_TABLES = new Set([
  'users',
  'access_grants',
  'change_requests',
  'tool_call_approvals',
  'api_keys',
  'ip_allowlist_entries',
  'organization_sso_configs',
  'user_invitations',
]);

let t: TestServer;
let idp: TestOidcProvider;
let keys: DataProtection;
let fixture: SsoFixture;
const recorder = new SecretRecorder();

/** Signs `accountId` in at the provider and returns the status and body of the callback. */
function ssoSignIn(accountId: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return runSsoSignIn(fixture, recorder, accountId);
}

/** Creates a key hierarchy over the test database whose clock is `now`, with an empty cache. */
function hierarchyAt(now: Date): KeyHierarchy {
  return keyHierarchyAt(keys, t.owner, now);
}

/** Lists every column that names a user: columns called user_id and foreign keys to users.id. */
async function userIdColumns(): Promise<{ table: string; column: string }[]> {
  const result = await t.owner.query<{ table: string; column: string }>(
    `SELECT c.table_name AS table, c.column_name AS column
       FROM information_schema.columns c
       JOIN information_schema.tables tb
         ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
      WHERE c.table_schema = 'public' AND tb.table_type = 'BASE TABLE' AND c.column_name = 'user_id'
     UNION
     SELECT kcu.table_name, kcu.column_name
       FROM information_schema.referential_constraints rc
       JOIN information_schema.key_column_usage kcu
         ON kcu.constraint_schema = rc.constraint_schema
        AND kcu.constraint_name = rc.constraint_name
       JOIN information_schema.constraint_column_usage ccu
         ON ccu.constraint_schema = rc.unique_constraint_schema
        AND ccu.constraint_name = rc.unique_constraint_name
      WHERE kcu.table_schema = 'public' AND ccu.table_name = 'users' AND ccu.column_name = 'id'
     UNION
     SELECT 'users', 'id'
      ORDER BY 1, 2`,
  );
  return result.rows;
}

/** Maps each table with a row that contains `userId` in a user column to those columns. */
async function tablesReferencing(userId: string): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  for (const { table, column } of await userIdColumns()) {
    const count = await t.owner.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${table}" WHERE "${column}"::text = $1`,
      [userId],
    );
    if ((count.rows[0]?.n ?? 0) > 0) found.set(table, [...(found.get(table) ?? []), column]);
  }
  return found;
}

/** Runs the CLI against this file's test server. */
function cli(...args: string[]): Promise<CliResult> {
  return runCli(t, ...args);
}

beforeAll(async () => {
  fixture = await startSsoFixture({
    clientSecret: CLIENT_SECRET,
    accounts: [
      { id: 'dana', email: 'dana@example.org', emailVerified: true, name: 'Dana', groups: [] },
    ],
    recorder,
  });
  ({ t, idp } = fixture);
  keys = await openDataProtection(t.config, t.owner, silent, 'test');
  await configureSso(fixture, recorder, CLIENT_SECRET, {
    groupsClaim: 'groups',
    defaultRole: 'member',
  });
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await t?.stop();
  await idp?.stop();
});

describe('SSO user erasure', { timeout: 120_000 }, () => {
  it('unlinks the identity and provisions anew', async () => {
    const first = await ssoSignIn('dana');
    expect(first.status).toBe(200);
    const [erasedId] = await findUserIdsByEmail(t.server.db, 'dana@example.org');
    expect(erasedId).toBeDefined();
    const userId = erasedId!;
    await enrollTotp(t, recorder, first.body.token as string);
    // Rows that the sign-in flows create, written directly because this test has no
    // authenticator or mailbox: a WebAuthn credential and a password reset token.
    await t.owner.query(
      `INSERT INTO user_webauthn_credentials
         (user_id, credential_id, public_key, name, device_type, backed_up)
       VALUES ($1, $2, $3, 'Laptop key', 'singleDevice', false)`,
      [userId, randomBytes(16).toString('base64url'), randomBytes(77)],
    );
    await t.owner.query(
      `INSERT INTO password_reset_tokens (token_hash, user_id, expires_at)
       VALUES ($1, $2, now() + interval '30 minutes')`,
      [randomBytes(32), userId],
    );
    const linkedBefore = await tablesReferencing(userId);
    for (const table of [
      'user_sso_identities',
      'memberships',
      'admin_sessions',
      'user_totp_factors',
      'user_recovery_codes',
      'user_webauthn_credentials',
      'password_reset_tokens',
    ]) {
      expect(linkedBefore.has(table), table).toBe(true);
    }

    const now = new Date();
    await scheduleSubjectErasure(t.owner, keys.hierarchy, keys.store, `user:${userId}`, {
      actor: 'test',
      waitingDays: 7,
      now,
      audit: () => Promise.resolve(),
    });
    const late = new Date(now.getTime() + 8 * DAY_MS);
    // The sweep runs as the application role, as the server's key maintenance does, so the
    // grants and the tenant scopes are those of production.
    const swept = await sweepDueDeletions(hierarchyAt(late), silent, {
      subjectErasure: { db: t.server.db, audit: auditSubjectErased },
      clock: () => late,
    });
    expect(swept.subjects.map((subject) => subject.subjectId)).toEqual([`user:${userId}`]);

    // Only the users row itself and governance records may still name the erased user.
    const linkedAfter = await tablesReferencing(userId);
    expect([...linkedAfter.keys()]).toEqual(['users']);
    for (const table of linkedAfter.keys()) expect(RETAINED_TABLES.has(table), table).toBe(true);
    const erased = await t.owner.query<{ password_hash: string | null; erased_at: Date | null }>(
      'SELECT password_hash, erased_at FROM users WHERE id = $1',
      [userId],
    );
    expect(erased.rows[0]?.erased_at).not.toBeNull();
    expect(erased.rows[0]?.password_hash).toBeNull();

    // The same provider identity signs in again and gets a new account.
    const again = await ssoSignIn('dana');
    expect(again.status).toBe(200);
    const me = await call(t, recorder, 'GET', '/api/v1/auth/me', {
      token: again.body.token as string,
    });
    expect(me.status).toBe(200);
    const newUser = me.body.user as { id: string; email: string };
    expect(newUser.id).not.toBe(userId);
    expect(newUser.email).toBe('dana@example.org');
    const provisioned = await auditRows(t, 'user.provisioned');
    expect(provisioned.at(-1)?.metadata).toMatchObject({ method: 'sso', createdUser: true });
    expect([...(await tablesReferencing(userId)).keys()]).toEqual(['users']);

    const verify = await cli('audit', 'verify', '--json');
    expect(verify.code).toBe(0);
  });

  it('erases in every organization or none', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const otherOrgId = user.orgId;
    await insertMembership(t.owner, { orgId: t.boot.orgId, userId: user.id, role: 'viewer' });
    // Links in an organization the user no longer belongs to must go as well.
    await t.owner.query('DELETE FROM memberships WHERE org_id = $1 AND user_id = $2', [
      otherOrgId,
      user.id,
    ]);
    await t.owner.query(
      `INSERT INTO user_sso_identities (org_id, issuer, subject, user_id)
       VALUES ($1, 'https://idp.example.org', 'former-member', $2)`,
      [otherOrgId, user.id],
    );
    await t.owner.query(
      `INSERT INTO user_invitations
         (org_id, email, role, token_hash, invited_by, expires_at, accepted_at, accepted_by)
       VALUES ($1, $2, 'member', $3, $4, now() + interval '1 day', now(), $5)`,
      [otherOrgId, user.email, randomBytes(32), t.boot.adminUserId, user.id],
    );
    const linked = ['memberships', 'user_invitations', 'user_sso_identities', 'users'];
    expect([...(await tablesReferencing(user.id)).keys()].sort()).toEqual(linked);

    const now = new Date();
    await scheduleSubjectErasure(t.owner, keys.hierarchy, keys.store, `user:${user.id}`, {
      actor: 'test',
      waitingDays: 7,
      now,
      audit: () => Promise.resolve(),
    });
    const late = new Date(now.getTime() + 8 * DAY_MS);
    // An audit append that fails rolls the whole erasure back: the key and every link stay.
    const failed = await sweepDueDeletions(hierarchyAt(late), silent, {
      subjectErasure: {
        db: t.server.db,
        audit: () => Promise.reject(new Error('audit append failed')),
      },
      clock: () => late,
    });
    expect(failed.subjects).toEqual([]);
    expect([...(await tablesReferencing(user.id)).keys()].sort()).toEqual(linked);
    const keyRow = await t.owner.query<{ destroyed_at: Date | null }>(
      'SELECT destroyed_at FROM personal_data_keys WHERE subject_id = $1',
      [`user:${user.id}`],
    );
    expect(keyRow.rows[0]?.destroyed_at).toBeNull();

    const swept = await sweepDueDeletions(hierarchyAt(late), silent, {
      subjectErasure: { db: t.server.db, audit: auditSubjectErased },
      clock: () => late,
    });
    expect(swept.subjects.map((subject) => subject.subjectId)).toEqual([`user:${user.id}`]);
    expect([...(await tablesReferencing(user.id)).keys()]).toEqual(['users']);
    const verify = await cli('audit', 'verify', '--json');
    expect(verify.code).toBe(0);
  });

  it('finds every user column in the retained list', async () => {
    // A table added later with a user column must be cleared by the sweep (listed here) or
    // documented as retained, so it cannot be forgotten silently.
    const deleted = new Set([
      'admin_sessions',
      'memberships',
      'mfa_challenges',
      'password_reset_tokens',
      'project_memberships',
      'user_recovery_codes',
      'user_sso_identities',
      'user_totp_factors',
      'user_webauthn_credentials',
      'webauthn_challenges',
    ]);
    const tables = new Set((await userIdColumns()).map((column) => column.table));
    const unhandled = [...tables].filter(
      (table) => !deleted.has(table) && !RETAINED_TABLES.has(table),
    );
    expect(unhandled).toEqual([]);
  });

  it('leaks no secret', async () => {
    await expectNoSecretLeaks(t, recorder);
  });
});
