import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadLoginThrottleKey } from '../../src/application/auth/login-throttle-key.js';
import type { Database } from '../../src/data/database/database.js';
import { openMemoryDatabase } from '../../src/data/database/embedded-database.js';
import { migrate } from '../../src/data/database/migrate.js';
import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import {
  openDataProtection,
  type DataProtection,
} from '../../src/data/key-store/data-protection.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { createUser, expectError, SecretRecorder, signIn } from './identity-api.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const WRONG_PASSWORD = 'not-the-password-1234';

describe('throttle counter names in Redis', () => {
  let t: TestServer;
  const prefix = `mindweave-test:${randomBytes(6).toString('hex')}:`;
  const recorder = new SecretRecorder();
  recorder.add(WRONG_PASSWORD);
  const redis = new Redis(REDIS_URL, { lazyConnect: true });

  beforeAll(async () => {
    t = await startTestServer({ env: { REDIS_URL, LOGIN_THROTTLE_REDIS_PREFIX: prefix } });
    await redis.connect();
  }, 120_000);

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await t?.stop();
  });

  it('reveal no email or address', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    expectError(await signIn(t, recorder, user.email, WRONG_PASSWORD), 401, 'unauthorized');

    const accountKeys = await redis.keys(`${prefix}account:*`);
    expect(accountKeys).toHaveLength(1);
    const name = (accountKeys[0] as string).slice(`${prefix}account:`.length);
    const email = user.email.toLowerCase();
    const sha256 = createHash('sha256').update(email, 'utf8');
    const digest = sha256.digest();
    expect(name).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(name).not.toBe(digest.toString('base64url'));
    expect(name).not.toBe(digest.toString('hex'));
    expect(name).not.toContain(email);
    expect(name).not.toContain(email.split('@')[0]);

    const addressKeys = await redis.keys(`${prefix}ip:*`);
    expect(addressKeys).toHaveLength(1);
    expect(addressKeys[0]).not.toContain('127.0.0.1');
    const allKeys = (await redis.keys(`${prefix}*`)).join('\n');
    expect(allKeys).not.toContain(email);
    expect(allKeys).not.toContain('127.0.0.1');
  });

  it('still lock the account', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    for (let i = 0; i < 5; i++) {
      expectError(await signIn(t, recorder, user.email, WRONG_PASSWORD), 401, 'unauthorized');
    }
    expectError(await signIn(t, recorder, user.email, user.password), 429, 'rate_limited');
  });
});

describe('login throttle key', () => {
  const logger = pino({ level: 'silent' });
  let directory: string;
  let db: Database;
  let keys: DataProtection;

  async function storedVersion(): Promise<number | undefined> {
    const result = await db.query<{ version: number }>(
      'SELECT application_key_version AS version FROM login_throttle_keys WHERE id = 1',
    );
    return result.rows[0]?.version;
  }

  beforeAll(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'mindweave-throttle-key-'));
    db = await openMemoryDatabase();
    await migrate(db);
    await db.query(`SET ROLE ${APPLICATION_ROLE}`);
    keys = await openDataProtection(
      { MINDWEAVE_DATA_DIR: directory, KMS_MASTER_KEY_DIR: undefined },
      db,
      logger,
      'test',
    );
  }, 120_000);

  afterAll(async () => {
    await keys?.close();
    await db?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('is shared by every load', async () => {
    const first = await loadLoginThrottleKey(db, keys.hierarchy);
    const second = await loadLoginThrottleKey(db, keys.hierarchy);
    expect(second.name('account', 'k')).toBe(first.name('account', 'k'));
    expect(first.name('ip', 'k')).not.toBe(first.name('account', 'k'));
    expect(await storedVersion()).toBe(1);
  });

  it('moves to a rotated application key', async () => {
    const before = await loadLoginThrottleKey(db, keys.hierarchy);
    const keyId = await keys.hierarchy.purposeKeyId('application', 'test');
    const rotated = await keys.hierarchy.rotate(keyId, 'test');
    const after = await loadLoginThrottleKey(db, keys.hierarchy);
    expect(after.name('account', 'k')).toBe(before.name('account', 'k'));
    expect(await storedVersion()).toBe(rotated.version);
  });

  it('is replaced when it cannot be unwrapped', async () => {
    const before = await loadLoginThrottleKey(db, keys.hierarchy);
    await db.query('UPDATE login_throttle_keys SET wrapped_key = $1 WHERE id = 1', [
      randomBytes(60),
    ]);
    const after = await loadLoginThrottleKey(db, keys.hierarchy);
    expect(after.name('account', 'k')).not.toBe(before.name('account', 'k'));
    const again = await loadLoginThrottleKey(db, keys.hierarchy);
    expect(again.name('account', 'k')).toBe(after.name('account', 'k'));
  });
});
