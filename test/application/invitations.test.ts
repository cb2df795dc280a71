import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { inTenant } from '../../src/data/database/tenant-scope.js';
import { passwordPolicyExample } from '../support/passwords.js';
import { startMailTestServer } from '../support/mail-test-server.js';
import { tokenIn, type SmtpCapture } from '../support/smtp-capture.js';
import type { TestServer } from '../support/test-server.js';
import {
  auditRows,
  call,
  createUser,
  enrollTotp,
  expectError,
  expectNoSecretLeaks,
  SecretRecorder,
  signIn,
} from './identity-api.js';

let t: TestServer;
let smtp: SmtpCapture;
const recorder = new SecretRecorder();

let orgId: string;
let ownerToken: string;
let adminToken: string;

/** Signs in a user of a privileged role and enrolls TOTP, which such roles need. */
async function privilegedSession(email: string, password: string): Promise<string> {
  const login = await signIn(t, recorder, email, password);
  expect(login.status).toBe(200);
  return (await enrollTotp(t, recorder, login.body.token as string)).token;
}

beforeAll(async () => {
  ({ t, smtp } = await startMailTestServer());
  const owner = await createUser(t, recorder, { role: 'owner' });
  orgId = owner.orgId;
  ownerToken = await privilegedSession(owner.email, owner.password);
  const admin = await createUser(t, recorder, { role: 'admin', orgId });
  adminToken = await privilegedSession(admin.email, admin.password);
});

afterAll(async () => {
  await t?.stop();
  await smtp?.stop();
});

let emailCounter = 0;
const newEmail = () => `invitee${++emailCounter}-${Date.now()}@example.com`;

const invite = (token: string, body: unknown, org = orgId) =>
  call(t, recorder, 'POST', `/api/v1/organizations/${org}/invitations`, { token, body });

const accept = (body: Record<string, unknown>) =>
  call(t, recorder, 'POST', '/api/v1/auth/invitations/accept', { body });

/** Invites `email` and returns the token from the mail it received. */
async function invitedToken(email: string, role = 'member', token = adminToken) {
  const before = smtp.messagesTo(email).length;
  const created = await invite(token, { email, role });
  expect(created.status).toBe(201);
  await expect.poll(() => smtp.messagesTo(email).length, { timeout: 10_000 }).toBe(before + 1);
  const mailed = tokenIn(smtp.messagesTo(email).at(-1)!, 'mw_invite_');
  recorder.add(mailed);
  return { invitation: created.body, token: mailed };
}

