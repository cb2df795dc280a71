import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../support/test-server.js';
import {
  closedPort,
  newApiKey,
  REDIS_URL,
  startServerPair,
  uniquePrefix,
  type ServerPair,
} from './servers.js';

const USER_AGENT = 'rate-limit-test';
const BAD_KEY = 'mw_live_000000000000000000000000000000000000000000';

// The gateway's call routes send the per-IP check at onRequest and await it with the per-key
// check. These tests pin who gets 429, what still counts against the IP, and that no rejected
// call reaches the provider.

function anthropicCall(url: string, apiKey: string, clientIp?: string) {
  return fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': apiKey,
      'anthropic-version': '2023-06-01',
      'user-agent': USER_AGENT,
      ...(clientIp ? { 'x-forwarded-for': clientIp } : {}),
    },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'Say hello' }],
    }),
  });
}

function openaiCall(url: string, apiKey: string, clientIp: string) {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${apiKey}`,
      'user-agent': USER_AGENT,
      'x-forwarded-for': clientIp,
    },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'Say hello' }],
    }),
  });
}

function listModels(url: string, apiKey: string, clientIp?: string) {
  return fetch(`${url}/v1/models`, {
    headers: {
      'x-api-key': apiKey,
      'user-agent': USER_AGENT,
      ...(clientIp ? { 'x-forwarded-for': clientIp } : {}),
    },
  });
}

interface Outcome {
  status: number;
  retryAfter: string | null;
  message: string;
}

async function outcomeOf(response: Response): Promise<Outcome> {
  const body = (await response.json()) as { error?: { message?: string } };
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    message: body.error?.message ?? '',
  };
}

describe('per-IP limit on gateway routes with Redis', () => {
  const IP_LIMIT = 4;
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        REDIS_URL,
        RATE_LIMIT_REDIS_PREFIX: uniquePrefix(),
        TRUSTED_PROXIES: '127.0.0.1',
        RATE_LIMIT_IP_MAX: String(IP_LIMIT),
        RATE_LIMIT_KEY_MAX: '3',
      },
    });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('bad-key requests over the limit get 429', async () => {
    const clientIp = '198.51.100.10';
    const outcomes: Outcome[] = [];
    for (let i = 0; i < IP_LIMIT + 2; i++) {
      outcomes.push(await outcomeOf(await anthropicCall(t.url, BAD_KEY, clientIp)));
    }
    const statuses = outcomes.map((outcome) => outcome.status);
    expect(statuses.slice(0, IP_LIMIT)).toEqual([401, 401, 401, 401]);
    expect(statuses.slice(IP_LIMIT)).toEqual([429, 429]);
    expect(outcomes[IP_LIMIT]?.retryAfter).toMatch(/^[1-9][0-9]*$/);
    expect(outcomes[IP_LIMIT]?.message).toContain('Too many client requests');
  });

  it('bad-key requests use up the IP limit', async () => {
    const clientIp = '198.51.100.11';
    const apiKey = await newApiKey(t);
    for (let i = 0; i < IP_LIMIT; i++) {
      const response = await anthropicCall(t.url, BAD_KEY, clientIp);
      expect(response.status).toBe(401);
      await response.arrayBuffer();
    }
    const before = t.fake.received.length;

    const valid = await outcomeOf(await anthropicCall(t.url, apiKey, clientIp));

    expect(valid.status).toBe(429);
    expect(valid.message).toContain('Too many client requests');
    expect(t.fake.received.length).toBe(before);
  });

  it('rejected calls never reach the provider', async () => {
    const clientIp = '198.51.100.12';
    const apiKey = await newApiKey(t);
    for (let i = 0; i < 2; i++) {
      const response = await listModels(t.url, apiKey, clientIp);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    for (let i = 0; i < IP_LIMIT - 2; i++) {
      const response = await anthropicCall(t.url, BAD_KEY, clientIp);
      await response.arrayBuffer();
    }
    const before = t.fake.received.length;

    const anthropic = await outcomeOf(await anthropicCall(t.url, apiKey, clientIp));
    const openai = await outcomeOf(await openaiCall(t.url, apiKey, clientIp));
    const models = await outcomeOf(await listModels(t.url, apiKey, clientIp));

    expect(anthropic.status).toBe(429);
    expect(anthropic.message).toContain('Too many client requests');
    expect(openai.status).toBe(429);
    expect(openai.message).toContain('Too many client requests');
    expect(models.status).toBe(429);
    expect(t.fake.received.length).toBe(before);
  });

  it('IP rejection leaves key count alone', async () => {
    const apiKey = await newApiKey(t);
    const first = '198.51.100.13';
    for (let i = 0; i < 2; i++) {
      const response = await anthropicCall(t.url, apiKey, first);
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    for (let i = 0; i < 2; i++) {
      const response = await anthropicCall(t.url, BAD_KEY, first);
      await response.arrayBuffer();
    }
    // The first IP is now over its limit, so these calls count against it but not the key.
    for (let i = 0; i < 3; i++) {
      const response = await anthropicCall(t.url, apiKey, first);
      expect(response.status).toBe(429);
      await response.arrayBuffer();
    }

    // The key has used 2 of its 3 requests, so another client gets exactly one more.
    const second = '198.51.100.14';
    const allowed = await anthropicCall(t.url, apiKey, second);
    const limited = await outcomeOf(await anthropicCall(t.url, apiKey, second));

    expect(allowed.status).toBe(200);
    await allowed.arrayBuffer();
    expect(limited.status).toBe(429);
    expect(limited.message).toContain('Too many API key requests');
  });

  it('request aborted mid-body leaves server serving', async () => {
    const clientIp = '198.51.100.15';
    const { port } = new URL(t.url);
    // Over the limit first, so the pending check of each aborted request rejects it.
    for (let i = 0; i < IP_LIMIT; i++) {
      const response = await anthropicCall(t.url, BAD_KEY, clientIp);
      await response.arrayBuffer();
    }
    for (let i = 0; i < 5; i++) {
      const socket = connect(Number(port), '127.0.0.1');
      await once(socket, 'connect');
      socket.write(
        'POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
          `user-agent: ${USER_AGENT}\r\nx-forwarded-for: ${clientIp}\r\n` +
          `x-api-key: ${BAD_KEY}\r\ncontent-length: 100\r\n\r\n{"model":`,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
    }

    const response = await fetch(`${t.url}/healthz`);

    expect(response.status).toBe(200);
    await response.arrayBuffer();
  });
});

describe('per-IP limit across two servers', () => {
  const IP_LIMIT = 20;
  let pair: ServerPair;

  beforeAll(async () => {
    pair = await startServerPair({ RATE_LIMIT_IP_MAX: String(IP_LIMIT) });
  });

  afterAll(async () => {
    await pair?.stop();
  });

  it('50 parallel bad-key calls admit exactly the limit', async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => anthropicCall(pair.urls[i % 2] ?? '', BAD_KEY)),
    );
    const statuses = responses.map((response) => response.status);
    for (const response of responses) await response.arrayBuffer();

    expect(statuses.filter((status) => status === 401)).toHaveLength(IP_LIMIT);
    expect(statuses.filter((status) => status === 429)).toHaveLength(50 - IP_LIMIT);
  });
});

/**
 * Starts a TCP proxy to the test Redis that delays each reply by `delayMs`, so a per-IP
 * decision arrives after a bad key is already rejected.
 */
async function startSlowRedisProxy(delayMs: number): Promise<{ url: string; close(): void }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
      }, delayMs);
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', closeBoth).on('error', closeBoth);
    upstream.on('close', closeBoth).on('error', closeBoth);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `redis://127.0.0.1:${port}`,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('per-IP limit with a slow Redis', () => {
  const IP_LIMIT = 2;
  let t: TestServer;
  let proxy: { url: string; close(): void };

  beforeAll(async () => {
    proxy = await startSlowRedisProxy(150);
    t = await startTestServer({
      env: {
        REDIS_URL: proxy.url,
        RATE_LIMIT_REDIS_PREFIX: uniquePrefix(),
        TRUSTED_PROXIES: '127.0.0.1',
        RATE_LIMIT_IP_MAX: String(IP_LIMIT),
      },
    });
  });

  afterAll(async () => {
    await t?.stop();
    proxy?.close();
  });

  it('late decision still turns 401 into 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < IP_LIMIT + 2; i++) {
      const response = await anthropicCall(t.url, BAD_KEY);
      statuses.push(response.status);
      await response.arrayBuffer();
    }

    expect(statuses.slice(0, IP_LIMIT)).toEqual([401, 401]);
    expect(statuses.slice(IP_LIMIT)).toEqual([429, 429]);
  });

  it('late decision turns a WAF block into 429', async () => {
    const clientIp = '198.51.100.20';
    const wafBlocked = () =>
      fetch(`${t.url}/v1/messages?__proto__[admin]=1`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': BAD_KEY,
          'anthropic-version': '2023-06-01',
          'user-agent': USER_AGENT,
          'x-forwarded-for': clientIp,
        },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [] }),
      });
    const statuses: number[] = [];
    let limited: Outcome | null = null;
    for (let i = 0; i < IP_LIMIT + 1; i++) {
      const response = await wafBlocked();
      statuses.push(response.status);
      if (response.status === 429) limited = await outcomeOf(response);
      else await response.arrayBuffer();
    }

    expect(statuses).toEqual([403, 403, 429]);
    expect(limited?.retryAfter).toMatch(/^[1-9][0-9]*$/);
    expect(limited?.message).toContain('Too many client requests');
  });
});

