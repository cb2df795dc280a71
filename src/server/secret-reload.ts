import type { Logger } from 'pino';

import type { Config } from '../config/config.schema.js';
import { loadConfig } from '../config/load-config.js';
import { secretFileSettings, type SecretSetting } from '../config/secret-files.js';

/**
 * Secrets that take effect without a restart: the gateway reads provider keys at each call,
 * the mail transport reads the SMTP settings before each mail, and the database pool requests for
 * the password of DATABASE_URL whenever it opens a connection.
 */
const LIVE_SECRETS: ReadonlySet<SecretSetting> = new Set([
  'ANTHROPIC_API_KEY',
  'OPENAI_API_KEY',
  'SMTP_URL',
  'SMTP_PASSWORD',
  'DATABASE_URL',
]);

/** Returns `url` without its password, to compare the parts that need a new pool. */
function withoutPassword(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.toString();
}

/**
 * Checks that the password of `url` decodes as pg decodes it. A `%` that starts no valid escape
 * makes decodeURIComponent throw, and then every connection the pool opens would fail.
 */
function hasDecodablePassword(url: string | undefined): boolean {
  if (url === undefined) return true;
  try {
    decodeURIComponent(new URL(url).password);
    return true;
  } catch {
    return false;
  }
}

/** Outcome of one reload: names of the settings applied and of those that need a restart. */
export interface SecretReloadResult {
  applied: SecretSetting[];
  needRestart: SecretSetting[];
}

/**
 * Reads the `<NAME>_FILE` secrets again and writes the changed ones into `config`, which the
 * server's components read at each use. Logs the names of the changed settings, never their
 * values. A configuration that no longer parses is logged and leaves `config` unchanged.
 */
export function reloadSecretFiles(
  config: Config,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): SecretReloadResult {
  const result: SecretReloadResult = { applied: [], needRestart: [] };
  const fromFiles = secretFileSettings(env);
  let next: Config;
  try {
    next = loadConfig(env);
  } catch (error) {
    logger.error({ err: error }, 'secret reload failed; the current secrets stay in use');
    return result;
  }
  if (fromFiles.includes('DATABASE_URL') && !hasDecodablePassword(next.DATABASE_URL)) {
    logger.error(
      { variable: 'DATABASE_URL_FILE' },
      'secret reload failed: the DATABASE_URL password has an invalid percent-encoding, so the ' +
        'current secrets stay in use. Encode % as %25',
    );
    return result;
  }
  const writable = config as Record<SecretSetting, string | undefined>;
  for (const name of fromFiles) {
    if (next[name] === config[name]) continue;
    const passwordOnly =
      name !== 'DATABASE_URL' ||
      withoutPassword(next.DATABASE_URL) === withoutPassword(config.DATABASE_URL);
    if (LIVE_SECRETS.has(name) && passwordOnly) {
      writable[name] = next[name];
      result.applied.push(name);
    } else {
      result.needRestart.push(name);
    }
  }
  if (result.needRestart.length > 0) {
    logger.warn(
      { settings: result.needRestart },
      'changed secret settings take effect only after a restart',
    );
  }
  logger.info(
    { changed: result.applied, watched: fromFiles },
    result.applied.length > 0 ? 'reloaded secret settings' : 'no secret setting changed',
  );
  return result;
}
