import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_IDENTITY_SETTINGS } from '../../src/application/auth/identity-settings.js';
import { SessionClientCipher } from '../../src/application/auth/session-client.js';
import { SessionService } from '../../src/application/auth/session.service.js';
import type { Database } from '../../src/data/database/database.js';
import { openMemoryDatabase } from '../../src/data/database/embedded-database.js';
import { migrate } from '../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import {
  openDataProtection,
  type DataProtection,
} from '../../src/data/key-store/data-protection.js';
import type { RequestContext } from '../../src/http/request-context.js';
import { base32Decode } from '../../src/application/mfa/totp.js';
import { insertUser } from '../../src/tenancy/users/user.repository.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { call, codeAt, SecretRecorder } from './identity-api.js';

const logger = pino({ level: 'silent' });
const CONTEXT: RequestContext = {
  requestId: null,
  ip: '203.0.113.7',
  userAgent: 'Mozilla/5.0 SessionClientProbe/1.0',
};

let directory: string;
let db: Database;
let keys: DataProtection;
let sessions: SessionService;
let user: { id: string; email: string };

async function storedClient(id: string) {
  const result = await db.query<{ ip: string | null; userAgent: string | null }>(
    `SELECT ip_encrypted AS ip, user_agent_encrypted AS "userAgent"
       FROM admin_sessions WHERE id = $1`,
    [id],
  );
  return result.rows[0];
}

beforeAll(async () => {
  directory = await mkdtemp(path.join(tmpdir(), 'mindweave-session-client-'));
  db = await openMemoryDatabase();
  await migrate(db);
  await db.query(`SET ROLE ${APPLICATION_ROLE}`);
  keys = await openDataProtection(
    { MINDWEAVE_DATA_DIR: directory, KMS_MASTER_KEY_DIR: undefined },
    db,
    logger,
    'test',
  );
  sessions = new SessionService(
    db,
    DEFAULT_IDENTITY_SETTINGS,
    Date.now,
    new SessionClientCipher(keys.fieldCipher),
  );
  user = await insertUser(db, {
    email: 'session-client@example.org',
    name: 'Session Client',
    passwordHash: null,
    mustChangePassword: false,
  });
}, 120_000);

afterAll(async () => {
  await keys?.close();
  await db?.close();
  await rm(directory, { recursive: true, force: true });
});

describe('session client on embedded PostgreSQL', () => {
  it('prepared session stores ciphertexts', async () => {
    const prepared = await sessions.prepare(CONTEXT);
    const opened = await db.transaction((tx) =>
      sessions.open(tx, user, CONTEXT, { sessionType: 'bearer', mfaMethod: null, prepared }),
    );
    expect(opened.session.id).toBe(prepared.id);
    const stored = await storedClient(prepared.id);
    expect(stored?.ip).toMatch(/^mw1\./);
    expect(stored?.userAgent).toMatch(/^mw1\./);
    expect(JSON.stringify(stored)).not.toContain('203.0.113.7');
    expect(JSON.stringify(stored)).not.toContain('SessionClientProbe');
  });

  it('listing decrypts the client', async () => {
    const prepared = await sessions.prepare(CONTEXT);
    await db.transaction((tx) =>
      sessions.open(tx, user, CONTEXT, { sessionType: 'cookie', mfaMethod: null, prepared }),
    );
    const listed = (await sessions.listOpen(user.id)).find((view) => view.id === prepared.id);
    expect(listed?.ip).toBe(CONTEXT.ip);
    expect(listed?.userAgent).toBe(CONTEXT.userAgent);
  });

  it('unprepared session records no client', async () => {
    // A key store query inside the transaction would wait forever on PGlite's one connection,
    // so without a prepared client the session is stored without one.
    const opened = await db.transaction((tx) =>
      sessions.open(tx, user, CONTEXT, { sessionType: 'bearer', mfaMethod: null }),
    );
    const stored = await storedClient(opened.session.id);
    expect(stored?.ip).toBeNull();
    expect(stored?.userAgent).toBeNull();
    const listed = (await sessions.listOpen(user.id)).find((view) => view.id === opened.session.id);
    expect(listed?.ip).toBeNull();
    expect(listed?.userAgent).toBeNull();
  });

  it('malformed ciphertext lists as null', async () => {
    const prepared = await sessions.prepare(CONTEXT);
    await db.transaction((tx) =>
      sessions.open(tx, user, CONTEXT, { sessionType: 'bearer', mfaMethod: null, prepared }),
    );
    await db.query(`UPDATE admin_sessions SET ip_encrypted = 'mw1.garbage' WHERE id = $1`, [
      prepared.id,
    ]);
    const listed = (await sessions.listOpen(user.id)).find((view) => view.id === prepared.id);
    expect(listed?.ip).toBeNull();
    expect(listed?.userAgent).toBe(CONTEXT.userAgent);
  });

  it('empty request context stores nulls', async () => {
    const prepared = await sessions.prepare({ requestId: null, ip: null, userAgent: null });
    expect(prepared.ipEncrypted).toBeNull();
    expect(prepared.userAgentEncrypted).toBeNull();
  });
});

describe('session client on an embedded server', () => {
  const recorder = new SecretRecorder();
  const userAgent = 'Mozilla/5.0 EmbeddedSessionProbe/2.0';
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ embedded: true });
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('MFA enrollment session records the client', async () => {
    const login = await call(t, recorder, 'POST', '/api/v1/auth/login', {
      body: { email: t.boot.adminEmail, password: t.boot.adminPassword, sessionType: 'bearer' },
      headers: { 'user-agent': userAgent },
    });
    expect(login.status).toBe(200);
    const headers = { 'user-agent': userAgent };
    // The bootstrap owner must change the one-time password before enrolling.
    const newPassword = 'Embedded-Probe-Lantern-77!';
    recorder.add(newPassword);
    const changed = await call(t, recorder, 'POST', '/api/v1/auth/password', {
      token: login.body.token as string,
      body: { currentPassword: t.boot.adminPassword, newPassword },
      headers,
    });
    expect(changed.status).toBe(204);
    const begin = await call(t, recorder, 'POST', '/api/v1/auth/mfa/totp', {
      token: login.body.token as string,
      body: {},
      headers,
    });
    expect(begin.status).toBe(201);
    const secret = base32Decode(begin.body.secret as string);
    recorder.add(secret.toString('hex'), secret.toString('base64'), secret.toString('base64url'));
    // Confirming the enrollment replaces the session inside a transaction, with the client
    // encrypted before it began.
    const confirm = await call(t, recorder, 'POST', '/api/v1/auth/mfa/totp/confirm', {
      token: login.body.token as string,
      body: { code: codeAt(secret) },
      headers,
    });
    expect(confirm.status).toBe(200);

    const list = await call(t, recorder, 'GET', '/api/v1/auth/sessions', {
      token: confirm.body.token as string,
    });
    expect(list.status).toBe(200);
    const sessions = list.body.sessions as { current: boolean; ip: string; userAgent: string }[];
    const current = sessions.find((session) => session.current);
    expect(current?.userAgent).toBe(userAgent);
    expect(current?.ip).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });
});
