import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { passwordPolicyExample } from '../support/passwords.js';
import { SmtpCapture, tokenIn } from '../support/smtp-capture.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  auditRows,
  call,
  createUser,
  expectError,
  expectNoSecretLeaks,
  SecretRecorder,
  signIn,
} from './identity-api.js';

let t: TestServer;
let smtp: SmtpCapture;
const recorder = new SecretRecorder();

beforeAll(async () => {
  smtp = new SmtpCapture();
  const port = await smtp.start();
  t = await startTestServer({
    env: { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(port), SMTP_TLS: 'none' },
  });
});

afterAll(async () => {
  await t?.stop();
  await smtp?.stop();
});

const requestReset = (email: string) =>
  call(t, recorder, 'POST', '/api/v1/auth/password/reset', { body: { email } });

const confirmReset = (token: string, newPassword: string) =>
  call(t, recorder, 'POST', '/api/v1/auth/password/reset/confirm', {
    body: { token, newPassword },
  });

/** Requests a reset for `email` and returns the token from the delivered mail. */
async function mailedToken(email: string): Promise<string> {
  const before = smtp.messagesTo(email).length;
  const response = await requestReset(email);
  expect(response.status).toBe(202);
  await expect.poll(() => smtp.messagesTo(email).length, { timeout: 10_000 }).toBe(before + 1);
  const token = tokenIn(smtp.messagesTo(email).at(-1)!, 'mw_reset_');
  recorder.add(token);
  return token;
}

describe('reset request', () => {
  it('mails a single token to a known email', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const response = await requestReset(user.email.toUpperCase());
    expect(response.status).toBe(202);
    const mail = await smtp.waitFor(user.email);
    expect(mail.headers.subject).toBe('Reset your MindWeave password');
    const token = tokenIn(mail, 'mw_reset_');
    recorder.add(token);
    // 256 random bits, base64url-encoded after the prefix.
    expect(Buffer.from(token.slice('mw_reset_'.length), 'base64url')).toHaveLength(32);
    const rows = (await auditRows(t, 'user.password_reset_requested')).filter(
      (row) => row.actor_id === user.id,
    );
    expect(rows.at(-1)?.metadata).toMatchObject({ mailSent: true });
  });

  it('answers the same for an unknown email', async () => {
    const known = await createUser(t, recorder, { role: 'member' });
    const unknownEmail = `nobody-${Date.now()}@example.com`;
    const unknown = await requestReset(unknownEmail);
    const knownResponse = await requestReset(known.email);
    expect(unknown.status).toBe(202);
    expect(unknown.body).toEqual(knownResponse.body);
    await smtp.waitFor(known.email);
    expect(smtp.messagesTo(unknownEmail)).toHaveLength(0);
    const rows = await auditRows(t, 'user.password_reset_requested');
    expect(rows.at(-2)).toMatchObject({
      actor_type: 'system',
      metadata: { mailSent: false, reason: 'unknown_email' },
    });
  });

  it('stores only the token hash', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const token = await mailedToken(user.email);
    const stored = await t.server.db.query<{ row: string }>(
      'SELECT row_to_json(p)::text AS row FROM password_reset_tokens p WHERE p.user_id = $1',
      [user.id],
    );
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]?.row).not.toContain(token.slice('mw_reset_'.length));
  });

  it('stops mailing after three requests', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    for (let i = 0; i < 3; i++) await mailedToken(user.email);
    const fourth = await requestReset(user.email);
    expect(fourth.status).toBe(202);
    const rows = (await auditRows(t, 'user.password_reset_requested')).filter(
      (row) => row.actor_id === user.id,
    );
    expect(rows.at(-1)?.metadata).toEqual({ mailSent: false, reason: 'too_many_requests' });
    expect(smtp.messagesTo(user.email)).toHaveLength(3);
  });

  it('rejects unknown fields and bad emails', async () => {
    expectError(
      await call(t, recorder, 'POST', '/api/v1/auth/password/reset', {
        body: { email: 'a@example.com', admin: true },
      }),
      400,
      'validation_failed',
    );
    const bad = await requestReset('not-an-email');
    expectError(bad, 400, 'validation_failed');
    expect(bad.body.details).toEqual([{ field: 'email', message: 'Invalid email format' }]);
  });
});

