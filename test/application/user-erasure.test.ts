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
  cancelSubjectErasure,
  scheduleSubjectErasure,
} from '../../src/data/personal-data/subject-erasure.js';
import { UserFieldProtection } from '../../src/data/personal-data/user-field-protection.js';
import {
  installUserFieldProtection,
  uninstallUserFieldProtection,
} from '../../src/data/personal-data/user-field-registry.js';
import { keyHierarchyAt } from '../support/key-hierarchy-at.js';
import { startMailTestServer } from '../support/mail-test-server.js';
import { tokenIn, type SmtpCapture } from '../support/smtp-capture.js';
import type { TestServer } from '../support/test-server.js';
import {
  auditRows,
  call,
  codeAt,
  createUser,
  enrollTotp,
  expectNoSecretLeaks,
  SecretRecorder,
  signIn,
  type CallResult,
} from './identity-api.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const silent = pino({ level: 'silent' });
const noAudit = () => Promise.resolve();

let t: TestServer;
let smtp: SmtpCapture;
let keys: DataProtection;
let orgId: string;
let ownerToken: string;
const recorder = new SecretRecorder();

/** Creates a key hierarchy over the test database whose clock is `now`, with an empty cache. */
function hierarchyAt(now: Date): KeyHierarchy {
  return keyHierarchyAt(keys, t.owner, now);
}

function schedule(userId: string, now = new Date()) {
  return scheduleSubjectErasure(t.owner, keys.hierarchy, keys.store, `user:${userId}`, {
    actor: 'test',
    waitingDays: 7,
    now,
    audit: noAudit,
  });
}

function cancel(userId: string) {
  return cancelSubjectErasure(t.owner, keys.hierarchy, keys.store, `user:${userId}`, {
    actor: 'test',
    audit: noAudit,
  });
}

async function userRow(userId: string) {
  const result = await t.owner.query<{
    status: string;
    erasure_disabled: boolean;
    erased_at: Date | null;
    email_index: string | null;
  }>('SELECT status, erasure_disabled, erased_at, email_index FROM users WHERE id = $1', [userId]);
  return result.rows[0];
}

/** The parts of an error response that must not tell an erased account from a wrong password. */
function errorShape(result: CallResult) {
  const { requestId: _requestId, ...rest } = result.body;
  return { status: result.status, body: rest };
}

beforeAll(async () => {
  ({ t, smtp } = await startMailTestServer());
  keys = await openDataProtection(t.config, t.owner, silent, 'test');
  const owner = await createUser(t, recorder, { role: 'owner' });
  orgId = owner.orgId;
  const login = await signIn(t, recorder, owner.email, owner.password);
  expect(login.status).toBe(200);
  ownerToken = (await enrollTotp(t, recorder, login.body.token as string)).token;
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await t?.stop();
  await smtp?.stop();
});

