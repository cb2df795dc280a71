import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../support/test-server.js';
import { closedPort, newApiKey, uniquePrefix } from './servers.js';

const USER_AGENT = 'leased-outage-test';

/** A redis-server of this test's own, so it can be stopped without touching the shared one. */
class OwnRedis {
  private child: ChildProcess | null = null;

  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    this.child = child;
    // Wait up to 5 s for it to reply to PING.
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    try {
      for (let attempt = 0; attempt < 100; attempt++) {
        try {
          await probe.connect();
          await probe.ping();
          return;
        } catch {
          probe.disconnect();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      throw new Error(`redis-server on port ${this.port} did not reply to PING within 5 s`);
    } finally {
      probe.disconnect();
    }
  }

  /** Stops the process without closing its sockets, so commands time out instead of failing. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.child = null;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    child.kill('SIGCONT');
    await exited;
  }
}

function gatewayCall(url: string, apiKey: string): Promise<Response> {
  return fetch(`${url}/v1/models`, { headers: { 'x-api-key': apiKey, 'user-agent': USER_AGENT } });
}

function login(url: string): Promise<Response> {
  return fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT },
    body: JSON.stringify({ email: 'nobody@example.com', password: 'Wrong-Passw0rd!' }),
  });
}

/** Sends `count` gateway calls one after another and returns their statuses. */
async function statusesOf(url: string, apiKey: string, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await gatewayCall(url, apiKey);
    statuses.push(response.status);
    await response.arrayBuffer();
  }
  return statuses;
}

describe('leased limits while Redis goes down, failure mode closed', () => {
  let redis: OwnRedis;
  let t: TestServer;
  let stopped = false;

  beforeAll(async () => {
    redis = new OwnRedis(await closedPort());
    await redis.start();
    t = await startTestServer({
      env: {
        REDIS_URL: redis.url,
        RATE_LIMIT_REDIS_PREFIX: uniquePrefix(),
        LOGIN_THROTTLE_REDIS_PREFIX: uniquePrefix(),
        RATE_LIMIT_IP_MAX: '100000',
        RATE_LIMIT_KEY_MAX: '1000',
        RATE_LIMIT_AUTH_MAX: '1000',
        RATE_LIMIT_REDIS_LEASE_PERCENT: '10',
      },
    });
  });

  afterAll(async () => {
    if (!stopped) await t?.stop();
    await redis?.kill();
  });

  it('spends leases for at most a second, then 503', async () => {
    const apiKey = await newApiKey(t);
    // Two calls in Redis, then the key and the IP hold a lease.
    expect(await statusesOf(t.url, apiKey, 5)).toEqual([200, 200, 200, 200, 200]);
    await redis.kill();
    const killedAt = performance.now();

    const early: number[] = [];
    const late: number[] = [];
    while (performance.now() - killedAt < 1600) {
      const sentAt = performance.now() - killedAt;
      const response = await gatewayCall(t.url, apiKey);
      (sentAt > 1100 ? late : early).push(response.status);
      await response.arrayBuffer();
    }
    // Units leased before the outage are still spent.
    expect(early[0]).toBe(200);
    expect(early.filter((status) => status !== 200 && status !== 503)).toEqual([]);
    // The key's lease holds 100 units, less the three calls spent from it.
    expect(early.filter((status) => status === 200).length).toBeLessThanOrEqual(100);
    expect(late.length).toBeGreaterThan(0);
    expect(late.filter((status) => status !== 503)).toEqual([]);
  });

  it('sign-in gets 503 at once', async () => {
    const response = await login(t.url);
    expect(response.status).toBe(503);
    await response.arrayBuffer();
  });

  it('health probe still returns 200', async () => {
    const response = await fetch(`${t.url}/healthz`, { headers: { 'user-agent': USER_AGENT } });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  });

  it('serves again once Redis is back', async () => {
    await redis.start();
    const apiKey = await newApiKey(t);
    let status = 0;
    for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
      const response = await gatewayCall(t.url, apiKey);
      status = response.status;
      await response.arrayBuffer();
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
    // Leasing resumes: the calls after the first two are spent from memory.
    expect(await statusesOf(t.url, apiKey, 20)).toEqual(Array.from({ length: 20 }, () => 200));
  });

  it('stops quickly with leases held and Redis down', async () => {
    const apiKey = await newApiKey(t);
    expect(await statusesOf(t.url, apiKey, 5)).toEqual([200, 200, 200, 200, 200]);
    await redis.kill();
    const startedAt = performance.now();
    stopped = true;
    await t.stop();
    expect(performance.now() - startedAt).toBeLessThan(10_000);
  });
});

describe('leased limits while Redis hangs, failure mode closed', () => {
  let redis: OwnRedis;
  let t: TestServer;
  let stopped = false;

  beforeAll(async () => {
    redis = new OwnRedis(await closedPort());
    await redis.start();
    t = await startTestServer({
      env: {
        REDIS_URL: redis.url,
        RATE_LIMIT_REDIS_PREFIX: uniquePrefix(),
        LOGIN_THROTTLE_REDIS_PREFIX: uniquePrefix(),
        RATE_LIMIT_IP_MAX: '100000',
        RATE_LIMIT_KEY_MAX: '1000',
        RATE_LIMIT_AUTH_MAX: '1000',
        RATE_LIMIT_REDIS_LEASE_PERCENT: '10',
      },
    });
  });

  afterAll(async () => {
    redis?.resume();
    if (!stopped) await t?.stop();
    await redis?.kill();
  });

  it('answers 200 or 503 and stops in time', async () => {
    const apiKey = await newApiKey(t);
    expect(await statusesOf(t.url, apiKey, 5)).toEqual([200, 200, 200, 200, 200]);
    redis.pause();

    // Parallel calls while every Redis command waits for its one-second timeout.
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => gatewayCall(t.url, apiKey)),
    );
    const statuses = responses.map((response) => response.status);
    for (const response of responses) await response.arrayBuffer();
    expect(statuses.filter((status) => status !== 200 && status !== 503)).toEqual([]);

    const signIn = await login(t.url);
    expect(signIn.status).toBe(503);
    await signIn.arrayBuffer();

    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await statusesOf(t.url, apiKey, 3)).toEqual([503, 503, 503]);

    const startedAt = performance.now();
    stopped = true;
    await t.stop();
    expect(performance.now() - startedAt).toBeLessThan(10_000);
  });
});

