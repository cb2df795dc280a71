import { base32Decode, totp } from '../../src/application/mfa/totp.js';
import { findUserIdsByEmail } from '../../src/tenancy/users/user.repository.js';
import { passwordPolicyExample } from './passwords.js';
import type { TestServer } from './test-server.js';

async function postJson(
  t: TestServer,
  path: string,
  body: unknown,
  token?: string,
): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`${t.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
}

/** TOTP secrets of the users enrolled by `enrollTotpForTest`, by server and email. */
const totpSecrets = new WeakMap<TestServer, Map<string, Buffer>>();

/**
 * Enrolls TOTP for the signed-in user of `token` and returns the replacement session token.
 * The secret is kept, so `completeMfaSignIn` can complete that user's MFA challenges.
 */
export async function enrollTotpForTest(
  t: TestServer,
  token: string,
  email: string,
): Promise<string> {
  const enroll = await postJson(t, '/api/v1/auth/mfa/totp', {}, token);
  if (enroll.status !== 201) throw new Error(`TOTP enrollment failed with ${enroll.status}`);
  const secret = base32Decode(((await enroll.json()) as { secret: string }).secret);
  const code = totp(secret, Date.now() / 1000);
  const confirm = await postJson(t, '/api/v1/auth/mfa/totp/confirm', { code }, token);
  if (confirm.status !== 200) throw new Error(`TOTP confirmation failed with ${confirm.status}`);
  const secrets = totpSecrets.get(t) ?? new Map<string, Buffer>();
  secrets.set(email.toLowerCase(), secret);
  totpSecrets.set(t, secrets);
  return ((await confirm.json()) as { token: string }).token;
}

/**
 * Completes the MFA challenge of a user enrolled by `enrollTotpForTest` and returns the session
 * token. Each time step is accepted once, so the user's last used step is cleared in the
 * database first, which lets tests sign in more than once every 30 seconds.
 */
export async function completeMfaSignIn(
  t: TestServer,
  email: string,
  challengeToken: string,
): Promise<Response> {
  const secret = totpSecrets.get(t)?.get(email.toLowerCase());
  if (!secret) throw new Error(`no TOTP secret recorded for ${email}`);
  await t.server.db.query(
    'UPDATE user_totp_factors SET last_used_step = NULL WHERE user_id = ANY($1::uuid[])',
    [await findUserIdsByEmail(t.server.db, email)],
  );
  const code = totp(secret, Date.now() / 1000);
  return postJson(t, '/api/v1/auth/mfa/challenge', { challengeToken, code });
}

/**
 * Signs in as the bootstrap owner, changes the one-time password and enrolls TOTP (owners
 * must use a second factor), and returns the session token.
 */
export async function ownerSession(t: TestServer): Promise<string> {
  const login = async (password: string) => {
    const response = await postJson(t, '/api/v1/auth/login', {
      email: t.boot.adminEmail,
      password,
    });
    return (await response.json()) as { token: string };
  };
  const first = await login(t.boot.adminPassword);
  const change = await postJson(
    t,
    '/api/v1/auth/password',
    { currentPassword: t.boot.adminPassword, newPassword: passwordPolicyExample },
    first.token,
  );
  if (change.status !== 204) throw new Error(`password change failed with ${change.status}`);
  const token = (await login(passwordPolicyExample)).token;
  return enrollTotpForTest(t, token, t.boot.adminEmail);
}
