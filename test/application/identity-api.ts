import { expect } from 'vitest';

import { base32Decode, totp } from '../../src/application/mfa/totp.js';
import { insertOrganization } from '../../src/tenancy/organizations/organization.repository.js';
import { hashPassword } from '../../src/tenancy/users/password.js';
import { insertMembership, insertUser } from '../../src/tenancy/users/user.repository.js';
import type { OrgRole } from '../../src/tenancy/users/user.schema.js';
import { registerSecrets } from '../support/secret-scan.js';
import type { TestServer } from '../support/test-server.js';

/** Every secret a test sent or received, and every error body, for the leak scan. */
export class SecretRecorder {
  readonly secrets = new Set<string>();
  readonly errorBodies: string[] = [];

  add(...values: (string | null | undefined)[]): void {
    for (const value of values) if (value) this.secrets.add(value);
    registerSecrets(...values);
  }
}

export interface CallOptions {
  token?: string;
  cookie?: string;
  csrf?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  setCookie: string | null;
}

/** Sends one request to the server under test, records its error body and secrets. */
export async function call(
  t: TestServer,
  recorder: SecretRecorder,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  if (options.csrf) headers['x-csrf-token'] = options.csrf;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(`${t.url}${path}`, { method, headers, body });
  const text = await response.text();
  if (response.status >= 400) recorder.errorBodies.push(text);
  const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  for (const key of ['token', 'csrfToken', 'challengeToken', 'secret']) {
    const value = parsed[key];
    if (typeof value === 'string') recorder.add(value);
  }
  if (Array.isArray(parsed.recoveryCodes)) recorder.add(...(parsed.recoveryCodes as string[]));
  return {
    status: response.status,
    headers: response.headers,
    body: parsed,
    setCookie: response.headers.get('set-cookie'),
  };
}

/** Checks the admin error envelope and the code. */
export function expectError(result: CallResult, status: number, code: string): void {
  expect(result.status).toBe(status);
  expect(result.body.code).toBe(code);
  expect(result.body.requestId).toBe(result.headers.get('x-request-id'));
}

let userCounter = 0;

/** Creates a user with `role` in `orgId` (a new organization when omitted), in the database. */
export async function createUser(
  t: TestServer,
  recorder: SecretRecorder,
  options: { role: OrgRole; orgId?: string; password?: string; email?: string },
): Promise<{ id: string; email: string; password: string; orgId: string }> {
  userCounter += 1;
  const email = options.email ?? `user${userCounter}-${Date.now()}@example.com`;
  const password = options.password ?? `Sturdy-Lantern-${userCounter}-Quartz!`;
  recorder.add(password);
  const db = t.owner;
  const orgId = options.orgId ?? (await insertOrganization(db, `Org ${userCounter}`)).id;
  const user = await insertUser(db, {
    email,
    name: 'Test User',
    passwordHash: await hashPassword(password),
    mustChangePassword: false,
  });
  await insertMembership(db, { orgId, userId: user.id, role: options.role });
  return { id: user.id, email, password, orgId };
}

/** Signs in with a password and returns the decoded response. */
export function signIn(
  t: TestServer,
  recorder: SecretRecorder,
  email: string,
  password: string,
  sessionType: 'bearer' | 'cookie' = 'bearer',
): Promise<CallResult> {
  return call(t, recorder, 'POST', '/api/v1/auth/login', {
    body: { email, password, sessionType },
  });
}

/** Computes the TOTP code of `secret` for the time step `offsetSteps` away from now. */
export function codeAt(secret: Buffer, offsetSteps = 0): string {
  return totp(secret, Date.now() / 1000 + offsetSteps * 30);
}

/** Enrolls TOTP for the session; returns the raw secret, the recovery codes and the new token. */
export async function enrollTotp(
  t: TestServer,
  recorder: SecretRecorder,
  token: string,
): Promise<{ secret: Buffer; recoveryCodes: string[]; token: string }> {
  const begin = await call(t, recorder, 'POST', '/api/v1/auth/mfa/totp', { token, body: {} });
  expect(begin.status).toBe(201);
  const secret = base32Decode(begin.body.secret as string);
  recorder.add(secret.toString('hex'), secret.toString('base64'), secret.toString('base64url'));
  const confirm = await call(t, recorder, 'POST', '/api/v1/auth/mfa/totp/confirm', {
    token,
    body: { code: codeAt(secret) },
  });
  expect(confirm.status).toBe(200);
  return {
    secret,
    recoveryCodes: confirm.body.recoveryCodes as string[],
    token: confirm.body.token as string,
  };
}

/** Returns the session cookie a response set, as `name=value`. */
export function sessionCookie(result: CallResult): string {
  const header = result.setCookie ?? '';
  const pair = header.split(';')[0] ?? '';
  expect(pair).toMatch(/^mw_session=mw_sess_/);
  return pair;
}

/** Audit rows with `action`, oldest first. */
export async function auditRows(
  t: TestServer,
  action: string,
): Promise<{ actor_id: string | null; actor_type: string; metadata: Record<string, unknown> }[]> {
  const result = await t.owner.query<{
    actor_id: string | null;
    actor_type: string;
    metadata: Record<string, unknown>;
  }>('SELECT actor_id, actor_type, metadata FROM audit_logs WHERE action = $1 ORDER BY seq', [
    action,
  ]);
  return result.rows;
}

/**
 * Checks that no recorded secret (password, TOTP secret, session, CSRF, challenge or recovery
 * code) appears in any log line, audit row or error body the server produced.
 */
export async function expectNoSecretLeaks(t: TestServer, recorder: SecretRecorder): Promise<void> {
  const audit = await t.owner.query<{ row: string }>(
    'SELECT row_to_json(a)::text AS row FROM audit_logs a',
  );
  const haystacks = [
    ...t.logLines.map((line) => ({ source: 'log', text: line })),
    ...audit.rows.map((row) => ({ source: 'audit', text: row.row })),
    ...recorder.errorBodies.map((text) => ({ source: 'error body', text })),
  ];
  expect(recorder.secrets.size).toBeGreaterThan(0);
  expect(t.logLines.length).toBeGreaterThan(0);
  expect(audit.rows.length).toBeGreaterThan(0);
  const leaks: string[] = [];
  for (const secret of recorder.secrets) {
    for (const { source, text } of haystacks) {
      if (text.includes(secret))
        leaks.push(`${source} contains a secret of length ${secret.length}`);
    }
  }
  expect(leaks).toEqual([]);
}
