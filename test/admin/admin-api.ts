import { expect } from 'vitest';

import type { Queryable } from '../../src/data/database/database.js';
import { insertOrganization } from '../../src/tenancy/organizations/organization.repository.js';
import { hashPassword } from '../../src/tenancy/users/password.js';
import { insertMembership, insertUser } from '../../src/tenancy/users/user.repository.js';
import type { OrgRole } from '../../src/tenancy/users/user.schema.js';
import { completeMfaSignIn, enrollTotpForTest } from '../support/admin-session.js';
import type { TestServer } from '../support/test-server.js';

/** The password the owner sets at first sign-in in these tests. */
export const OWNER_PASSWORD = 'Owner-Passw0rd!2026';

/** A decoded HTTP response of the admin API. */
export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export interface ApiRequest {
  token?: string;
  body?: unknown;
  /** A raw body, sent as given; `body` is sent as JSON. */
  raw?: string;
  headers?: Record<string, string>;
}

/** Sends one request to the server under test and decodes the JSON body, if any. */
export async function api(
  t: TestServer,
  method: string,
  path: string,
  request: ApiRequest = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...request.headers };
  if (request.token) headers.authorization = `Bearer ${request.token}`;
  let body: string | undefined = request.raw;
  if (request.body !== undefined) {
    body = JSON.stringify(request.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${t.url}${path}`, { method, headers, body });
  const text = await response.text();
  const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  return { status: response.status, headers: response.headers, body: parsed };
}

/**
 * Signs in and returns the session token, completing the MFA challenge of users enrolled by
 * `ownerSession`; fails the test when sign-in fails.
 */
export async function login(t: TestServer, email: string, password: string): Promise<string> {
  const response = await api(t, 'POST', '/api/v1/auth/login', { body: { email, password } });
  expect(response.status).toBe(200);
  if (response.body.mfaRequired === true) {
    const challenge = await completeMfaSignIn(t, email, response.body.challengeToken as string);
    expect(challenge.status).toBe(200);
    return ((await challenge.json()) as { token: string }).token;
  }
  // Owners, admins and security admins must enroll a second factor before other routes work.
  if (response.body.mfaEnrollmentRequired === true && response.body.mustChangePassword !== true) {
    return enrollTotpForTest(t, response.body.token as string, email);
  }
  return response.body.token as string;
}

/**
 * Signs the bootstrapped owner in, replaces the one-time password with OWNER_PASSWORD and
 * enrolls TOTP, which owners must use; returns the session token that enrollment issues.
 */
export async function ownerSession(t: TestServer): Promise<string> {
  const token = await login(t, t.boot.adminEmail, t.boot.adminPassword);
  const change = await api(t, 'POST', '/api/v1/auth/password', {
    token,
    body: { currentPassword: t.boot.adminPassword, newPassword: OWNER_PASSWORD },
  });
  expect(change.status).toBe(204);
  return enrollTotpForTest(t, token, t.boot.adminEmail);
}

/** Creates a user with a usable password and a role in `orgId`, directly in the database. */
export async function insertMember(
  db: Queryable,
  orgId: string,
  role: OrgRole,
  email: string,
  password: string,
): Promise<string> {
  const user = await insertUser(db, {
    email,
    name: 'Test Member',
    passwordHash: await hashPassword(password),
    mustChangePassword: false,
  });
  await insertMembership(db, { orgId, userId: user.id, role });
  return user.id;
}

/** Creates a second organization with its own owner, directly in the database. */
export async function insertForeignOrganization(
  db: Queryable,
  email: string,
  password: string,
): Promise<{ orgId: string; userId: string }> {
  const org = await insertOrganization(db, 'Globex');
  const userId = await insertMember(db, org.id, 'owner', email, password);
  return { orgId: org.id, userId };
}

/** Audit rows with `action`, oldest first. */
export async function auditRows(db: Queryable, action: string): Promise<Record<string, unknown>[]> {
  const result = await db.query(
    `SELECT action, actor_type, actor_id, org_id, project_id, resource_type, resource_id,
            request_id, metadata, new_values
       FROM audit_logs WHERE action = $1 ORDER BY seq`,
    [action],
  );
  return result.rows;
}

/** Checks the admin error shape: `{ error, code, details?, requestId }` and nothing else. */
export function expectAdminError(response: ApiResponse, status: number, code: string): void {
  expect(response.status).toBe(status);
  expect(response.body.code).toBe(code);
  expect(typeof response.body.error).toBe('string');
  expect(response.body.requestId).toBe(response.headers.get('x-request-id'));
  const allowed = ['error', 'code', 'details', 'requestId'];
  expect(Object.keys(response.body).filter((key) => !allowed.includes(key))).toEqual([]);
}

/** Returns the fields named in a validation error's `details`. */
export function detailFields(response: ApiResponse): string[] {
  const details = (response.body.details ?? []) as { field: string }[];
  return details.map((issue) => issue.field);
}