describe('leased limits while Redis goes down, failure mode open', () => {
  let redis: OwnRedis;
  let t: TestServer;

  beforeAll(async () => {
    redis = new OwnRedis(await closedPort());
    await redis.start();
    t = await startTestServer({
      env: {
        REDIS_URL: redis.url,
        RATE_LIMIT_REDIS_FAILURE: 'open',
        RATE_LIMIT_REDIS_PREFIX: uniquePrefix(),
        LOGIN_THROTTLE_REDIS_PREFIX: uniquePrefix(),
        RATE_LIMIT_IP_MAX: '100000',
        RATE_LIMIT_KEY_MAX: '1000',
        RATE_LIMIT_AUTH_MAX: '1000',
        RATE_LIMIT_REDIS_LEASE_PERCENT: '10',
      },
    });
  });

  afterAll(async () => {
    await t?.stop();
    await redis?.kill();
  });

  it('serves from leases, then from process memory', async () => {
    const apiKey = await newApiKey(t);
    expect(await statusesOf(t.url, apiKey, 5)).toEqual([200, 200, 200, 200, 200]);
    await redis.kill();
    const killedAt = performance.now();
    const statuses: number[] = [];
    // About 80 calls, far under the key's 1,000 per window in process memory.
    while (performance.now() - killedAt < 1600) {
      const response = await gatewayCall(t.url, apiKey);
      statuses.push(response.status);
      await response.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(statuses.filter((status) => status !== 200)).toEqual([]);

    const signIn = await login(t.url);
    expect(signIn.status).toBe(503);
    await signIn.arrayBuffer();
  });
});