describe('invitation', () => {
  it('mails a link and returns no token', async () => {
    const email = newEmail();
    const created = await invite(adminToken, { email: email.toUpperCase(), role: 'member' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ email, role: 'member' });
    expect(Object.keys(created.body).sort()).toEqual(
      ['createdAt', 'email', 'expiresAt', 'id', 'invitedBy', 'role'].sort(),
    );
    const expiresInHours =
      (Date.parse(created.body.expiresAt as string) -
        Date.parse(created.body.createdAt as string)) /
      3_600_000;
    expect(Math.round(expiresInHours)).toBe(72);

    const mail = await smtp.waitFor(email);
    expect(mail.headers.subject).toMatch(/^You are invited to .+ on MindWeave$/);
    const token = tokenIn(mail, 'mw_invite_');
    recorder.add(token);
    expect(mail.text).toContain(`https://console.example.com/accept-invitation#token=${token}`);

    const audit = await inTenant(t.server.db, orgId, (tx) =>
      tx.query<{ org_id: string; resource_id: string }>(
        `SELECT org_id, resource_id FROM audit_logs WHERE action = 'user.invited'
          ORDER BY seq DESC LIMIT 1`,
      ),
    );
    expect(audit.rows[0]).toEqual({ org_id: orgId, resource_id: created.body.id });
  });

  it('creates the account on acceptance', async () => {
    const email = newEmail();
    const { invitation, token } = await invitedToken(email, 'auditor');
    const password = 'Bright-Meadow-Lantern-58';
    recorder.add(password);
    const accepted = await accept({ token, name: 'Ada Auditor', password });
    expect(accepted.status).toBe(201);
    expect(accepted.body).toMatchObject({ orgId, role: 'auditor', newAccount: true });

    const login = await signIn(t, recorder, email, password);
    expect(login.status).toBe(200);
    const orgs = await call(t, recorder, 'GET', '/api/v1/auth/me', {
      token: login.body.token as string,
    });
    expect(orgs.body.organizations).toEqual([
      expect.objectContaining({ id: orgId, role: 'auditor' }),
    ]);
    expect(orgs.body.user).toMatchObject({ email, name: 'Ada Auditor' });

    const rows = (await auditRows(t, 'user.invitation_accepted')).filter(
      (row) => row.actor_id === accepted.body.userId,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.metadata).toMatchObject({ newAccount: true });
    expect(invitation.id).toBeDefined();
  });

  it('accepts a token once', async () => {
    const { token } = await invitedToken(newEmail());
    const body = { token, name: 'Grace Member', password: passwordPolicyExample };
    expect((await accept(body)).status).toBe(201);
    const again = await accept(body);
    expectError(again, 400, 'validation_failed');
    expect(again.body.details).toEqual([
      { field: 'token', message: 'Invitation token is invalid, expired or already used' },
    ]);
  });

  it('rejects an expired token', async () => {
    const email = newEmail();
    const { invitation, token } = await invitedToken(email);
    await inTenant(t.server.db, orgId, (tx) =>
      tx.query(
        `UPDATE user_invitations SET expires_at = now() - interval '1 second'
          WHERE org_id = $1 AND id = $2`,
        [orgId, invitation.id],
      ),
    );
    const expired = await accept({ token, name: 'Late Comer', password: passwordPolicyExample });
    expectError(expired, 400, 'validation_failed');
  });

  it('applies the password policy and needs a name', async () => {
    const { token } = await invitedToken(newEmail());
    const weak = await accept({ token, name: 'Weak Pass', password: 'password' });
    expectError(weak, 400, 'validation_failed');
    expect((weak.body.details as { field: string }[]).every((d) => d.field === 'password')).toBe(
      true,
    );
    const breached = await accept({ token, name: 'Weak Pass', password: 'Password123!' });
    expectError(breached, 400, 'validation_failed');
    const nameless = await accept({ token, password: passwordPolicyExample });
    expectError(nameless, 400, 'validation_failed');
    expect(nameless.body.details).toEqual([
      { field: 'name', message: 'Name is required for a new account' },
    ]);
    // Rejected input leaves the token usable.
    const done = await accept({ token, name: 'Strong Pass', password: passwordPolicyExample });
    expect(done.status).toBe(201);
  });

  it('adds an existing account after its password', async () => {
    const other = await createUser(t, recorder, { role: 'member' });
    const { token } = await invitedToken(other.email, 'viewer');
    const wrong = await accept({ token, password: 'Not-The-Password-99' });
    expectError(wrong, 400, 'validation_failed');
    expect((wrong.body.details as { field: string }[])[0]?.field).toBe('password');
    const joined = await accept({ token, name: 'Ignored Name', password: other.password });
    expect(joined.status).toBe(201);
    expect(joined.body).toMatchObject({ userId: other.id, role: 'viewer', newAccount: false });
    const login = await signIn(t, recorder, other.email, other.password);
    const me = await call(t, recorder, 'GET', '/api/v1/auth/me', {
      token: login.body.token as string,
    });
    const roles = (me.body.organizations as { id: string; role: string }[]).map((o) => o.role);
    expect(roles.sort()).toEqual(['member', 'viewer']);
    expect(me.body.user).toMatchObject({ name: 'Test User' });
  });

  it('rejects inviting a member', async () => {
    const member = await createUser(t, recorder, { role: 'member', orgId });
    expectError(await invite(adminToken, { email: member.email, role: 'viewer' }), 409, 'conflict');
  });

  it('replaces an earlier invitation', async () => {
    const email = newEmail();
    const first = await invitedToken(email);
    const second = await invitedToken(email, 'viewer');
    expect(second.invitation.id).not.toBe(first.invitation.id);
    const stale = await accept({
      token: first.token,
      name: 'First Try',
      password: passwordPolicyExample,
    });
    expectError(stale, 400, 'validation_failed');
    const fresh = await accept({
      token: second.token,
      name: 'Second Try',
      password: passwordPolicyExample,
    });
    expect(fresh.body).toMatchObject({ role: 'viewer' });
  });

  it('can be listed and revoked', async () => {
    const email = newEmail();
    const { invitation, token } = await invitedToken(email);
    const listed = await call(t, recorder, 'GET', `/api/v1/organizations/${orgId}/invitations`, {
      token: adminToken,
    });
    expect(listed.status).toBe(200);
    expect((listed.body.data as { id: string }[]).map((i) => i.id)).toContain(invitation.id);

    const path = `/api/v1/organizations/${orgId}/invitations/${invitation.id as string}`;
    expect((await call(t, recorder, 'DELETE', path, { token: adminToken })).status).toBe(204);
    expectError(await call(t, recorder, 'DELETE', path, { token: adminToken }), 404, 'not_found');
    const revoked = await accept({ token, name: 'Too Late', password: passwordPolicyExample });
    expectError(revoked, 400, 'validation_failed');
    const rows = await auditRows(t, 'user.invitation_revoked');
    expect(rows.length).toBeGreaterThan(0);
  });
});

