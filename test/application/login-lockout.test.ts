import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createLogger } from '../../src/monitoring/logging/logger.js';
import { startServer, type RunningServer } from '../../src/server/start-server.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  auditRows,
  call,
  createUser,
  expectError,
  expectNoSecretLeaks,
  SecretRecorder,
  signIn,
  type CallResult,
} from './identity-api.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const WRONG_PASSWORD = 'Wrong-Guess-Pa55word!';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function withoutRequestId(result: CallResult): Record<string, unknown> {
  const { requestId: _omitted, ...rest } = result.body;
  return rest;
}

function expectLocked(result: CallResult): void {
  expectError(result, 429, 'rate_limited');
  const retryAfter = Number(result.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
}

// Account lockout after 3 failures and address lockout after 16, starting at 2 seconds.
describe('sign-in lockout in one process', () => {
  let t: TestServer;
  const recorder = new SecretRecorder();
  recorder.add(WRONG_PASSWORD);

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        LOGIN_LOCKOUT_ACCOUNT_FAILURES: '3',
        LOGIN_LOCKOUT_IP_FAILURES: '16',
        LOGIN_LOCKOUT_BASE_MS: '2000',
        LOGIN_LOCKOUT_MAX_MS: '8000',
      },
    });
  });

  afterAll(async () => {
    await t.stop();
  });

  // The tests run in order, because every request counts against the same loopback address.
  it('account locks after repeated failures', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    for (let i = 0; i < 3; i++) {
      expectError(await signIn(t, recorder, user.email, WRONG_PASSWORD), 401, 'unauthorized');
    }
    const locked = await signIn(t, recorder, user.email, user.password);
    expectLocked(locked);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(2);

    const failed = await auditRows(t, 'user.login_failed');
    const reasons = failed.map((row) => row.metadata.reason);
    expect(reasons).toEqual(['wrong_password', 'wrong_password', 'wrong_password', 'locked_out']);
    const lockouts = await auditRows(t, 'user.locked_out');
    expect(lockouts).toHaveLength(1);
    expect(lockouts[0]?.actor_id).toBe(user.id);
    expect(lockouts[0]?.metadata).toEqual({
      scope: 'account',
      reason: 'wrong_password',
      lockedForSeconds: 2,
      lockouts: 1,
    });
  });

  it('unknown account locks with the same answer', async () => {
    const known = await createUser(t, recorder, { role: 'member' });
    const unknownEmail = 'nobody-here@example.com';
    for (let i = 0; i < 3; i++) {
      await signIn(t, recorder, known.email, WRONG_PASSWORD);
      await signIn(t, recorder, unknownEmail, WRONG_PASSWORD);
    }
    const knownLocked = await signIn(t, recorder, known.email, WRONG_PASSWORD);
    const unknownLocked = await signIn(t, recorder, unknownEmail, WRONG_PASSWORD);
    expectLocked(knownLocked);
    expectLocked(unknownLocked);
    expect(withoutRequestId(knownLocked)).toEqual(withoutRequestId(unknownLocked));
    expect(knownLocked.headers.get('retry-after')).toBe(unknownLocked.headers.get('retry-after'));
  });

  it('lockout ends and then doubles', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    for (let i = 0; i < 3; i++) await signIn(t, recorder, user.email, WRONG_PASSWORD);
    expectLocked(await signIn(t, recorder, user.email, user.password));
    await sleep(2100);
    // The failure count starts again from zero after a lockout, but the next lockout doubles.
    expectError(await signIn(t, recorder, user.email, WRONG_PASSWORD), 401, 'unauthorized');
    expectError(await signIn(t, recorder, user.email, WRONG_PASSWORD), 401, 'unauthorized');
    expectError(await signIn(t, recorder, user.email, WRONG_PASSWORD), 401, 'unauthorized');
    const locked = await signIn(t, recorder, user.email, user.password);
    expectLocked(locked);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(2);
    const rows = (await auditRows(t, 'user.locked_out')).filter(
      (row) => row.actor_id === user.id && row.metadata.scope === 'account',
    );
    expect(rows.map((row) => row.metadata.lockedForSeconds)).toEqual([2, 4]);
    expect(rows.map((row) => row.metadata.lockouts)).toEqual([1, 2]);
  });

  it('address locks after failures across accounts', async () => {
    // 3 + 6 + 6 failures so far, and the limit is 16: one more failure locks the address.
    expectError(
      await signIn(t, recorder, 'someone@example.com', WRONG_PASSWORD),
      401,
      'unauthorized',
    );
    const user = await createUser(t, recorder, { role: 'member' });
    const locked = await signIn(t, recorder, user.email, user.password);
    expectLocked(locked);
    const ipLockouts = (await auditRows(t, 'user.locked_out')).filter(
      (row) => row.metadata.scope === 'ip',
    );
    expect(ipLockouts).toHaveLength(1);
  });

  it('leaks no secret', async () => {
    await expectNoSecretLeaks(t, recorder);
  });
});

describe('sign-in lockout shared through Redis', () => {
  let a: TestServer;
  let b: RunningServer;
  const prefix = `mindweave-test:${randomBytes(6).toString('hex')}:`;
  const recorder = new SecretRecorder();
  recorder.add(WRONG_PASSWORD);
  const redis = new Redis(REDIS_URL, { lazyConnect: true });

  beforeAll(async () => {
    a = await startTestServer({
      env: {
        REDIS_URL,
        LOGIN_THROTTLE_REDIS_PREFIX: prefix,
        LOGIN_LOCKOUT_ACCOUNT_FAILURES: '3',
        LOGIN_LOCKOUT_IP_FAILURES: '6',
        LOGIN_LOCKOUT_BASE_MS: '60000',
      },
    });
    // A second server process on the same database, Redis and data folder.
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        a.logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        callback();
      },
    });
    b = await startServer({ ...a.config }, createLogger('info', sink));
    await redis.connect();
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await b.stop();
    await a.stop();
  });

  const onB = (email: string, password: string) =>
    call({ ...a, url: b.url }, recorder, 'POST', '/api/v1/auth/login', {
      body: { email, password },
    });

  it('account lockout spans both servers', async () => {
    const user = await createUser(a, recorder, { role: 'member' });
    expectError(await signIn(a, recorder, user.email, WRONG_PASSWORD), 401, 'unauthorized');
    expectError(await onB(user.email, WRONG_PASSWORD), 401, 'unauthorized');
    expectError(await signIn(a, recorder, user.email, WRONG_PASSWORD), 401, 'unauthorized');
    expectLocked(await onB(user.email, user.password));
    expectLocked(await signIn(a, recorder, user.email, user.password));
    expect((await redis.keys(`${prefix}account:*`)).length).toBe(1);
  });

  it('address lockout spans both servers', async () => {
    // 3 failures so far; three more accounts, one failure each, reach the limit of 6.
    expectError(await onB('first@example.com', WRONG_PASSWORD), 401, 'unauthorized');
    expectError(
      await signIn(a, recorder, 'second@example.com', WRONG_PASSWORD),
      401,
      'unauthorized',
    );
    expectError(await onB('third@example.com', WRONG_PASSWORD), 401, 'unauthorized');
    const user = await createUser(a, recorder, { role: 'member' });
    expectLocked(await signIn(a, recorder, user.email, user.password));
    expectLocked(await onB(user.email, user.password));
    const rows = await auditRows(a, 'user.locked_out');
    expect(rows.map((row) => row.metadata.scope)).toEqual(['account', 'ip']);
  });

  it('leaks no secret', async () => {
    await expectNoSecretLeaks(a, recorder);
  });
});
