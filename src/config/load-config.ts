import { ConfigError } from './config-error.js';
import { configSchema, type Config } from './config.schema.js';
import { resolveSecretFiles } from './secret-files.js';

export { ConfigError };

/**
 * Parses the configuration from environment variables, reading each secret setting from the
 * file that `<NAME>_FILE` names when that is set.
 * The message of a failure names the first invalid variable and never echoes secret values.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(resolveSecretFiles(env));
  if (result.success) {
    assertKmsSettings(result.data);
    return result.data;
  }

  const issue = result.error.issues[0];
  const variable = String(issue?.path[0] ?? 'environment');
  const detail = issue?.message ?? 'is invalid';
  throw new ConfigError(variable, detail.startsWith('must') ? detail : `is invalid: ${detail}`);
}

/** Settings that `KMS_PROVIDER=pkcs11` needs and that have no default. */
const PKCS11_REQUIRED = ['PKCS11_LIBRARY', 'PKCS11_TOKEN_LABEL', 'PKCS11_PIN'] as const;

/** Checks the settings that the selected KMS provider needs. */
function assertKmsSettings(config: Config): void {
  if (config.KMS_PROVIDER !== 'pkcs11') return;
  for (const name of PKCS11_REQUIRED) {
    if (config[name] === undefined) {
      throw new ConfigError(name, 'must be set when KMS_PROVIDER is pkcs11');
    }
  }
}
