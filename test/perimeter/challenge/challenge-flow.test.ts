/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api } from '../../admin/admin-api.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { loadChallengeKeys } from '../../../src/perimeter/challenge/challenge-keys.js';
import { ChallengeService } from '../../../src/perimeter/challenge/challenge.service.js';
import { MemorySpentChallenges } from '../../../src/perimeter/challenge/spent-challenges.js';
import { parseClientIp } from '../../../src/perimeter/ip-address.js';
import { earnPass, from, requestChallenge, solve, wrongNonce } from './challenge-client.js';

const TOR_EXIT = '185.220.101.7';
const OTHER_EXIT = '185.220.101.8';
const SECRET = 'challenge-secret-for-tests-0123456789abcdef';
const PASS_HEADER = 'x-mindweave-challenge';

let folder: string;
let t: TestServer;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mindweave-challenge-'));
  const list = join(folder, 'tor-exits.txt');
  await writeFile(list, `${TOR_EXIT}\n${OTHER_EXIT}\n`);
  t = await startTestServer({
    env: {
      TRUSTED_PROXIES: '127.0.0.1',
      TOR_EXIT_LIST_FILE: list,
      CHALLENGE_DIFFICULTY: '8',
      CHALLENGE_SECRET: SECRET,
    },
  });
});

afterAll(async () => {
  await t?.stop();
  await rm(folder, { recursive: true, force: true });
});

/** GET /api/v1/auth/me as `ip`: 401 once past the challenge, 403 when stopped by it. */
function me(ip: string, headers: Record<string, string> = {}) {
  return api(t, 'GET', '/api/v1/auth/me', { headers: from(ip, headers) });
}

function verify(ip: string, body: unknown) {
  return api(t, 'POST', '/challenge/verify', { headers: from(ip), body });
}