/** Starts a Redis server of its own on a free loopback port, without persistence. */
async function startPrivateRedis(): Promise<{ url: string; process: ChildProcess }> {
  const port = await closedPort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  for (let attempt = 0; attempt < 50; attempt++) {
    const ready = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ready) return { url: `redis://127.0.0.1:${port}`, process: child };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new Error(`redis-server did not start listening on port ${port} within 5 s`);
}

describe('gateway after Redis stops', () => {
  let t: TestServer;
  let redis: { url: string; process: ChildProcess };

  beforeAll(async () => {
    redis = await startPrivateRedis();
    t = await startTestServer({ env: { REDIS_URL: redis.url, RATE_LIMIT_IP_MAX: '1000' } });
  });

  afterAll(async () => {
    await t?.stop();
    if (redis.process.exitCode === null) redis.process.kill();
  });

  it('calls are denied and never forwarded', async () => {
    const apiKey = await newApiKey(t);
    const before = await anthropicCall(t.url, apiKey);
    expect(before.status).toBe(200);
    await before.arrayBuffer();

    const exited = once(redis.process, 'exit');
    redis.process.kill('SIGKILL');
    await exited;
    const forwarded = t.fake.received.length;

    const call = await outcomeOf(await anthropicCall(t.url, apiKey));
    const badKey = await outcomeOf(await anthropicCall(t.url, BAD_KEY));
    const models = await outcomeOf(await listModels(t.url, apiKey));

    expect(call.status).toBe(503);
    expect(call.message).toContain('rate-limit store is unreachable');
    expect(badKey.status).toBe(503);
    expect(models.status).toBe(503);
    expect(t.fake.received.length).toBe(forwarded);
  });
});