describe('invitation roles', () => {
  it('admin cannot invite an owner', async () => {
    const denied = await invite(adminToken, { email: newEmail(), role: 'owner' });
    expectError(denied, 403, 'forbidden');
    expect(denied.body.error).toBe('Your role cannot grant the role owner');
  });

  it('owner can invite an owner', async () => {
    const created = await invite(ownerToken, { email: newEmail(), role: 'owner' });
    expect(created.status).toBe(201);
  });

  it('needs member.manage', async () => {
    const auditor = await createUser(t, recorder, { role: 'auditor', orgId });
    const login = await signIn(t, recorder, auditor.email, auditor.password);
    const denied = await invite(login.body.token as string, { email: newEmail(), role: 'viewer' });
    expectError(denied, 403, 'forbidden');
  });

  it('another organization sees 404', async () => {
    const stranger = await createUser(t, recorder, { role: 'admin' });
    const token = await privilegedSession(stranger.email, stranger.password);
    expectError(await invite(token, { email: newEmail(), role: 'viewer' }), 404, 'not_found');
  });

  it('rejects unknown fields and roles', async () => {
    const extra = await invite(adminToken, { email: newEmail(), role: 'viewer', orgId });
    expectError(extra, 400, 'validation_failed');
    const badRole = await invite(adminToken, { email: newEmail(), role: 'superuser' });
    expectError(badRole, 400, 'validation_failed');
    expect((badRole.body.details as { field: string }[])[0]?.field).toBe('role');
    const acceptExtra = await accept({ token: 'x', password: 'y', role: 'owner' });
    expectError(acceptExtra, 400, 'validation_failed');
  });
});

describe('invitation rows', () => {
  it('are isolated by tenant', async () => {
    await invitedToken(newEmail());
    const unscoped = await t.server.db.query('SELECT id FROM user_invitations');
    expect(unscoped.rows).toHaveLength(0);
    const own = await inTenant(t.server.db, orgId, (tx) =>
      tx.query('SELECT id FROM user_invitations WHERE org_id = $1', [orgId]),
    );
    expect(own.rows.length).toBeGreaterThan(0);
    const other = await createUser(t, recorder, { role: 'member' });
    const foreign = await inTenant(t.server.db, other.orgId, (tx) =>
      tx.query('SELECT id FROM user_invitations'),
    );
    expect(foreign.rows).toHaveLength(0);
  });

  it('leak no secret', async () => {
    await expectNoSecretLeaks(t, recorder);
  });
});
