import { passwordPolicyExample } from './passwords.js';
import type { TestServer } from './test-server.js';

/** Signs in as the bootstrap owner, changing the one-time password, and returns a token. */
export async function ownerSession(t: TestServer): Promise<string> {
  const login = async (password: string) => {
    const response = await fetch(`${t.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: t.boot.adminEmail, password }),
    });
    return (await response.json()) as { token: string };
  };
  const first = await login(t.boot.adminPassword);
  const change = await fetch(`${t.url}/api/v1/auth/password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${first.token}` },
    body: JSON.stringify({
      currentPassword: t.boot.adminPassword,
      newPassword: passwordPolicyExample,
    }),
  });
  if (change.status !== 204) throw new Error(`password change failed with ${change.status}`);
  return (await login(passwordPolicyExample)).token;
}
