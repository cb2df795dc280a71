import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  openDataProtection,
  type DataProtection,
} from '../../src/data/key-store/data-protection.js';
import {
  UserFieldProtection,
  userKeyOwner,
} from '../../src/data/personal-data/user-field-protection.js';
import {
  installUserFieldProtection,
  uninstallUserFieldProtection,
} from '../../src/data/personal-data/user-field-registry.js';
import { passwordPolicyExample } from '../support/passwords.js';
import { startMailTestServer } from '../support/mail-test-server.js';
import { tokenIn, type SmtpCapture } from '../support/smtp-capture.js';
import type { TestServer } from '../support/test-server.js';
import {
  call,
  createUser,
  enrollTotp,
  expectNoSecretLeaks,
  SecretRecorder,
  signIn,
} from './identity-api.js';

let t: TestServer;
let smtp: SmtpCapture;
const recorder = new SecretRecorder();
let orgId: string;
let ownerToken: string;

beforeAll(async () => {
  ({ t, smtp } = await startMailTestServer());
  const owner = await createUser(t, recorder, { role: 'owner' });
  orgId = owner.orgId;
  const login = await signIn(t, recorder, owner.email, owner.password);
  expect(login.status).toBe(200);
  ownerToken = (await enrollTotp(t, recorder, login.body.token as string)).token;
});

afterAll(async () => {
  await expectNoSecretLeaks(t, recorder);
  await t?.stop();
  await smtp?.stop();
});

/** Changes one character in the middle of a stored ciphertext, as an attacker with disk access would. */
function tamper(ciphertext: string): string {
  const at = Math.floor(ciphertext.length * 0.75);
  const replacement = ciphertext[at] === 'A' ? 'B' : 'A';
  return `${ciphertext.slice(0, at)}${replacement}${ciphertext.slice(at + 1)}`;
}

async function tamperUserColumn(userId: string, column: 'email_encrypted' | 'name_encrypted') {
  const stored = await t.owner.query<{ value: string }>(
    `SELECT ${column} AS value FROM users WHERE id = $1`,
    [userId],
  );
  const original = stored.rows[0]?.value ?? '';
  await t.owner.query(`UPDATE users SET ${column} = $2 WHERE id = $1`, [userId, tamper(original)]);
  return original;
}

/** Error body of a failed call without its request id, which differs on every call. */
function bodyWithoutRequestId(body: Record<string, unknown>): Record<string, unknown> {
  const { requestId: _requestId, ...rest } = body;
  return rest;
}

const WRONG_PASSWORD = 'Wrong-Guess-Of-A-Password-1';

describe('tampered user row', () => {
  let user: { id: string; email: string; password: string };

  beforeAll(async () => {
    user = await createUser(t, recorder, { role: 'member', orgId });
    await tamperUserColumn(user.id, 'email_encrypted');
  });

  it('fails sign-in like a wrong password', async () => {
    const other = await createUser(t, recorder, { role: 'member', orgId });
    const wrong = await signIn(t, recorder, other.email, WRONG_PASSWORD);
    expect(wrong.status).toBe(401);

    const tampered = await signIn(t, recorder, user.email, user.password);
    expect(tampered.status).toBe(401);
    expect(bodyWithoutRequestId(tampered.body)).toEqual(bodyWithoutRequestId(wrong.body));
  });

  it('logs the failure without the email', () => {
    const failures = t.logLines.filter(
      (line) => line.includes('failed to decrypt') && line.includes(user.id),
    );
    expect(failures.length).toBeGreaterThan(0);
    for (const line of failures) {
      expect(line).toContain('email_encrypted');
      expect(line).not.toContain(user.email);
    }
  });

  it('records a failed sign-in security event', async () => {
    const reasons = async () => {
      const events = await t.owner.query<{ reason: string }>(
        `SELECT details->>'reason' AS reason FROM security_events
          WHERE kind = 'login_failed' AND details->>'userId' = $1`,
        [user.id],
      );
      return events.rows.map((row) => row.reason);
    };
    await expect.poll(reasons, { timeout: 10_000 }).toContain('user_unreadable');
  });

  it('lists the member with null fields', async () => {
    const listed = await call(t, recorder, 'GET', `/api/v1/organizations/${orgId}/members`, {
      token: ownerToken,
    });
    expect(listed.status).toBe(200);
    const members = listed.body.data as { userId: string; email: string | null }[];
    const member = members.find((entry) => entry.userId === user.id);
    expect(member).toBeDefined();
    expect(member?.email).toBeNull();
    expect(members.filter((entry) => entry.email !== null).length).toBeGreaterThan(0);
  });

  it('treats a reset request as unknown email', async () => {
    const unknown = await call(t, recorder, 'POST', '/api/v1/auth/password/reset', {
      body: { email: 'nobody-here@example.com' },
    });
    const tampered = await call(t, recorder, 'POST', '/api/v1/auth/password/reset', {
      body: { email: user.email },
    });
    expect(tampered.status).toBe(unknown.status);
    expect(tampered.body).toEqual(unknown.body);
  });
});

