import { hash } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { needsRehash } from '../../src/application/auth/password-rehash.js';
import {
  breachedPasswordCount,
  isBreachedPassword,
} from '../../src/data/breached-passwords/index.js';
import { hashPassword } from '../../src/tenancy/users/password.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  call,
  createUser,
  expectError,
  expectNoSecretLeaks,
  SecretRecorder,
  signIn,
} from './identity-api.js';

describe('password rehash check', () => {
  it('accepts current parameters', async () => {
    expect(needsRehash(await hashPassword('Sturdy-Lantern-1-Quartz!'))).toBe(false);
  });

  it('flags lower memory or passes', async () => {
    const weakMemory = await hash('x', { algorithm: 2, memoryCost: 4096, timeCost: 2 });
    const weakPasses = await hash('x', { algorithm: 2, memoryCost: 19_456, timeCost: 1 });
    expect(needsRehash(weakMemory)).toBe(true);
    expect(needsRehash(weakPasses)).toBe(true);
  });

  it('flags argon2i and unparsable strings', async () => {
    const argon2i = await hash('x', { algorithm: 1, memoryCost: 19_456, timeCost: 2 });
    expect(needsRehash(argon2i)).toBe(true);
    expect(needsRehash('not a PHC string')).toBe(true);
  });
});

describe('breached password list', () => {
  it('is loaded', () => {
    expect(breachedPasswordCount()).toBeGreaterThan(40_000);
  });

  it('matches without regard to case', () => {
    expect(isBreachedPassword('Password123!')).toBe(true);
    expect(isBreachedPassword('SUMMER2024!')).toBe(true);
    expect(isBreachedPassword('Welcome@2025')).toBe(true);
  });

  it('passes an uncommon password', () => {
    expect(isBreachedPassword('Sturdy-Lantern-1-Quartz!')).toBe(false);
  });
});

describe('passwords over HTTP', () => {
  let t: TestServer;
  const recorder = new SecretRecorder();

  beforeAll(async () => {
    t = await startTestServer();
  });

  afterAll(async () => {
    await t.stop();
  });

  it('breached new password is a field error', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    expect(login.status).toBe(200);
    recorder.add('Password123!');
    const change = await call(t, recorder, 'POST', '/api/v1/auth/password', {
      token: login.body.token as string,
      body: { currentPassword: user.password, newPassword: 'Password123!' },
    });
    expectError(change, 400, 'validation_failed');
    expect(change.body.details).toEqual([
      {
        field: 'newPassword',
        message: 'Password is on a list of common breached passwords; choose another',
      },
    ]);
  });

  it('policy still applies to new passwords', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    const change = await call(t, recorder, 'POST', '/api/v1/auth/password', {
      token: login.body.token as string,
      body: { currentPassword: user.password, newPassword: 'short' },
    });
    expectError(change, 400, 'validation_failed');
    const fields = (change.body.details as { field: string }[]).map((issue) => issue.field);
    expect(fields.every((field) => field === 'newPassword')).toBe(true);
  });

  it('login rehashes weak stored hashes', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const weak = await hash(user.password, { algorithm: 2, memoryCost: 4096, timeCost: 1 });
    await t.server.db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [user.id, weak]);

    const login = await signIn(t, recorder, user.email, user.password);
    expect(login.status).toBe(200);
    const stored = await t.server.db.query<{ password_hash: string }>(
      'SELECT password_hash FROM users WHERE id = $1',
      [user.id],
    );
    const phc = stored.rows[0]?.password_hash ?? '';
    expect(phc).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(needsRehash(phc)).toBe(false);

    const again = await signIn(t, recorder, user.email, user.password);
    expect(again.status).toBe(200);
  });

  it('leaks no secret', async () => {
    await expectNoSecretLeaks(t, recorder);
  });
});
