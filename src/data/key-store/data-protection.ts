import { join } from 'node:path';

import type { Logger } from 'pino';

import type { Config } from '../../config/config.schema.js';
import { ConfigError } from '../../config/load-config.js';
import { FieldCipher } from '../crypto/field-cipher.js';
import { KeyHierarchy } from '../crypto/key-hierarchy.js';
import type { Database } from '../database/database.js';
import { configuredMasterKeyId, createKmsProvider } from '../kms/create-kms-provider.js';
import type { KmsProviderConfig } from '../kms/create-kms-provider.js';
import type { KmsProvider } from '../kms/kms-provider.js';
import { DatabaseKeyStore } from './database-key-store.js';
import { DatabaseKeyUsageSink } from './database-key-usage-sink.js';

/** Id of the master key in the local key file. */
export const LOCAL_MASTER_KEY_ID = 'local-master';

/** Name of the local master key file inside the KMS folder. */
export const MASTER_KEY_FILE_NAME = 'master.key';

/** Actor recorded in the key usage log for work the server does on its own. */
export const SERVER_ACTOR = 'server';

/** Interval of the sweep that zeroes expired cached keys, in milliseconds. */
const PURGE_INTERVAL_MS = 60 * 1000;

/** Interval of the check that destroys key versions past their deletion date, in milliseconds. */
const DESTROY_INTERVAL_MS = 60 * 60 * 1000;

/** The settings that select the KMS provider; those of `pkcs11` may be absent for `local`. */
export type KmsSettings = Pick<Config, 'MINDWEAVE_DATA_DIR' | 'KMS_MASTER_KEY_DIR'> &
  Partial<
    Pick<
      Config,
      | 'KMS_PROVIDER'
      | 'PKCS11_LIBRARY'
      | 'PKCS11_TOKEN_LABEL'
      | 'PKCS11_PIN'
      | 'PKCS11_KEY_LABEL'
      | 'PKCS11_CREATE_KEY'
    >
  >;

/** Default label of the master key on a PKCS#11 token. */
export const PKCS11_DEFAULT_KEY_LABEL = 'mindweave-master';

/**
 * Returns the KMS settings of `config`: the local file provider in `KMS_MASTER_KEY_DIR` by
 * default, or the PKCS#11 token when `KMS_PROVIDER` is `pkcs11`.
 *
 * @throws ConfigError when `KMS_PROVIDER` is `pkcs11` and a setting it needs is missing.
 */
export function kmsConfig(config: KmsSettings): KmsProviderConfig {
  if (config.KMS_PROVIDER === 'pkcs11') {
    const required = (name: 'PKCS11_LIBRARY' | 'PKCS11_TOKEN_LABEL' | 'PKCS11_PIN'): string => {
      const value = config[name];
      if (value === undefined) {
        throw new ConfigError(name, 'must be set when KMS_PROVIDER is pkcs11');
      }
      return value;
    };
    return {
      type: 'pkcs11',
      libraryPath: required('PKCS11_LIBRARY'),
      tokenLabel: required('PKCS11_TOKEN_LABEL'),
      pin: required('PKCS11_PIN'),
      keyLabel: config.PKCS11_KEY_LABEL ?? PKCS11_DEFAULT_KEY_LABEL,
      createKey: config.PKCS11_CREATE_KEY ?? false,
    };
  }
  return {
    type: 'local-file',
    directory: config.KMS_MASTER_KEY_DIR ?? join(config.MINDWEAVE_DATA_DIR, 'kms'),
    fileName: MASTER_KEY_FILE_NAME,
    masterKeyId: LOCAL_MASTER_KEY_ID,
  };
}

/** Where the configured master key is, for status output; it contains no secret. */
export interface KmsLocation {
  provider: 'local' | 'pkcs11';
  masterKeyId: string;
  /** The key file of the local provider, or the token label of the PKCS#11 provider. */
  location: string;
}

