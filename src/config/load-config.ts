import { configSchema, type Config } from './config.schema.js';

/** Raised when an environment variable is invalid; the CLI prints it and exits with code 2. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`invalid configuration: ${variable} ${detail}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the configuration from environment variables.
 * The message of a failure names the first invalid variable and never echoes secret values.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(env);
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
