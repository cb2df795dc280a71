/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  DEFAULT_REDIS_TIMEOUTS,
  redactRedisUrl,
  redisOptions,
} from '../../../src/data/redis/redis-client.js';
import { startSourceServer, waitForLog, type SourceServer } from '../../support/source-server.js';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.js';

const run = promisify(execFile);
const PASSWORD = 'redis-tls-auth-password-51c9';

let folder: string;
let redis: ChildProcess | undefined;
let tlsPort: number;
let plainPort: number;
let caPem: string;
let database: TestDatabase;
const servers: SourceServer[] = [];

/** Returns a loopback port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Writes a CA and a server certificate for localhost and 127.0.0.1 signed by it. */
async function createCertificates(): Promise<void> {
  const file = (name: string) => path.join(folder, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', [
    'req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'),
    '-days', '1', '-subj', '/CN=MindWeave test CA',
  ]);
  await run('openssl', [
    'req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost',
  ]);
  await writeFile(file('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await run('openssl', [
    'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-CAcreateserial', '-out', file('server.pem'), '-days', '1', '-extfile', file('san.ext'),
  ]);
  caPem = await readFile(file('ca.pem'), 'utf8');
}

/** Waits up to 10 s until the TLS port accepts an authenticated connection trusting the CA. */
async function waitForRedis(): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    const probe = new Redis({
      host: '127.0.0.1',
      port: tlsPort,
      password: PASSWORD,
      tls: { ca: caPem, servername: 'localhost' },
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      expect(await probe.ping()).toBe('PONG');
      return;
    } catch (error) {
      if (attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      probe.disconnect();
    }
  }
}

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'mindweave-redis-tls-'));
  await createCertificates();
  tlsPort = await freePort();
  plainPort = await freePort();
  redis = spawn(
    'redis-server',
    [
      '--bind', '127.0.0.1', '--port', String(plainPort), '--tls-port', String(tlsPort),
      '--tls-cert-file', path.join(folder, 'server.pem'),
      '--tls-key-file', path.join(folder, 'server.key'),
      '--tls-ca-cert-file', path.join(folder, 'ca.pem'),
      '--tls-auth-clients', 'no', '--requirepass', PASSWORD, '--save', '', '--appendonly', 'no',
    ],
    { stdio: 'ignore' },
  );
  await waitForRedis();
  database = await createTestDatabase();
}, 120_000);

afterAll(async () => {
  for (const server of servers) await server.stop('SIGKILL');
  redis?.kill();
  await database?.drop();
  await rm(folder, { recursive: true, force: true });
});

async function serve(env: Record<string, string>): Promise<SourceServer> {
  const server = await startSourceServer({
    DATABASE_URL: database.url,
    MINDWEAVE_DATA_DIR: path.join(folder, 'data'),
    ...env,
  });
  servers.push(server);
  return server;
}

function logText(server: SourceServer): string {
  return server.logs.map((line) => JSON.stringify(line)).join('\n') + server.stderr();
}

describe('redisOptions', () => {
  it('sets TLS options for rediss', () => {
    const options = redisOptions(`rediss://:${PASSWORD}@cache.internal:6380/2`, DEFAULT_REDIS_TIMEOUTS);
    expect(options.tls).toEqual({
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      servername: 'cache.internal',
    });
  });

  it('sends no SNI name for IP addresses', () => {
    expect(redisOptions('rediss://127.0.0.1:6380', DEFAULT_REDIS_TIMEOUTS).tls).toEqual({
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
    });
    expect(redisOptions('rediss://[::1]:6380', DEFAULT_REDIS_TIMEOUTS).tls).not.toHaveProperty(
      'servername',
    );
  });

  it('sets no TLS for redis', () => {
    expect(redisOptions(`redis://:${PASSWORD}@127.0.0.1:6379`, DEFAULT_REDIS_TIMEOUTS).tls).toBe(
      undefined,
    );
  });

  it('keeps the password out of the options', () => {
    const options = redisOptions(`redis://:${PASSWORD}@127.0.0.1:6379`, DEFAULT_REDIS_TIMEOUTS);
    expect(JSON.stringify(options)).not.toContain(PASSWORD);
    expect(redactRedisUrl(`rediss://user:${PASSWORD}@127.0.0.1:6380`)).not.toContain(PASSWORD);
  });
});

describe('server with Redis AUTH and TLS', { timeout: 180_000 }, () => {
  it('connects over rediss with a password', async () => {
    // Node trusts the test CA through NODE_EXTRA_CA_CERTS, read when the process starts.
    const server = await serve({
      REDIS_URL: `rediss://:${PASSWORD}@localhost:${tlsPort}`,
      NODE_EXTRA_CA_CERTS: path.join(folder, 'ca.pem'),
    });
    const ready = await waitForLog(server, (line) => line.msg === 'redis connection ready');
    expect(ready.redis).toBe(`rediss://localhost:${tlsPort}`);
    expect(logText(server)).not.toContain(PASSWORD);
    expect(await server.stop()).toBe(0);
  });

  it('rejects an untrusted certificate', async () => {
    const server = await serve({ REDIS_URL: `rediss://:${PASSWORD}@localhost:${tlsPort}` });
    const failed = await waitForLog(
      server,
      (line) => line.msg === 'redis connection failed; retrying in the background',
    );
    // redis-server sends the CA with its certificate, and Node rejects that unknown root.
    expect(failed.code).toBe('SELF_SIGNED_CERT_IN_CHAIN');
    expect(server.logs.some((line) => line.msg === 'redis connection ready')).toBe(false);
    expect(logText(server)).not.toContain(PASSWORD);
    expect(await server.stop()).toBe(0);
  });

  it('logs a wrong password without it', async () => {
    const wrong = `wrong-${PASSWORD}`;
    const server = await serve({ REDIS_URL: `redis://:${wrong}@127.0.0.1:${plainPort}` });
    const failed = await waitForLog(
      server,
      (line) => line.msg === 'redis connection failed; retrying in the background',
    );
    expect(String(failed.reason)).toContain('WRONGPASS');
    expect(logText(server)).not.toContain(wrong);
    expect(await server.stop()).toBe(0);
  });
});
