/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { configSchema } from '../../src/config/config.schema.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { SECRET_SETTINGS, type SecretSetting } from '../../src/config/secret-files.js';

/** A valid value of every secret setting. */
const VALUES: Record<SecretSetting, string> = {
  DATABASE_URL: 'postgres://mindweave:db-pass-from-file@127.0.0.1:5432/mindweave',
  REDIS_URL: 'redis://:redis-pass-from-file@127.0.0.1:6379/0',
  ANTHROPIC_API_KEY: 'sk-ant-from-file-1234',
  OPENAI_API_KEY: 'sk-openai-from-file-5678',
  SMTP_URL: 'smtp://mailer:smtp-url-pass@127.0.0.1:2525',
  SMTP_PASSWORD: 'smtp password from file',
  PKCS11_PIN: 'pin-from-file-9911',
  CHALLENGE_SECRET: 'challenge-secret-from-file-0123456789abcdef',
};

let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'mindweave-secret-files-'));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

async function secretFile(name: string, content: string): Promise<string> {
  const file = path.join(folder, name);
  await writeFile(file, content, { mode: 0o600 });
  return file;
}

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('loadConfig accepted the settings');
}

describe('secret settings from files', () => {
  it('lists only settings of the schema', () => {
    for (const name of SECRET_SETTINGS) {
      expect(Object.keys(configSchema.shape)).toContain(name);
    }
  });

  it('reads every secret from its file', async () => {
    const env: Record<string, string> = { KMS_PROVIDER: 'pkcs11', PKCS11_LIBRARY: '/lib.so' };
    env.PKCS11_TOKEN_LABEL = 'mindweave';
    for (const name of SECRET_SETTINGS) {
      env[`${name}_FILE`] = await secretFile(name, `${VALUES[name]}\n`);
    }
    const config = loadConfig(env);
    for (const name of SECRET_SETTINGS) {
      expect(config[name], name).toBe(VALUES[name]);
    }
  });

  it('drops one trailing newline only', async () => {
    const crlf = await secretFile('crlf', 'sk-ant-crlf-key\r\n');
    expect(loadConfig({ ANTHROPIC_API_KEY_FILE: crlf }).ANTHROPIC_API_KEY).toBe('sk-ant-crlf-key');
    const spaced = await secretFile('spaced', 'pass word \n\n');
    expect(loadConfig({ SMTP_PASSWORD_FILE: spaced }).SMTP_PASSWORD).toBe('pass word \n');
    const bare = await secretFile('bare', 'sk-no-newline');
    expect(loadConfig({ OPENAI_API_KEY_FILE: bare }).OPENAI_API_KEY).toBe('sk-no-newline');
  });

  it('rejects a setting and its file together', async () => {
    const file = await secretFile('both', 'sk-ant-in-file\n');
    const error = configError({ ANTHROPIC_API_KEY: 'sk-ant-in-env', ANTHROPIC_API_KEY_FILE: file });
    expect(error.variable).toBe('ANTHROPIC_API_KEY');
    expect(error.message).toBe(
      'invalid configuration: ANTHROPIC_API_KEY and ANTHROPIC_API_KEY_FILE are both set; ' +
        'set only one of them',
    );
  });

  it('ignores an empty file variable', () => {
    const config = loadConfig({ OPENAI_API_KEY: 'sk-env', OPENAI_API_KEY_FILE: '' });
    expect(config.OPENAI_API_KEY).toBe('sk-env');
  });

  it('names the variable of a missing file', () => {
    const missing = path.join(folder, 'missing');
    const error = configError({ PKCS11_PIN_FILE: missing });
    expect(error.variable).toBe('PKCS11_PIN_FILE');
    expect(error.message).toBe(
      `invalid configuration: PKCS11_PIN_FILE names a file that cannot be read (ENOENT): ${missing}`,
    );
  });

  it('rejects folders, empty and oversized files', async () => {
    const directory = path.join(folder, 'a-folder');
    await mkdir(directory);
    expect(configError({ SMTP_PASSWORD_FILE: directory }).message).toContain(
      'SMTP_PASSWORD_FILE names',
    );
    expect(configError({ SMTP_PASSWORD_FILE: directory }).message).toContain('not a regular file');
    const empty = await secretFile('empty', '\n');
    expect(configError({ SMTP_PASSWORD_FILE: empty }).message).toBe(
      `invalid configuration: SMTP_PASSWORD_FILE names ${empty}, which is empty`,
    );
    const large = await secretFile('large', 'x'.repeat(70_000));
    expect(configError({ SMTP_PASSWORD_FILE: large }).message).toContain('larger than 65536 bytes');
  });

  it('validates file content without echoing it', async () => {
    const content = 'mysql://user:leaky-password@db/mindweave';
    const file = await secretFile('wrong-scheme', `${content}\n`);
    const error = configError({ DATABASE_URL_FILE: file });
    expect(error.variable).toBe('DATABASE_URL');
    expect(error.message).not.toContain('leaky-password');
    const short = await secretFile('short-challenge', 'too short\n');
    const challenge = configError({ CHALLENGE_SECRET_FILE: short });
    expect(challenge.message).toBe(
      'invalid configuration: CHALLENGE_SECRET must be at least 32 characters',
    );
  });
});
