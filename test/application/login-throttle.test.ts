import { randomBytes } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  addressThrottleKey,
  COUNTER_RETENTION_MS,
  FailClosedLoginThrottle,
  LoginThrottleUnavailableError,
  MemoryLoginThrottle,
  RedisLoginThrottle,
  type LoginThrottle,
} from '../../src/application/auth/login-throttle.js';
import { LoginThrottleKeyHash } from '../../src/application/auth/login-throttle-key.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  createUser,
  expectError,
  expectNoSecretLeaks,
  SecretRecorder,
  signIn,
} from './identity-api.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RULE = { failureLimit: 3, baseMs: 1000, maxMs: 5000 };
const T0 = 1_700_000_000_000;

const redis = new Redis(REDIS_URL, { lazyConnect: true });
const prefix = `mindweave-test:${randomBytes(6).toString('hex')}:`;

beforeAll(async () => {
  await redis.connect();
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

async function fail(throttle: LoginThrottle, key: string, times: number, now: number) {
  let last = { lockedForMs: 0, lockouts: 0 };
  for (let i = 0; i < times; i++) last = await throttle.recordFailure('account', key, RULE, now);
  return last;
}

describe.each([
  ['memory', () => new MemoryLoginThrottle()],
  ['redis', () => new RedisLoginThrottle(redis, prefix, new LoginThrottleKeyHash(randomBytes(32)))],
] as const)('%s throttle', (_name, create) => {
  it('locks at the failure limit', async () => {
    const throttle = create();
    const key = randomBytes(8).toString('hex');
    expect((await fail(throttle, key, 2, T0)).lockedForMs).toBe(0);
    expect(await throttle.lockedForMs('account', key, T0)).toBe(0);
    expect(await fail(throttle, key, 1, T0)).toEqual({ lockedForMs: 1000, lockouts: 1 });
    expect(await throttle.lockedForMs('account', key, T0 + 400)).toBe(600);
    expect(await throttle.lockedForMs('account', key, T0 + 1000)).toBe(0);
  });

  it('doubles each lockout up to the maximum', async () => {
    const throttle = create();
    const key = randomBytes(8).toString('hex');
    const lengths: number[] = [];
    for (let round = 0; round < 5; round++) {
      lengths.push((await fail(throttle, key, 3, T0 + round * 10_000)).lockedForMs);
    }
    expect(lengths).toEqual([1000, 2000, 4000, 5000, 5000]);
  });

  it('reset forgets the counter', async () => {
    const throttle = create();
    const key = randomBytes(8).toString('hex');
    await fail(throttle, key, 3, T0);
    await throttle.reset('account', key);
    expect(await throttle.lockedForMs('account', key, T0)).toBe(0);
    expect((await fail(throttle, key, 3, T0)).lockouts).toBe(1);
  });

  it('scopes do not share counters', async () => {
    const throttle = create();
    const key = randomBytes(8).toString('hex');
    await fail(throttle, key, 3, T0);
    expect(await throttle.lockedForMs('ip', key, T0)).toBe(0);
  });
});

describe('memory throttle retention', () => {
  it('forgets a counter after the retention time', async () => {
    const throttle = new MemoryLoginThrottle();
    await fail(throttle, 'k', 3, T0);
    const later = T0 + 1000 + COUNTER_RETENTION_MS + 1;
    expect((await fail(throttle, 'k', 3, later)).lockouts).toBe(1);
  });
});

describe('address throttle key', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0DB8:0001:0002::1', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s counts as %s', (ip, key) => {
    expect(addressThrottleKey(ip)).toBe(key);
  });

  it('missing address is one key', () => {
    expect(addressThrottleKey(null)).toBe('unknown');
  });
});

describe('fail-closed throttle', () => {
  it('turns storage errors into 503', async () => {
    const broken: LoginThrottle = {
      lockedForMs: () => Promise.reject(new Error('connection refused')),
      recordFailure: () => Promise.reject(new Error('connection refused')),
      reset: () => Promise.reject(new Error('connection refused')),
      claimAttempt: () => Promise.reject(new Error('connection refused')),
      releaseAttempt: () => Promise.reject(new Error('connection refused')),
    };
    const throttle = new FailClosedLoginThrottle(broken);
    const error = await throttle.lockedForMs('ip', 'k', T0).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LoginThrottleUnavailableError);
    expect((error as LoginThrottleUnavailableError).status).toBe(503);
  });
});

describe('sign-in while Redis is down', () => {
  let t: TestServer;
  const recorder = new SecretRecorder();

  beforeAll(async () => {
    // Nothing listens on port 1, so every counter operation fails.
    t = await startTestServer({ env: { REDIS_URL: 'redis://127.0.0.1:1' } });
  });

  afterAll(async () => {
    await t.stop();
  });

  it('is rejected with 503', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const login = await signIn(t, recorder, user.email, user.password);
    expectError(login, 503, 'service_unavailable');
    expect(login.body.token).toBeUndefined();
  });

  it('leaks no secret', async () => {
    await expectNoSecretLeaks(t, recorder);
  });
});