describe('proof-of-work challenge', () => {
  it('issues a signed challenge with the difficulty', async () => {
    const response = await api(t, 'POST', '/challenge', { headers: from(TOR_EXIT) });
    expect(response.status).toBe(200);
    expect(response.body.algorithm).toBe('sha256');
    expect(response.body.difficulty).toBe(8);
    expect(response.body.verifyUrl).toBe('/challenge/verify');
    expect(typeof response.body.challenge).toBe('string');
    expect(Date.parse(response.body.expiresAt as string)).toBeGreaterThan(Date.now());
  });

  it('solved challenge earns a pass that opens the gate', async () => {
    expect((await me(TOR_EXIT)).status).toBe(403);
    const issued = await requestChallenge(t, TOR_EXIT);
    const response = await verify(TOR_EXIT, {
      challenge: issued.challenge,
      nonce: solve(issued.challenge, issued.difficulty),
    });
    expect(response.status).toBe(200);
    expect(response.body.passHeader).toBe(PASS_HEADER);
    const pass = response.body.pass as string;
    expect((await me(TOR_EXIT, { [PASS_HEADER]: pass })).status).toBe(401);
  });

  it('replayed solution is rejected', async () => {
    const issued = await requestChallenge(t, TOR_EXIT);
    const solution = {
      challenge: issued.challenge,
      nonce: solve(issued.challenge, issued.difficulty),
    };
    expect((await verify(TOR_EXIT, solution)).status).toBe(200);
    const replay = await verify(TOR_EXIT, solution);
    expect(replay.status).toBe(403);
    expect(replay.body.code).toBe('challenge_failed');
    expect(replay.body.error).toContain('already solved');
  });

  it('wrong nonce is rejected without spending the challenge', async () => {
    const issued = await requestChallenge(t, TOR_EXIT);
    const wrong = await verify(TOR_EXIT, {
      challenge: issued.challenge,
      nonce: wrongNonce(issued.challenge, issued.difficulty),
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.code).toBe('challenge_failed');
    const right = await verify(TOR_EXIT, {
      challenge: issued.challenge,
      nonce: solve(issued.challenge, issued.difficulty),
    });
    expect(right.status).toBe(200);
  });

  it('challenge from another address is rejected', async () => {
    const issued = await requestChallenge(t, TOR_EXIT);
    const response = await verify(OTHER_EXIT, {
      challenge: issued.challenge,
      nonce: solve(issued.challenge, issued.difficulty),
    });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('challenge_failed');
    expect(response.body.error).toContain('another client address');
  });

  it('altered challenge is rejected', async () => {
    const issued = await requestChallenge(t, TOR_EXIT);
    const [body = '', mac = ''] = issued.challenge.split('.');
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as { bits: number };
    payload.bits = 1;
    const altered = `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${mac}`;
    const response = await verify(TOR_EXIT, { challenge: altered, nonce: solve(altered, 1) });
    expect(response.status).toBe(403);
    expect(response.body.error).toContain('not one this server issued');
  });

  it('pass from another address is rejected', async () => {
    const pass = await earnPass(t, TOR_EXIT);
    const response = await me(OTHER_EXIT, { [PASS_HEADER]: pass });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('challenge_required');
    expect(response.body.error).toContain('issued to another client address');
  });

  it('expired pass is rejected', async () => {
    // A pass signed with the server's key two hours ago has run out.
    const keys = await loadChallengeKeys({ MINDWEAVE_DATA_DIR: folder, CHALLENGE_SECRET: SECRET });
    const past = new ChallengeService(
      keys,
      new MemorySpentChallenges(10),
      { difficulty: 8, passTtlMs: 60_000 },
      () => Date.now() - 2 * 60 * 60 * 1000,
    );
    const { pass } = past.issuePass(parseClientIp(TOR_EXIT)!);
    const response = await me(TOR_EXIT, { [PASS_HEADER]: pass });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('challenge_required');
    expect(response.body.error).toContain('has expired');
  });

  it('challenge token is not a pass', async () => {
    const issued = await requestChallenge(t, TOR_EXIT);
    const response = await me(TOR_EXIT, { [PASS_HEADER]: issued.challenge });
    expect(response.status).toBe(403);
    expect(response.body.error).toContain('is not valid');
  });

  it.each([
    ['a missing nonce', { challenge: 'x.y' }],
    ['an unknown field', { challenge: 'x.y', nonce: '1', extra: true }],
    ['a nonce with spaces', { challenge: 'x.y', nonce: '1 2' }],
    ['a non-string challenge', { challenge: 42, nonce: '1' }],
  ])('verify rejects %s with 400', async (_name, body) => {
    const response = await verify(TOR_EXIT, body);
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
  });

  it('issue rejects a body with fields', async () => {
    const response = await api(t, 'POST', '/challenge', {
      headers: from(TOR_EXIT),
      body: { difficulty: 1 },
    });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
  });

  it('secret and tokens stay out of the log', async () => {
    const pass = await earnPass(t, TOR_EXIT);
    await me(TOR_EXIT, { [PASS_HEADER]: pass });
    const log = t.logLines.join('\n');
    expect(log).toContain('request rejected: challenge_required');
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain(pass);
  });
});

describe('bot User-Agent challenge', () => {
  const ORDINARY = '198.51.100.30';

  it.each([
    ['curl', 'curl/8.5.0'],
    ['python-requests', 'python-requests/2.32.3'],
    [
      'headless Chrome',
      'Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0.6099.109 Safari/537.36',
    ],
  ])('anonymous admin request from %s is challenged', async (_name, userAgent) => {
    const response = await api(t, 'POST', '/api/v1/auth/login', {
      headers: from(ORDINARY, { 'user-agent': userAgent }),
      body: { email: 'owner@example.com', password: 'Wrong-Passw0rd!' },
    });
    expect(response.status).toBe(403);
    expect(response.body.code).toBe('challenge_required');
  });

  it('browser User-Agent is not challenged', async () => {
    const response = await me(ORDINARY, {
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    });
    expect(response.status).toBe(401);
  });

  it('session-shaped credential skips the challenge', async () => {
    const token = `mw_sess_${'A'.repeat(43)}`;
    const response = await me(ORDINARY, {
      'user-agent': 'curl/8.5.0',
      authorization: `Bearer ${token}`,
    });
    expect(response.status).toBe(401);
  });

  it('bot with a pass gets through', async () => {
    const pass = await earnPass(t, ORDINARY);
    const response = await me(ORDINARY, { 'user-agent': 'curl/8.5.0', [PASS_HEADER]: pass });
    expect(response.status).toBe(401);
  });

  it('gateway routes are not bot-challenged', async () => {
    const response = await fetch(`${t.url}/v1/models`, {
      headers: from(ORDINARY, { 'user-agent': 'curl/8.5.0', 'x-api-key': t.boot.apiKey }),
    });
    expect(response.status).toBe(200);
  });
});
