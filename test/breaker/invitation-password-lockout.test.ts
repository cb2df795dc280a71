import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SmtpCapture, tokenIn } from '../support/smtp-capture.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  auditRows,
  call,
  createUser,
  enrollTotp,
  expectError,
  SecretRecorder,
  signIn,
} from '../application/identity-api.js';

const WRONG_PASSWORD = 'Wrong-Guess-Pa55word!';

// Accepting an invitation for an email that already has an account requires that account's
// password; the holder of the invitation must not be able to guess it without limit.
describe('invitation acceptance with an existing account', () => {
  let t: TestServer;
  let smtp: SmtpCapture;
  const recorder = new SecretRecorder();
  recorder.add(WRONG_PASSWORD);

  beforeAll(async () => {
    smtp = new SmtpCapture();
    const port = await smtp.start();
    t = await startTestServer({
      env: {
        SMTP_URL: `smtp://127.0.0.1:${port}`,
        SMTP_TLS: 'none',
        LOGIN_LOCKOUT_ACCOUNT_FAILURES: '3',
        LOGIN_LOCKOUT_IP_FAILURES: '1000',
        LOGIN_LOCKOUT_BASE_MS: '60000',
      },
    });
  });

  afterAll(async () => {
    await t?.stop();
    await smtp?.stop();
  });

  it('counts wrong passwords towards the lockout', async () => {
    const owner = await createUser(t, recorder, { role: 'owner' });
    const ownerLogin = await signIn(t, recorder, owner.email, owner.password);
    const ownerToken = (await enrollTotp(t, recorder, ownerLogin.body.token as string)).token;
    const invitee = await createUser(t, recorder, { role: 'member' });
    const invited = await call(
      t,
      recorder,
      'POST',
      `/api/v1/organizations/${owner.orgId}/invitations`,
      {
        token: ownerToken,
        body: { email: invitee.email, role: 'viewer' },
      },
    );
    expect(invited.status).toBe(201);
    await expect.poll(() => smtp.messagesTo(invitee.email).length, { timeout: 10_000 }).toBe(1);
    const token = tokenIn(smtp.messagesTo(invitee.email)[0]!, 'mw_invite_');
    recorder.add(token);
    const accept = (password: string) =>
      call(t, recorder, 'POST', '/api/v1/auth/invitations/accept', { body: { token, password } });

    for (let n = 1; n <= 3; n++) {
      const wrong = await accept(`${WRONG_PASSWORD}${n}`);
      expectError(wrong, 400, 'validation_failed');
      expect((wrong.body.details as { field: string }[])[0]?.field).toBe('password');
    }

    // Locked now: the right password is not checked, here or at sign-in.
    expectError(await accept(invitee.password), 429, 'rate_limited');
    expectError(await signIn(t, recorder, invitee.email, invitee.password), 429, 'rate_limited');
    const failures = (await auditRows(t, 'user.login_failed')).filter(
      (row) => row.actor_id === invitee.id && row.metadata.check === 'invitation',
    );
    expect(failures).toHaveLength(3);
  });
});
