import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';

import { createLogger } from '../../../src/monitoring/logging/logger.js';
import { generateApiKey } from '../../../src/tenancy/api-keys/api-key-secret.js';
import { insertApiKey } from '../../../src/tenancy/api-keys/api-key.repository.js';
import { startServer, type RunningServer } from '../../../src/server/start-server.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Two MindWeave servers on one database and one Redis, each with its own Redis client. */
export interface ServerPair {
  first: TestServer;
  second: RunningServer;
  urls: [string, string];
  stop(): Promise<void>;
}

/** Returns a Redis key prefix of its own, so test files running in parallel share no counters. */
export function uniquePrefix(): string {
  return `mindweave-test:${randomBytes(6).toString('hex')}:`;
}

/** Starts two servers that share PostgreSQL and Redis, with `env` on top of the test defaults. */
export async function startServerPair(env: Record<string, string>): Promise<ServerPair> {
  const first = await startTestServer({
    env: {
      REDIS_URL,
      RATE_LIMIT_REDIS_PREFIX: uniquePrefix(),
      // Sign-in lockout counters in Redis are keyed by client IP too, and every test uses one.
      LOGIN_THROTTLE_REDIS_PREFIX: uniquePrefix(),
      ...env,
    },
  });
  const quiet = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const second = await startServer(first.config, createLogger('error', quiet));
  return {
    first,
    second,
    urls: [first.url, second.url],
    async stop() {
      await second.stop();
      await first.stop();
    },
  };
}

/** Returns a loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Creates another API key for the bootstrapped project, so a test starts with fresh counters. */
export async function newApiKey(server: TestServer): Promise<string> {
  const generated = generateApiKey();
  await insertApiKey(server.owner, {
    orgId: server.boot.orgId,
    projectId: server.boot.projectId,
    name: `rate-limit-${randomBytes(4).toString('hex')}`,
    hash: generated.hash,
    prefix: generated.prefix,
    lastFour: generated.lastFour,
    createdBy: null,
    expiresAt: null,
  });
  return generated.secret;
}

/** Sends a one-message Anthropic call through the gateway with `apiKey`. */
export function anthropicCall(
  url: string,
  apiKey: string,
  options: { maxTokens: number; userAgent: string; stream?: boolean },
): Promise<Response> {
  return fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': apiKey,
      'anthropic-version': '2023-06-01',
      'user-agent': options.userAgent,
    },
    body: JSON.stringify({
      model: 'claude-sonnet-4-5',
      max_tokens: options.maxTokens,
      stream: options.stream ?? false,
      messages: [{ role: 'user', content: 'Say hello' }],
    }),
  });
}