/** Describes the configured KMS provider and master key without opening the provider. */
export function describeKms(config: KmsSettings): KmsLocation {
  const settings = kmsConfig(config);
  if (settings.type === 'pkcs11') {
    return {
      provider: 'pkcs11',
      masterKeyId: settings.keyLabel,
      location: `token ${settings.tokenLabel} (${settings.libraryPath})`,
    };
  }
  return {
    provider: 'local',
    masterKeyId: configuredMasterKeyId(settings),
    location: join(settings.directory, settings.fileName ?? MASTER_KEY_FILE_NAME),
  };
}

/** The key hierarchy of a server or CLI command, with the pieces it was built from. */
export interface DataProtection {
  kms: KmsProvider;
  /** The master key that wraps the purpose keys. */
  masterKeyId: string;
  store: DatabaseKeyStore;
  hierarchy: KeyHierarchy;
  /** Encrypts and decrypts column values under each organization's data key. */
  fieldCipher: FieldCipher;
  /** Zeroes the cached keys and closes the KMS provider. */
  close(): Promise<void>;
}

/**
 * Opens the configured KMS provider (creating the local master key on first use), checks the
 * master key and creates missing purpose keys. The production warning of the provider is logged
 * at `warn`. The provider is closed again when a later step fails.
 *
 * @throws KmsError when the master key file or folder is unsafe, the HSM rejects the login or
 * has no such key, or the master key is disabled.
 */
export async function openDataProtection(
  config: KmsSettings,
  db: Database,
  logger: Logger,
  nodeEnv: string | undefined = process.env.NODE_ENV,
): Promise<DataProtection> {
  const settings = kmsConfig(config);
  const masterKeyId = configuredMasterKeyId(settings);
  const kms = await createKmsProvider(settings);
  try {
    const warning = kms.productionWarning(nodeEnv);
    if (warning !== undefined) {
      logger.warn({ kmsProvider: kms.providerName }, warning);
    }
    const store = new DatabaseKeyStore(db);
    const hierarchy = new KeyHierarchy({
      kms,
      masterKeyId,
      store,
      usageSink: new DatabaseKeyUsageSink(db),
      onRotationNeeded: (notice) =>
        logger.warn(
          { keyId: notice.keyId, keyVersion: notice.version, encryptions: notice.encryptions },
          'key version is near its encryption limit; rotate it with mindweave keys rotate',
        ),
    });
    // NOTE: initialize does not unwrap the stored purpose keys, so a master key replaced by a
    // different key is only detected by the first decryption, which then fails.
    await hierarchy.initialize(SERVER_ACTOR);
    logger.info({ kmsProvider: kms.providerName, masterKeyId }, 'key hierarchy ready');
    return {
      kms,
      masterKeyId,
      store,
      hierarchy,
      fieldCipher: new FieldCipher(hierarchy),
      async close() {
        hierarchy.clearCache();
        await kms.close?.();
      },
    };
  } catch (error) {
    await kms.close?.();
    throw error;
  }
}

/** Timers of {@link startKeyMaintenance}; `stop` clears them. */
export interface KeyMaintenance {
  stop(): void;
}

/**
 * Starts two timers: one zeroes expired cached keys every minute, and one destroys key versions
 * whose deletion date has passed every hour. Failures are logged and retried at the next tick.
 */
export function startKeyMaintenance(hierarchy: KeyHierarchy, logger: Logger): KeyMaintenance {
  const purgeTimer = setInterval(() => hierarchy.purgeExpiredKeys(), PURGE_INTERVAL_MS);
  purgeTimer.unref();
  let destroying = false;
  const destroyTimer = setInterval(() => {
    // A slow run is not overlapped by the next tick.
    if (destroying) return;
    destroying = true;
    hierarchy
      .destroyDueKeys(SERVER_ACTOR)
      .then((destroyed) => {
        for (const ref of destroyed) {
          logger.info({ keyId: ref.keyId, keyVersion: ref.version }, 'destroyed key version');
        }
      })
      .catch((error: unknown) => logger.error({ err: error }, 'failed to destroy due key versions'))
      .finally(() => {
        destroying = false;
      });
  }, DESTROY_INTERVAL_MS);
  destroyTimer.unref();
  return {
    stop() {
      clearInterval(purgeTimer);
      clearInterval(destroyTimer);
      hierarchy.clearCache();
    },
  };
}
