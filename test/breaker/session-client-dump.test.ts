import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { call, SecretRecorder } from '../application/identity-api.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const run = promisify(execFile);

/** A browser user agent with a marker that appears nowhere else in the database. */
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) DumpProbe/7.3 Quokka';

let t: TestServer;
let sessionRows: string[];
let token: string;
let sessionId: string;
const recorder = new SecretRecorder();

interface ListedSession {
  id: string;
  ip: string | null;
  userAgent: string | null;
}

async function listSessions(): Promise<ListedSession[]> {
  const list = await call(t, recorder, 'GET', '/api/v1/auth/sessions', { token });
  expect(list.status).toBe(200);
  return list.body.sessions as ListedSession[];
}

beforeAll(async () => {
  t = await startTestServer();
  const login = await call(t, recorder, 'POST', '/api/v1/auth/login', {
    body: { email: t.boot.adminEmail, password: t.boot.adminPassword, sessionType: 'bearer' },
    headers: { 'user-agent': USER_AGENT },
  });
  expect(login.status).toBe(200);
  token = login.body.token as string;
  sessionId = login.body.sessionId as string;
  const { stdout } = await run('pg_dump', ['--dbname', t.config.DATABASE_URL as string], {
    maxBuffer: 256 * 1024 * 1024,
  });
  const start = stdout.indexOf('COPY public.admin_sessions (');
  expect(start).toBeGreaterThanOrEqual(0);
  const end = stdout.indexOf('\n\\.\n', start);
  sessionRows = stdout.slice(stdout.indexOf('\n', start) + 1, end).split('\n');
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe('admin sessions in a database dump', () => {
  it('contain the sign-in session', () => {
    expect(sessionRows).toHaveLength(1);
  });

  it('show no user agent', () => {
    expect(sessionRows.join('\n')).not.toContain('Quokka');
  });

  it('show no client IP address', () => {
    expect(sessionRows.join('\n')).not.toMatch(/\t127\.0\.0\.1\t/);
    expect(sessionRows.join('\n')).not.toContain('127.0.0.1');
  });

  it('contain mw1 ciphertexts for both values', async () => {
    const { rows } = await t.owner.query<{ ip: string; userAgent: string }>(
      `SELECT ip_encrypted AS ip, user_agent_encrypted AS "userAgent"
         FROM admin_sessions WHERE id = $1`,
      [sessionId],
    );
    expect(rows[0]?.ip).toMatch(/^mw1\./);
    expect(rows[0]?.userAgent).toMatch(/^mw1\./);
  });
});

describe('session list', () => {
  it('shows the decrypted client', async () => {
    const sessions = await listSessions();
    const current = sessions.find((session) => session.id === sessionId);
    expect(current?.userAgent).toBe(USER_AGENT);
    expect(current?.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });

  it('shows an undecryptable value as null', async () => {
    // The user agent ciphertext is bound to its column, so in the address column it fails
    // authentication, like a value whose key version was destroyed.
    await t.owner.query(
      `UPDATE admin_sessions SET ip_encrypted = user_agent_encrypted WHERE id = $1`,
      [sessionId],
    );
    const sessions = await listSessions();
    const current = sessions.find((session) => session.id === sessionId);
    expect(current?.ip).toBeNull();
    expect(current?.userAgent).toBe(USER_AGENT);
  });

  it('shows a session copied to another row as null', async () => {
    const second = await call(t, recorder, 'POST', '/api/v1/auth/login', {
      body: { email: t.boot.adminEmail, password: t.boot.adminPassword, sessionType: 'bearer' },
    });
    expect(second.status).toBe(200);
    await t.owner.query(
      `UPDATE admin_sessions SET user_agent_encrypted =
         (SELECT user_agent_encrypted FROM admin_sessions WHERE id = $1)
        WHERE id = $2`,
      [sessionId, second.body.sessionId],
    );
    const sessions = await listSessions();
    const copied = sessions.find((session) => session.id === second.body.sessionId);
    expect(copied?.userAgent).toBeNull();
  });
});
