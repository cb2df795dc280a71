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

beforeAll(async () => {
  t = await startTestServer();
  const login = await call(t, new SecretRecorder(), 'POST', '/api/v1/auth/login', {
    body: { email: t.boot.adminEmail, password: t.boot.adminPassword, sessionType: 'bearer' },
    headers: { 'user-agent': USER_AGENT },
  });
  expect(login.status).toBe(200);
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

  // Known defect: admin_sessions stores each session's client IP address (inet) and user agent
  // in plaintext, so a dump shows where and with which browser every administrator signed in.
  // Remove `.fails` once both are encrypted like the other personal fields.
  it.fails('show no user agent', () => {
    expect(sessionRows.join('\n')).not.toContain('Quokka');
  });

  it.fails('show no client IP address', () => {
    expect(sessionRows.join('\n')).not.toMatch(/\t127\.0\.0\.1\t/);
  });
});
