import { base32Decode, totp } from '../../src/application/mfa/totp.js';
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

  const enroll = await postJson(t, '/api/v1/auth/mfa/totp', {}, token);
  if (enroll.status !== 201) throw new Error(`TOTP enrollment failed with ${enroll.status}`);
  const { secret } = (await enroll.json()) as { secret: string };
  const code = totp(base32Decode(secret), Date.now() / 1000);
  const confirm = await postJson(t, '/api/v1/auth/mfa/totp/confirm', { code }, token);
  if (confirm.status !== 200) throw new Error(`TOTP confirmation failed with ${confirm.status}`);
  return ((await confirm.json()) as { token: string }).token;
}
