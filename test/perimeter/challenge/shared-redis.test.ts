/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../support/test-server.js';
import {
  closedPort,
  startServerPair,
  uniquePrefix,
  type ServerPair,
} from '../rate-limit/servers.js';
import { from, solve } from './challenge-client.js';

const TOR_EXIT = '185.220.101.7';

let folder: string;
let pair: ServerPair;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mindweave-challenge-redis-'));
  const list = join(folder, 'tor-exits.txt');
  await writeFile(list, `${TOR_EXIT}\n`);
  pair = await startServerPair({
    TRUSTED_PROXIES: '127.0.0.1',
    TOR_EXIT_LIST_FILE: list,
    CHALLENGE_DIFFICULTY: '8',
    CHALLENGE_REDIS_PREFIX: uniquePrefix(),
  });
});

afterAll(async () => {
  await pair?.stop();
  await rm(folder, { recursive: true, force: true });
});

async function post(url: string, path: string, body: unknown) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: from(TOR_EXIT, { 'content-type': 'application/json' }),
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function solvedChallenge(url: string) {
  const issued = await post(url, '/challenge', {});
  expect(issued.status).toBe(200);
  const challenge = issued.body.challenge as string;
  return { challenge, nonce: solve(challenge, issued.body.difficulty as number) };
}

describe('challenges across two processes', () => {
  it('solution used on one is rejected on the other', async () => {
    const [first, second] = pair.urls;
    const solution = await solvedChallenge(first);
    expect((await post(first, '/challenge/verify', solution)).status).toBe(200);
    const replay = await post(second, '/challenge/verify', solution);
    expect(replay.status).toBe(403);
    expect(replay.body.code).toBe('challenge_failed');
    expect(replay.body.error).toContain('already solved');
  });

  it('concurrent verifications accept one', async () => {
    const [first, second] = pair.urls;
    const solution = await solvedChallenge(second);
    const results = await Promise.all([
      post(first, '/challenge/verify', solution),
      post(second, '/challenge/verify', solution),
      post(first, '/challenge/verify', solution),
      post(second, '/challenge/verify', solution),
    ]);
    const statuses = results.map((result) => result.status).sort();
    expect(statuses).toEqual([200, 403, 403, 403]);
  });

  it('pass from one process opens the other', async () => {
    const [first, second] = pair.urls;
    const verified = await post(first, '/challenge/verify', await solvedChallenge(second));
    expect(verified.status).toBe(200);
    const response = await fetch(`${second}/api/v1/auth/me`, {
      headers: from(TOR_EXIT, { 'x-mindweave-challenge': verified.body.pass as string }),
    });
    expect(response.status).toBe(401);
    const without = await fetch(`${second}/api/v1/auth/me`, { headers: from(TOR_EXIT) });
    expect(without.status).toBe(403);
  });
});

describe('challenges while Redis is down', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
        // Only the challenge store uses Redis here: the rate limits are off and fail open.
        RATE_LIMIT_REDIS_FAILURE: 'open',
        TRUSTED_PROXIES: '127.0.0.1',
        TOR_EXIT_LIST_FILE: join(folder, 'tor-exits.txt'),
        CHALLENGE_DIFFICULTY: '8',
      },
    });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('valid solution gets 503', async () => {
    const response = await post(t.url, '/challenge/verify', await solvedChallenge(t.url));
    expect(response.status).toBe(503);
    expect(response.body.code).toBe('service_unavailable');
  });
});
