/* eslint-disable security/detect-non-literal-fs-filename -- the operator names these files. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

import { ConfigError } from './config-error.js';

/**
 * Settings that carry a secret (a password, key, PIN or a URL that may contain a password).
 * Each can also be read from the file that `<NAME>_FILE` names, as container secrets are mounted.
 */
export const SECRET_SETTINGS = [
  'DATABASE_URL',
  'REDIS_URL',
  'ANTHROPIC_API_KEY',
  'OPENAI_API_KEY',
  'SMTP_URL',
  'SMTP_PASSWORD',
  'PKCS11_PIN',
  'CHALLENGE_SECRET',
] as const;

/** Name of one secret setting. */
export type SecretSetting = (typeof SECRET_SETTINGS)[number];

/** Largest secret file read, in bytes. The longest secret setting accepts 4096 characters. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** Reads one secret file and drops one trailing newline (`\n` or `\r\n`). */
function readSecretFile(fileVariable: string, filePath: string): string {
  let descriptor: number;
  try {
    descriptor = openSync(filePath, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ConfigError(fileVariable, `names a file that cannot be read (${code}): ${filePath}`);
  }
  try {
    const stats = fstatSync(descriptor);
    if (!stats.isFile()) {
      throw new ConfigError(fileVariable, `names ${filePath}, which is not a regular file`);
    }
    if (stats.size > MAX_SECRET_FILE_BYTES) {
      throw new ConfigError(
        fileVariable,
        `names ${filePath}, which is larger than ${MAX_SECRET_FILE_BYTES} bytes`,
      );
    }
    const buffer = Buffer.alloc(stats.size);
    const length = readSync(descriptor, buffer, 0, stats.size, 0);
    const value = buffer
      .subarray(0, length)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    buffer.fill(0);
    if (value === '') {
      throw new ConfigError(fileVariable, `names ${filePath}, which is empty`);
    }
    return value;
  } finally {
    closeSync(descriptor);
  }
}

/**
 * Returns a copy of `env` in which each secret setting whose `<NAME>_FILE` is set holds the
 * content of that file. Messages name the variable and the path, never the content.
 *
 * @throws ConfigError when both `<NAME>` and `<NAME>_FILE` are set, or the file cannot be read,
 * is not a regular file, is empty or is larger than 64 KiB.
 */
export function resolveSecretFiles(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const resolved: NodeJS.ProcessEnv = { ...env };
  for (const name of SECRET_SETTINGS) {
    const fileVariable = `${name}_FILE`;
    const filePath = env[fileVariable];
    if (filePath === undefined || filePath === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      throw new ConfigError(name, `and ${fileVariable} are both set; set only one of them`);
    }
    resolved[name] = readSecretFile(fileVariable, filePath);
  }
  return resolved;
}

/** Returns the `<NAME>_FILE` variables set in `env`, by secret setting. */
export function secretFileSettings(env: NodeJS.ProcessEnv): SecretSetting[] {
  return SECRET_SETTINGS.filter((name) => {
    const filePath = env[`${name}_FILE`];
    return filePath !== undefined && filePath !== '';
  });
}
