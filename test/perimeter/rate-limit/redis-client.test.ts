import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRedisConnection, redactRedisUrl } from '../../../src/data/redis/redis-client.js';
import { createLogger } from '../../../src/monitoring/logging/logger.js';
import { closedPort } from './servers.js';

const PASSWORD = 'redis-test-password-7f3a';

let redis: ChildProcess;
let port: number;

beforeAll(async () => {
  port = await closedPort();
  redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', PASSWORD, '--save', ''],
    { stdio: 'ignore' },
  );
  // Wait until the server accepts connections.
  const probe = createRedisConnection(`redis://:${PASSWORD}@127.0.0.1:${port}`, silentLogger());
  const ready = await probe.waitUntilReady(10_000);
  await probe.close();
  if (!ready) throw new Error(`redis-server on port ${port} did not start within 10 s`);
});

afterAll(() => {
  redis?.kill();
});

function silentLogger(lines: string[] = []) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  return createLogger('info', sink);
}

describe('Redis client', () => {
  it('connects with the password in the URL', async () => {
    const connection = createRedisConnection(
      `redis://:${PASSWORD}@127.0.0.1:${port}/0`,
      silentLogger(),
    );
    try {
      expect(await connection.waitUntilReady(5000)).toBe(true);
      expect(await connection.client.ping()).toBe('PONG');
    } finally {
      await connection.close();
    }
  });

  it('wrong password never becomes ready', async () => {
    const lines: string[] = [];
    const connection = createRedisConnection(
      `redis://:wrong-${PASSWORD}@127.0.0.1:${port}`,
      silentLogger(lines),
    );
    try {
      expect(await connection.waitUntilReady(1500)).toBe(false);
      await expect(connection.client.ping()).rejects.toThrow();
    } finally {
      await connection.close();
    }
    expect(lines.join('')).not.toContain(PASSWORD);
  });

  it('unreachable server fails commands at once', async () => {
    const connection = createRedisConnection(
      `redis://127.0.0.1:${await closedPort()}`,
      silentLogger(),
    );
    try {
      const started = Date.now();
      await expect(connection.client.ping()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(500);
    } finally {
      await connection.close();
    }
  });

  it('log form drops user and password', () => {
    expect(redactRedisUrl(`rediss://user:${PASSWORD}@cache.internal:6380/2`)).toBe(
      'rediss://cache.internal:6380/2',
    );
  });
});