describe('reset completion', () => {
  it('sets the password and revokes every session', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const before = await signIn(t, recorder, user.email, user.password);
    expect(before.status).toBe(200);
    const token = await mailedToken(user.email);

    const done = await confirmReset(token, passwordPolicyExample);
    expect(done.status).toBe(204);

    const me = await call(t, recorder, 'GET', '/api/v1/auth/me', {
      token: before.body.token as string,
    });
    expectError(me, 401, 'unauthorized');
    expectError(await signIn(t, recorder, user.email, user.password), 401, 'unauthorized');
    expect((await signIn(t, recorder, user.email, passwordPolicyExample)).status).toBe(200);

    const rows = (await auditRows(t, 'user.password_reset')).filter(
      (row) => row.actor_id === user.id,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.metadata).toMatchObject({ sessionsRevoked: 1 });
  });

  it('accepts a token once', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const token = await mailedToken(user.email);
    expect((await confirmReset(token, passwordPolicyExample)).status).toBe(204);
    const again = await confirmReset(token, 'Another-Sturdy-Pass-77');
    expectError(again, 400, 'validation_failed');
    expect(again.body.details).toEqual([
      { field: 'token', message: 'Reset token is invalid, expired or already used' },
    ]);
  });

  it('voids the other open tokens of the user', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const first = await mailedToken(user.email);
    const second = await mailedToken(user.email);
    expect(first).not.toBe(second);
    expect((await confirmReset(second, passwordPolicyExample)).status).toBe(204);
    expectError(await confirmReset(first, 'Another-Sturdy-Pass-77'), 400, 'validation_failed');
  });

  it('rejects an expired token', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const token = await mailedToken(user.email);
    await t.server.db.query(
      `UPDATE password_reset_tokens SET expires_at = now() - interval '1 second'
        WHERE user_id = $1`,
      [user.id],
    );
    expectError(await confirmReset(token, passwordPolicyExample), 400, 'validation_failed');
    expect((await signIn(t, recorder, user.email, user.password)).status).toBe(200);
  });

  it('expires tokens after 30 minutes', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    await mailedToken(user.email);
    const row = await t.server.db.query<{ seconds: number }>(
      `SELECT extract(epoch FROM expires_at - created_at)::int AS seconds
         FROM password_reset_tokens WHERE user_id = $1`,
      [user.id],
    );
    // The expiry is computed in the server process and created_at in the database.
    expect(Math.abs((row.rows[0]?.seconds ?? 0) - 1800)).toBeLessThanOrEqual(5);
  });

  it('enforces the password policy and the breached list', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const token = await mailedToken(user.email);
    const weak = await confirmReset(token, 'short');
    expectError(weak, 400, 'validation_failed');
    expect((weak.body.details as { field: string }[])[0]?.field).toBe('newPassword');
    const breached = await confirmReset(token, 'Password123!');
    expectError(breached, 400, 'validation_failed');
    expect(breached.body.details).toEqual([
      {
        field: 'newPassword',
        message: 'Password is on a list of common breached passwords; choose another',
      },
    ]);
    // A rejected password does not use up the token.
    expect((await confirmReset(token, passwordPolicyExample)).status).toBe(204);
  });

  it('rejects malformed tokens and unknown fields', async () => {
    expectError(
      await confirmReset('mw_reset_short', passwordPolicyExample),
      400,
      'validation_failed',
    );
    expectError(
      await call(t, recorder, 'POST', '/api/v1/auth/password/reset/confirm', {
        body: { token: 'x', newPassword: passwordPolicyExample, userId: 'someone' },
      }),
      400,
      'validation_failed',
    );
  });
});

describe('reset secrets', () => {
  it('leak nowhere', async () => {
    await expectNoSecretLeaks(t, recorder);
  });
});
