import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { base32Encode } from '../../src/application/mfa/totp.js';
import {
  call,
  createUser,
  enrollTotp,
  SecretRecorder,
  signIn,
} from '../application/identity-api.js';
import { SmtpCapture, tokenIn } from '../support/smtp-capture.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const run = promisify(execFile);

const ORG_PROVIDER_KEY = 'sk-ant-dump-test-org-key-Q7w9E2r4T6y8';
const INVITEES = [
  { email: 'dana.dump@example.net', name: 'Dana Dumpling', phone: '+44 20 7946 0958' },
  { email: 'eli.export@example.net', name: 'Eli Exporter', phone: '+1 (415) 555-0142' },
];
const ADMIN = { email: 'ada.admin-dump@example.net' };

let t: TestServer;
let smtp: SmtpCapture;
const recorder = new SecretRecorder();
let dump: string;
const totpSecrets: Buffer[] = [];

/** Runs pg_dump as the superuser over the whole test database and returns the SQL text. */
async function pgDump(url: string): Promise<string> {
  const { stdout } = await run('pg_dump', ['--dbname', url, '--no-owner'], {
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
}

/** Invites `email` into the organization and returns the token from the mail. */
async function inviteAndAccept(
  adminToken: string,
  person: (typeof INVITEES)[number],
): Promise<void> {
  const invited = await call(t, recorder, 'POST', `/api/v1/organizations/${t.boot.orgId}/invitations`, {
    token: adminToken,
    body: { email: person.email, role: 'member' },
  });
  expect(invited.status).toBe(201);
  await vi.waitFor(() => expect(smtp.messagesTo(person.email)).toHaveLength(1), {
    timeout: 10_000,
  });
  const token = tokenIn(smtp.messagesTo(person.email).at(-1)!, 'mw_invite_');
  recorder.add(token);
  const password = `Dump-Test-${person.name.replace(' ', '-')}-9!`;
  recorder.add(password);
  const accepted = await call(t, recorder, 'POST', '/api/v1/auth/invitations/accept', {
    body: { token, name: person.name, phone: person.phone, password },
  });
  expect(accepted.status).toBe(201);
  const login = await signIn(t, recorder, person.email, password);
  expect(login.status).toBe(200);
  const enrolled = await enrollTotp(t, recorder, login.body.token as string);
  totpSecrets.push(enrolled.secret);
}

beforeAll(async () => {
  smtp = new SmtpCapture();
  const port = await smtp.start();
  t = await startTestServer({
    env: {
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      SMTP_TLS: 'none',
      MAIL_LINK_BASE_URL: 'https://console.example.com',
    },
  });

  // An admin of the bootstrapped organization, created through the repository.
  const admin = await createUser(t, recorder, {
    role: 'admin',
    orgId: t.boot.orgId,
    email: ADMIN.email,
  });
  const adminLogin = await signIn(t, recorder, admin.email, admin.password);
  expect(adminLogin.status).toBe(200);
  const adminSession = await enrollTotp(t, recorder, adminLogin.body.token as string);
  totpSecrets.push(adminSession.secret);

  for (const person of INVITEES) await inviteAndAccept(adminSession.token, person);

  // Owners manage provider keys, and the bootstrap owner signs in with its one-time password.
  const ownerLogin = await signIn(t, recorder, t.boot.adminEmail, t.boot.adminPassword);
  expect(ownerLogin.status).toBe(200);
  const newPassword = 'Owner-Dump-Test-Password-7!';
  recorder.add(newPassword);
  const changed = await call(t, recorder, 'POST', '/api/v1/auth/password', {
    token: ownerLogin.body.token as string,
    body: { currentPassword: t.boot.adminPassword, newPassword },
  });
  expect(changed.status).toBe(204);
  const ownerRelogin = await signIn(t, recorder, t.boot.adminEmail, newPassword);
  expect(ownerRelogin.status).toBe(200);
  const owner = await enrollTotp(t, recorder, ownerRelogin.body.token as string);
  totpSecrets.push(owner.secret);
  const stored = await call(
    t,
    recorder,
    'PUT',
    `/api/v1/organizations/${t.boot.orgId}/provider-keys/anthropic`,
    { token: owner.token, body: { apiKey: ORG_PROVIDER_KEY } },
  );
  expect(stored.status).toBe(201);

  const anthropic = new Anthropic({ apiKey: t.boot.apiKey, baseURL: t.url, maxRetries: 0 });
  for (let i = 0; i < 3; i += 1) {
    await anthropic.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: `Hello number ${i}` }],
    });
  }
  // The organization's key reached the provider, so it was stored and decrypted.
  expect(t.fake.received.at(-1)?.headers['x-api-key']).toBe(ORG_PROVIDER_KEY);

  dump = await pgDump(t.config.DATABASE_URL as string);
}, 120_000);

afterAll(async () => {
  await t?.stop();
  await smtp?.stop();
});

/** Every spelling of `value` that must not appear in the dump. */
function spellings(value: string): string[] {
  return [value, value.toLowerCase(), value.toUpperCase()];
}

describe('database dump', () => {
  it('contains the realistic run', () => {
    // The dump is of the right database: the run's rows are in it, in encrypted form.
    expect(dump).toContain('COPY public.users');
    expect(dump).toContain('COPY public.audit_logs');
    expect(dump).toContain('COPY public.organization_provider_keys');
    expect(dump).toContain('COPY public.user_totp_factors');
    expect(dump).toMatch(/mw1\.dk_[A-Za-z0-9_-]{16}\.1\./);
  });

  it('has no plaintext email', () => {
    const emails = [t.boot.adminEmail, ADMIN.email, ...INVITEES.map((person) => person.email)];
    for (const email of emails) {
      for (const spelling of spellings(email)) expect(dump).not.toContain(spelling);
    }
  });

  it('has no plaintext name', () => {
    for (const name of ['Olivia Owner', ...INVITEES.map((person) => person.name)]) {
      for (const spelling of spellings(name)) expect(dump).not.toContain(spelling);
    }
  });

  it('has no plaintext phone', () => {
    for (const { phone } of INVITEES) {
      expect(dump).not.toContain(phone);
      expect(dump).not.toContain(phone.replace(/[^0-9+]/g, ''));
    }
  });

  it('has no provider key', () => {
    expect(dump).not.toContain(ORG_PROVIDER_KEY);
    expect(dump).not.toContain(ORG_PROVIDER_KEY.slice(0, 20));
  });

  it('has no TOTP secret', () => {
    expect(totpSecrets).toHaveLength(INVITEES.length + 2);
    for (const secret of totpSecrets) {
      expect(dump).not.toContain(base32Encode(secret));
      expect(dump).not.toContain(secret.toString('hex'));
      expect(dump).not.toContain(secret.toString('base64'));
      expect(dump).not.toContain(secret.toString('base64url'));
    }
  });
});
