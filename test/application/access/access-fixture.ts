import { randomBytes } from 'node:crypto';

import { expect } from 'vitest';

import type { Database } from '../../../src/data/database/database.js';
import { inTenant } from '../../../src/data/database/tenant-scope.js';
import { hashPassword } from '../../../src/tenancy/users/password.js';
import {
  insertMembership,
  insertPreparedUser,
  prepareUser,
} from '../../../src/tenancy/users/user.repository.js';
import type { OrgRole } from '../../../src/tenancy/users/user.schema.js';
import { MFA_REQUIRED_ROLES } from '../../../src/application/mfa/mfa.repository.js';
import { api, login, type ApiResponse } from '../../admin/admin-api.js';
import { enrollTotpForTest } from '../../support/admin-session.js';
import type { TestServer } from '../../support/test-server.js';

/** A member of the test organization with a signed-in session. */
export interface Member {
  id: string;
  email: string;
  token: string;
}

/**
 * Creates a user with `role` in the organization (the bootstrapped one by default) and signs
 * them in. Owners, admins and security admins enroll TOTP on the way, as they must.
 */
export async function signedInMember(
  t: TestServer,
  role: OrgRole,
  orgId: string = t.boot.orgId,
): Promise<Member> {
  const email = `${role}-${randomBytes(4).toString('hex')}@example.com`;
  const password = `Sturdy-Lantern-${randomBytes(4).toString('hex')}-Quartz!`;
  // Encryption creates the user's data key, which embedded PostgreSQL cannot do while a
  // transaction is open, so the user is prepared before the transaction.
  const prepared = await prepareUser({ email, name: 'Test Member' });
  const passwordHash = await hashPassword(password);
  const id = await inTenant(t.server.db, orgId, async (tx) => {
    const user = await insertPreparedUser(tx, prepared, {
      passwordHash,
      mustChangePassword: false,
    });
    await insertMembership(tx, { orgId, userId: user.id, role });
    return user.id;
  });
  return { id, email, token: await login(t, email, password) };
}

/** The audit entries of the test organization with `action`, oldest first. */
export async function auditEntries(
  db: Database,
  orgId: string,
  action: string,
): Promise<
  {
    actor_type: string;
    actor_id: string | null;
    resource_id: string | null;
    request_id: string | null;
    metadata: Record<string, unknown> | null;
    sensitivity: string;
  }[]
> {
  return inTenant(db, orgId, async (tx) => {
    const result = await tx.query<{
      actor_type: string;
      actor_id: string | null;
      resource_id: string | null;
      request_id: string | null;
      metadata: Record<string, unknown> | null;
      sensitivity: string;
    }>(
      `SELECT actor_type, actor_id, resource_id, request_id, metadata, sensitivity
         FROM audit_logs WHERE org_id = $1 AND action = $2 ORDER BY seq`,
      [orgId, action],
    );
    return result.rows;
  });
}

/** Moves a grant's expiry to `secondsFromNow` (negative: already past), by the database clock. */
export async function setGrantExpiry(
  db: Database,
  orgId: string,
  grantId: string,
  secondsFromNow: number,
): Promise<void> {
  await inTenant(db, orgId, (tx) =>
    tx.query(
      `UPDATE access_grants SET expires_at = now() + make_interval(secs => $3)
        WHERE org_id = $1 AND id = $2`,
      [orgId, grantId, secondsFromNow],
    ),
  );
}

/**
 * Enrolls TOTP for `member` unless they have a second factor, and replaces `member.token` with
 * the session that enrollment issues. A grant of owner, admin or security_admin applies only to
 * a member with a second factor.
 */
export async function ensureSecondFactor(t: TestServer, member: Member): Promise<void> {
  const overview = await api(t, 'GET', '/api/v1/auth/mfa', { token: member.token });
  expect(overview.status).toBe(200);
  if (overview.body.enrolled === true) return;
  member.token = await enrollTotpForTest(t, member.token, member.email);
}

/**
 * Requests `role` as `member` and has `approver` approve it; returns the grant id. For a role
 * that needs a second factor, the member enrolls one first (see `ensureSecondFactor`).
 */
export async function approvedGrant(
  t: TestServer,
  member: Member,
  approver: Member,
  role: OrgRole = 'admin',
): Promise<string> {
  if ((MFA_REQUIRED_ROLES as readonly string[]).includes(role)) {
    await ensureSecondFactor(t, member);
  }
  const base = `/api/v1/organizations/${t.boot.orgId}/access-requests`;
  const created = await api(t, 'POST', base, {
    token: member.token,
    body: { role, reason: 'Rotate the leaked provider key', durationMinutes: 60 },
  });
  expect(created.status).toBe(201);
  const grantId = created.body.id as string;
  const approved = await api(t, 'POST', `${base}/${grantId}/approve`, {
    token: approver.token,
    body: { note: 'Confirmed on the incident call' },
  });
  expect(approved.status).toBe(200);
  expect(approved.body.state).toBe('active');
  return grantId;
}

/** Polls `check` every 100 ms until it returns a value, for at most `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | null | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Creates a project as `member`; 201 when their role, raised or not, grants project.create. */
export function createProject(t: TestServer, member: Member): Promise<ApiResponse> {
  const slug = `p-${randomBytes(4).toString('hex')}`;
  return api(t, 'POST', `/api/v1/organizations/${t.boot.orgId}/projects`, {
    token: member.token,
    body: { name: slug, slug },
  });
}
