import { randomBytes } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  MemoryLoginThrottle,
  RedisLoginThrottle,
  type LoginThrottle,
} from '../../src/application/auth/login-throttle.js';
import { LoginThrottleKeyHash } from '../../src/application/auth/login-throttle-key.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  auditRows,
  call,
  codeAt,
  createUser,
  enrollTotp,
  SecretRecorder,
  signIn,
} from '../application/identity-api.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const WRONG_PASSWORD = 'Wrong-Guess-Pa55word!';
const BURST = 12;

const sharedRedis = new Redis(REDIS_URL);
afterAll(() => {
  sharedRedis.disconnect();
});

// An attacker sends many guesses for one account at once, hoping that all of them pass the
// lockout check before the first failure is counted.
describe('parallel sign-in burst', () => {
  let t: TestServer;
  const recorder = new SecretRecorder();
  recorder.add(WRONG_PASSWORD);
  const prefix = `mindweave-test:${randomBytes(6).toString('hex')}:`;
  const redis = new Redis(REDIS_URL, { lazyConnect: true });

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        REDIS_URL,
        LOGIN_THROTTLE_REDIS_PREFIX: prefix,
        LOGIN_LOCKOUT_ACCOUNT_FAILURES: '3',
        LOGIN_LOCKOUT_IP_FAILURES: '1000',
        LOGIN_LOCKOUT_BASE_MS: '60000',
      },
    });
    await redis.connect();
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await t.stop();
  });

  it('checks at most the limit of passwords', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const results = await Promise.all(
      Array.from({ length: BURST }, () =>
        call(t, recorder, 'POST', '/api/v1/auth/login', {
          body: { email: user.email, password: WRONG_PASSWORD },
        }),
      ),
    );

    for (const result of results) expect([401, 429]).toContain(result.status);
    const failures = (await auditRows(t, 'user.login_failed')).filter(
      (row) => row.actor_id === user.id,
    );
    // Every attempt is audited, but only three reached the password check.
    expect(failures).toHaveLength(BURST);
    const checked = failures.filter((row) => row.metadata.reason === 'wrong_password');
    expect(checked.length).toBeLessThanOrEqual(3);
  });

  it('checks at most the limit of MFA codes', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const first = await signIn(t, recorder, user.email, user.password);
    const enrolled = await enrollTotp(t, recorder, first.body.token as string);
    const step = await signIn(t, recorder, user.email, user.password);
    const challengeToken = step.body.challengeToken as string;
    const valid = new Set([-1, 0, 1].map((offset) => codeAt(enrolled.secret, offset)));
    const guesses: string[] = [];
    for (let n = 100_000; guesses.length < BURST; n += 7919) {
      if (!valid.has(String(n))) guesses.push(String(n));
    }

    const results = await Promise.all(
      guesses.map((code) =>
        call(t, recorder, 'POST', '/api/v1/auth/mfa/challenge', {
          body: { challengeToken, code },
        }),
      ),
    );

    for (const result of results) expect([401, 429]).toContain(result.status);
    const failures = (await auditRows(t, 'user.mfa_challenge_failed')).filter(
      (row) => row.actor_id === user.id,
    );
    expect(failures).toHaveLength(BURST);
    const checked = failures.filter((row) => row.metadata.reason === 'wrong_code');
    expect(checked.length).toBeLessThanOrEqual(3);
  });

  it('still signs in after the burst ends', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await call(t, recorder, 'POST', '/api/v1/auth/login', {
      body: { email: user.email, password: user.password },
    });
    expect(login.status).toBe(200);
  });
});

describe.each<[string, () => LoginThrottle]>([
  ['memory', () => new MemoryLoginThrottle()],
  [
    'redis',
    () =>
      new RedisLoginThrottle(
        sharedRedis,
        `mindweave-test:${randomBytes(6).toString('hex')}:`,
        new LoginThrottleKeyHash(randomBytes(32)),
      ),
  ],
])('attempt claim in %s', (_name, create) => {
  it('admits one attempt at a time', async () => {
    const throttle = create();
    const first = await throttle.claimAttempt('account-a', 10_000, 1000);
    expect(first).not.toBeNull();
    expect(await throttle.claimAttempt('account-a', 10_000, 1000)).toBeNull();
    expect(await throttle.claimAttempt('account-b', 10_000, 1000)).not.toBeNull();
    await throttle.releaseAttempt('account-a', first as string);
    expect(await throttle.claimAttempt('account-a', 10_000, 1000)).not.toBeNull();
  });

  it('leaves a taken-over claim alone', async () => {
    const throttle = create();
    const stale = await throttle.claimAttempt('account-c', 50, Date.now());
    await new Promise((resolve) => setTimeout(resolve, 100));
    const fresh = await throttle.claimAttempt('account-c', 10_000, Date.now());
    expect(fresh).not.toBeNull();
    await throttle.releaseAttempt('account-c', stale as string);
    expect(await throttle.claimAttempt('account-c', 10_000, Date.now())).toBeNull();
  });
});