describe('user erasure', { timeout: 120_000 }, () => {
  it('disables, re-enables and frees the email', async () => {
    const member = await createUser(t, recorder, { role: 'member', orgId });
    const before = await signIn(t, recorder, member.email, member.password);
    expect(before.status).toBe(200);
    const sessionToken = before.body.token as string;
    const wrongPassword = await signIn(t, recorder, member.email, 'Wrong-Password-Quartz-11!');
    expect(wrongPassword.status).toBe(401);

    // Scheduling the erasure stops sign-in and the open session at once.
    const scheduled = await schedule(member.id);
    expect(scheduled.changed).toBe(true);
    expect(await userRow(member.id)).toMatchObject({ status: 'disabled', erasure_disabled: true });
    const rejected = await signIn(t, recorder, member.email, member.password);
    expect(errorShape(rejected)).toEqual(errorShape(wrongPassword));
    const me = await call(t, recorder, 'GET', '/api/v1/auth/me', { token: sessionToken });
    expect(me.status).toBe(401);

    // Cancelling gives the account back.
    await cancel(member.id);
    expect(await userRow(member.id)).toMatchObject({ status: 'active', erasure_disabled: false });
    const again = await signIn(t, recorder, member.email, member.password);
    expect(again.status).toBe(200);
    // The session revoked by the erasure stays revoked after the cancel.
    const oldSession = await call(t, recorder, 'GET', '/api/v1/auth/me', { token: sessionToken });
    expect(oldSession.status).toBe(401);

    // Scheduled again and swept after the waiting period, the keys and the email index go.
    const now = new Date();
    await schedule(member.id, now);
    const late = new Date(now.getTime() + 8 * DAY_MS);
    const swept = await sweepDueDeletions(hierarchyAt(late), silent, {
      subjectErasure: { db: t.owner, audit: noAudit },
      clock: () => late,
    });
    expect(swept.subjects.map((subject) => subject.subjectId)).toContain(`user:${member.id}`);
    const erased = await userRow(member.id);
    expect(erased?.status).toBe('disabled');
    expect(erased?.email_index).toBeNull();
    expect(erased?.erased_at).not.toBeNull();
    const afterErasure = await signIn(t, recorder, member.email, member.password);
    expect(errorShape(afterErasure)).toEqual(errorShape(wrongPassword));

    // The same email can be invited and accepted as a new account.
    const invited = await call(t, recorder, 'POST', `/api/v1/organizations/${orgId}/invitations`, {
      token: ownerToken,
      body: { email: member.email, role: 'member' },
    });
    expect(invited.status).toBe(201);
    await expect.poll(() => smtp.messagesTo(member.email).length, { timeout: 10_000 }).toBe(1);
    const mailed = tokenIn(smtp.messagesTo(member.email).at(-1)!, 'mw_invite_');
    recorder.add(mailed);
    const password = 'Fresh-Account-Harbor-73!';
    recorder.add(password);
    const accepted = await call(t, recorder, 'POST', '/api/v1/auth/invitations/accept', {
      body: { token: mailed, name: 'Returning Member', password },
    });
    expect(accepted.status).toBe(201);
    expect(accepted.body.newAccount).toBe(true);
    expect(accepted.body.userId).not.toBe(member.id);
    const newLogin = await signIn(t, recorder, member.email, password);
    expect(newLogin.status).toBe(200);
  });

  it('sweep deletes invitations to the email', async () => {
    const member = await createUser(t, recorder, { role: 'member', orgId });
    // An owner of another organization, which the member does not belong to, invites the
    // member's email there, and also invites someone else.
    const other = await createUser(t, recorder, { role: 'owner' });
    const otherLogin = await signIn(t, recorder, other.email, other.password);
    expect(otherLogin.status).toBe(200);
    const otherToken = (await enrollTotp(t, recorder, otherLogin.body.token as string)).token;
    const invite = (email: string) =>
      call(t, recorder, 'POST', `/api/v1/organizations/${other.orgId}/invitations`, {
        token: otherToken,
        body: { email, role: 'member' },
      });
    const toMember = await invite(member.email);
    expect(toMember.status).toBe(201);
    const bystanderEmail = `bystander-${Date.now()}@example.com`;
    const toBystander = await invite(bystanderEmail);
    expect(toBystander.status).toBe(201);
    const openInvitations = async () =>
      (
        await t.owner.query<{ id: string }>(
          `SELECT id FROM user_invitations
            WHERE org_id = $1 AND accepted_at IS NULL ORDER BY created_at`,
          [other.orgId],
        )
      ).rows.map((row) => row.id);
    expect(await openInvitations()).toHaveLength(2);

    const now = new Date();
    await schedule(member.id, now);
    // Only the sweep deletes the invitation, not the scheduling.
    expect(await openInvitations()).toHaveLength(2);
    const late = new Date(now.getTime() + 8 * DAY_MS);
    const swept = await sweepDueDeletions(hierarchyAt(late), silent, {
      subjectErasure: { db: t.owner, audit: noAudit },
      clock: () => late,
    });
    expect(swept.subjects.map((subject) => subject.subjectId)).toContain(`user:${member.id}`);

    const remaining = await openInvitations();
    expect(remaining).toHaveLength(1);
    expect(remaining).not.toContain(toMember.body.id);
    expect(remaining).toContain(toBystander.body.id);
  });

  it('cancel keeps an administrator-disabled account disabled', async () => {
    const member = await createUser(t, recorder, { role: 'member', orgId });
    await t.owner.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [member.id]);
    await schedule(member.id);
    expect(await userRow(member.id)).toMatchObject({ status: 'disabled', erasure_disabled: false });
    await cancel(member.id);
    expect(await userRow(member.id)).toMatchObject({ status: 'disabled', erasure_disabled: false });
  });

  it('TOTP enrollment under scheduled key returns 409', async () => {
    const member = await createUser(t, recorder, { role: 'member', orgId });
    const login = await signIn(t, recorder, member.email, member.password);
    expect(login.status).toBe(200);
    // Only the user's data key is scheduled, as `keys schedule-deletion` does, so the account
    // stays active and the enrollment reaches the encryption.
    const dataKeys = await keys.store.findSubjectDataKeys(`user:${member.id}`);
    expect(dataKeys).toHaveLength(1);
    await keys.hierarchy.scheduleDeletion(dataKeys[0]!.keyId, { actor: 'test', waitingDays: 7 });
    // A protection with an empty key cache acts as the server after a restart, which reads the
    // scheduled state at once.
    const hierarchy = hierarchyAt(new Date());
    const fresh = new UserFieldProtection(new FieldCipher(hierarchy), hierarchy);
    installUserFieldProtection(fresh);
    try {
      const begin = await call(t, recorder, 'POST', '/api/v1/auth/mfa/totp', {
        token: login.body.token as string,
        body: {},
      });
      expect(begin.status).toBe(409);
      expect(begin.body.code).toBe('conflict');
      expect(JSON.stringify(begin.body)).toMatch(/being erased/);
    } finally {
      uninstallUserFieldProtection(fresh);
    }
  });

  it('tampered TOTP secret fails like a wrong code', async () => {
    const member = await createUser(t, recorder, { role: 'member', orgId });
    const first = await signIn(t, recorder, member.email, member.password);
    const { secret } = await enrollTotp(t, recorder, first.body.token as string);

    const login = await signIn(t, recorder, member.email, member.password);
    expect(login.status).toBe(200);
    const challengeToken = login.body.challengeToken as string;
    expect(challengeToken).toMatch(/^mw_mfa_/);
    const wrong = await call(t, recorder, 'POST', '/api/v1/auth/mfa/challenge', {
      body: { challengeToken, code: codeAt(secret) === '000000' ? '111111' : '000000' },
    });
    expect(wrong.status).toBe(401);

    // Flip one character in the middle of the ciphertext, so its authentication tag fails.
    const stored = await t.owner.query<{ sealed: string }>(
      'SELECT secret_sealed AS sealed FROM user_totp_factors WHERE user_id = $1',
      [member.id],
    );
    const sealed = stored.rows[0]!.sealed;
    const middle = Math.floor(sealed.length / 2);
    const flipped = sealed[middle] === 'A' ? 'B' : 'A';
    const tampered = `${sealed.slice(0, middle)}${flipped}${sealed.slice(middle + 1)}`;
    await t.owner.query('UPDATE user_totp_factors SET secret_sealed = $2 WHERE user_id = $1', [
      member.id,
      tampered,
    ]);

    const rejected = await call(t, recorder, 'POST', '/api/v1/auth/mfa/challenge', {
      body: { challengeToken, code: codeAt(secret) },
    });
    expect(errorShape(rejected)).toEqual(errorShape(wrong));
    const failures = (await auditRows(t, 'user.mfa_challenge_failed'))
      .filter((row) => row.actor_id === member.id)
      .map((row) => row.metadata.reason);
    expect(failures).toEqual(['wrong_code', 'totp_secret_unreadable']);
    const serverErrors = t.logLines.filter((line) => line.includes('"statusCode":500'));
    expect(serverErrors).toEqual([]);
  });

  it('leaks no secret', async () => {
    await expectNoSecretLeaks(t, recorder);
  });
});
