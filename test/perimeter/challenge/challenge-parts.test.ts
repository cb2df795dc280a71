/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isAutomationUserAgent } from '../../../src/perimeter/challenge/bot-signatures.js';
import {
  challengeKeyPath,
  loadChallengeKeys,
} from '../../../src/perimeter/challenge/challenge-keys.js';
import {
  leadingZeroBits,
  proofOfWorkBits,
} from '../../../src/perimeter/challenge/proof-of-work.js';
import { openToken, signToken } from '../../../src/perimeter/challenge/signed-token.js';
import { MemorySpentChallenges } from '../../../src/perimeter/challenge/spent-challenges.js';

describe('leading zero bits', () => {
  it.each([
    ['ff', 0],
    ['80', 0],
    ['7f', 1],
    ['01', 7],
    ['00ff', 8],
    ['0010', 11],
    ['000001', 23],
    ['0000', 16],
  ])('%s has %i', (hex, bits) => {
    expect(leadingZeroBits(Buffer.from(hex, 'hex'))).toBe(bits);
  });

  it('hashes challenge then nonce', () => {
    // SHA-256("abc") starts with ba 78: no leading zero bits.
    expect(proofOfWorkBits('ab', 'c')).toBe(0);
    const digest = createHash('sha256').update('challenge.mac12345').digest();
    expect(proofOfWorkBits('challenge.mac', '12345')).toBe(leadingZeroBits(digest));
  });
});

describe('signed token', () => {
  const key = Buffer.alloc(32, 7);

  it('round-trips the payload', () => {
    expect(openToken(key, signToken(key, { typ: 'pass', exp: 5 }))).toEqual({
      typ: 'pass',
      exp: 5,
    });
  });

  it.each([
    ['another key', (token: string) => token, Buffer.alloc(32, 8)],
    ['an altered body', (token: string) => `e30${token}`, undefined],
    ['an extra signature character', (token: string) => `${token}A`, undefined],
    ['no signature', (token: string) => token.split('.')[0] ?? '', undefined],
    ['a third part', (token: string) => `${token}.x`, undefined],
    ['an over-long token', (token: string) => token + 'A'.repeat(1100), undefined],
  ])('rejects %s', (_name, change, otherKey) => {
    const token = change(signToken(key, { typ: 'pass' }));
    expect(openToken(otherKey ?? key, token)).toBeNull();
  });
});

describe('memory spent set', () => {
  it('accepts each id once until it expires', async () => {
    let now = 1000;
    const spent = new MemorySpentChallenges(10, () => now);
    expect(await spent.spend('a', 2000)).toBe('first');
    expect(await spent.spend('a', 2000)).toBe('spent');
    now = 2000;
    expect(await spent.spend('b', 3000)).toBe('first');
    expect(spent.size).toBe(1);
  });

  it('rejects rather than forgets when full', async () => {
    const now = 1000;
    const spent = new MemorySpentChallenges(2, () => now);
    expect(await spent.spend('a', 5000)).toBe('first');
    expect(await spent.spend('b', 5000)).toBe('first');
    expect(await spent.spend('c', 5000)).toBe('unavailable');
    expect(await spent.spend('a', 5000)).toBe('spent');
  });
});

describe('challenge keys', () => {
  let folder: string;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'mindweave-challenge-keys-'));
  });

  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('creates the key file once with mode 0600', async () => {
    const config = { MINDWEAVE_DATA_DIR: folder, CHALLENGE_SECRET: undefined };
    const first = await loadChallengeKeys(config);
    const second = await loadChallengeKeys(config);
    expect(second.pass.equals(first.pass)).toBe(true);
    expect(first.pass.equals(first.challenge)).toBe(false);
    const info = await stat(challengeKeyPath(config));
    expect(info.mode & 0o777).toBe(0o600);
    expect((await readFile(challengeKeyPath(config))).length).toBe(32);
  });

  it('CHALLENGE_SECRET replaces the file', async () => {
    const fromFile = await loadChallengeKeys({
      MINDWEAVE_DATA_DIR: folder,
      CHALLENGE_SECRET: undefined,
    });
    const secret = 's'.repeat(40);
    const fromSecret = await loadChallengeKeys({
      MINDWEAVE_DATA_DIR: folder,
      CHALLENGE_SECRET: secret,
    });
    const again = await loadChallengeKeys({
      MINDWEAVE_DATA_DIR: '/nonexistent',
      CHALLENGE_SECRET: secret,
    });
    expect(fromSecret.pass.equals(fromFile.pass)).toBe(false);
    expect(again.pass.equals(fromSecret.pass)).toBe(true);
  });

  it('rejects a key file others can read', async () => {
    const other = await mkdtemp(join(folder, 'open-'));
    const config = { MINDWEAVE_DATA_DIR: other, CHALLENGE_SECRET: undefined };
    await loadChallengeKeys(config);
    await chmod(challengeKeyPath(config), 0o644);
    await expect(loadChallengeKeys(config)).rejects.toThrow('run chmod 600');
  });

  it('rejects a key file of the wrong size', async () => {
    const other = await mkdtemp(join(folder, 'short-'));
    const config = { MINDWEAVE_DATA_DIR: other, CHALLENGE_SECRET: undefined };
    await loadChallengeKeys(config);
    await writeFile(challengeKeyPath(config), Buffer.alloc(16));
    await expect(loadChallengeKeys(config)).rejects.toThrow('must contain 32 bytes, found 16');
  });
});

describe('automation User-Agent', () => {
  it.each([
    'curl/8.5.0',
    'Wget/1.21.4',
    'HTTPie/3.2.2',
    'python-requests/2.32.3',
    'Python-urllib/3.12',
    'python-httpx/0.27.0',
    'Python/3.12 aiohttp/3.9.5',
    'Scrapy/2.11.2 (+https://scrapy.org)',
    'Go-http-client/2.0',
    'Java/17.0.9',
    'Java-http-client/21.0.1',
    'Apache-HttpClient/5.3 (Java/17.0.9)',
    'okhttp/4.12.0',
    'libwww-perl/6.72',
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1',
  ])('%s is automation', (userAgent) => {
    expect(isAutomationUserAgent(userAgent)).toBe(true);
  });

  it.each([
    'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    'node',
    'Anthropic/JS 0.32.1',
    'OpenAI/Python 1.54.0',
    'my-curl-wrapper/1.0',
    'JavaScript/1.0',
  ])('%s is not', (userAgent) => {
    expect(isAutomationUserAgent(userAgent)).toBe(false);
  });
});