describe('password reset of a tampered user', () => {
  it('rejects the token', async () => {
    const user = await createUser(t, recorder, { role: 'member', orgId });
    const requested = await call(t, recorder, 'POST', '/api/v1/auth/password/reset', {
      body: { email: user.email },
    });
    expect(requested.status).toBe(202);
    await expect.poll(() => smtp.messagesTo(user.email).length, { timeout: 10_000 }).toBe(1);
    const token = tokenIn(smtp.messagesTo(user.email)[0]!, 'mw_reset_');
    recorder.add(token);
    await tamperUserColumn(user.id, 'name_encrypted');

    const confirmed = await call(t, recorder, 'POST', '/api/v1/auth/password/reset/confirm', {
      body: { token, newPassword: passwordPolicyExample },
    });
    expect(confirmed.status).toBe(400);
    expect(confirmed.body.code).toBe('validation_failed');
  });
});

describe('invitation with a tampered email', () => {
  it('rejects acceptance', async () => {
    const email = `tampered-invitee-${Date.now()}@example.com`;
    const created = await call(t, recorder, 'POST', `/api/v1/organizations/${orgId}/invitations`, {
      token: ownerToken,
      body: { email, role: 'member' },
    });
    expect(created.status).toBe(201);
    await expect.poll(() => smtp.messagesTo(email).length, { timeout: 10_000 }).toBe(1);
    const token = tokenIn(smtp.messagesTo(email)[0]!, 'mw_invite_');
    recorder.add(token);
    const stored = await t.owner.query<{ value: string }>(
      'SELECT email_encrypted AS value FROM user_invitations WHERE id = $1',
      [created.body.id],
    );
    await t.owner.query('UPDATE user_invitations SET email_encrypted = $2 WHERE id = $1', [
      created.body.id,
      tamper(stored.rows[0]?.value ?? ''),
    ]);

    const listed = await call(t, recorder, 'GET', `/api/v1/organizations/${orgId}/invitations`, {
      token: ownerToken,
    });
    expect(listed.status).toBe(200);
    const invitations = listed.body.data as { id: string; email: string | null }[];
    expect(invitations.find((entry) => entry.id === created.body.id)?.email).toBeNull();

    const accepted = await call(t, recorder, 'POST', '/api/v1/auth/invitations/accept', {
      body: { token, name: 'Tampered Invitee', password: passwordPolicyExample },
    });
    expect(accepted.status).toBe(400);
    expect(accepted.body.code).toBe('validation_failed');
  });
});

describe('erased user', () => {
  let keys: DataProtection;
  let erased: { id: string; email: string; password: string };
  let survivor: { id: string; email: string; password: string };

  beforeAll(async () => {
    // A second key hierarchy on the same key store writes and erases the user, so the server's
    // key cache never keeps the erased user's key.
    keys = await openDataProtection(t.config, t.owner, pino({ level: 'silent' }), 'test');
    const writer = new UserFieldProtection(keys.fieldCipher, keys.hierarchy);
    installUserFieldProtection(writer);
    try {
      erased = await createUser(t, recorder, { role: 'member', orgId });
    } finally {
      uninstallUserFieldProtection(writer);
    }
    survivor = await createUser(t, recorder, { role: 'member', orgId });

    const keyId = await keys.hierarchy.dataKeyId(userKeyOwner(erased.id), 'test');
    await keys.hierarchy.scheduleDeletion(keyId, { actor: 'test', waitingDays: 7 });
    await t.owner.query(
      `UPDATE encryption_key_versions SET deletion_date = now() - interval '1 day'
        WHERE key_id = $1`,
      [keyId],
    );
    expect(await keys.hierarchy.destroyDueKeys('test')).toEqual([{ keyId, version: 1 }]);
  });

  afterAll(async () => {
    await keys?.close();
  });

  it('stores two users under different keys', async () => {
    const stored = await t.owner.query<{ id: string; value: string }>(
      'SELECT id, email_encrypted AS value FROM users WHERE id = ANY($1::uuid[])',
      [[erased.id, survivor.id]],
    );
    const keyIds = stored.rows.map((row) => row.value.split('.')[1]);
    expect(keyIds).toHaveLength(2);
    expect(keyIds[0]).not.toBe(keyIds[1]);
  });

  it('fails sign-in closed with 401', async () => {
    const wrong = await signIn(t, recorder, survivor.email, WRONG_PASSWORD);
    const signedIn = await signIn(t, recorder, erased.email, erased.password);
    expect(signedIn.status).toBe(401);
    expect(bodyWithoutRequestId(signedIn.body)).toEqual(bodyWithoutRequestId(wrong.body));
  });

  it('keeps the other user signing in', async () => {
    const signedIn = await signIn(t, recorder, survivor.email, survivor.password);
    expect(signedIn.status).toBe(200);
  });

  it('rejects an invitation of the erased email', async () => {
    const created = await call(t, recorder, 'POST', `/api/v1/organizations/${orgId}/invitations`, {
      token: ownerToken,
      body: { email: erased.email, role: 'member' },
    });
    expect(created.status).toBe(201);
    await expect.poll(() => smtp.messagesTo(erased.email).length, { timeout: 10_000 }).toBe(1);
    const token = tokenIn(smtp.messagesTo(erased.email)[0]!, 'mw_invite_');
    recorder.add(token);

    const accepted = await call(t, recorder, 'POST', '/api/v1/auth/invitations/accept', {
      body: { token, name: 'Erased Again', password: passwordPolicyExample },
    });
    expect(accepted.status).toBe(400);
    expect(accepted.body.code).toBe('validation_failed');
  });
});
