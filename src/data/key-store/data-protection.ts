import { join } from 'node:path';

import type { Logger } from 'pino';

import type { Config } from '../../config/config.schema.js';
import { FieldCipher } from '../crypto/field-cipher.js';
import { KeyHierarchy } from '../crypto/key-hierarchy.js';
import type { Database } from '../database/database.js';
import { createKmsProvider } from '../kms/create-kms-provider.js';
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

/** Returns the KMS settings of `config`: the local file provider in `KMS_MASTER_KEY_DIR`. */
export function kmsConfig(
  config: Pick<Config, 'MINDWEAVE_DATA_DIR' | 'KMS_MASTER_KEY_DIR'>,
): KmsProviderConfig {
  return {
    type: 'local-file',
    directory: config.KMS_MASTER_KEY_DIR ?? join(config.MINDWEAVE_DATA_DIR, 'kms'),
    fileName: MASTER_KEY_FILE_NAME,
    masterKeyId: LOCAL_MASTER_KEY_ID,
  };
}

/** The key hierarchy of a server or CLI command, with the pieces it was built from. */
export interface DataProtection {
  kms: KmsProvider;
  store: DatabaseKeyStore;
  hierarchy: KeyHierarchy;
  /** Encrypts and decrypts column values under each organization's data key. */
  fieldCipher: FieldCipher;
}

/**
 * Opens the KMS provider (creating the local master key on first use), checks the master key and
 * creates missing purpose keys. The production warning of the provider is logged at `warn`.
 *
 * @throws KmsError when the master key file or folder is unsafe or the master key is disabled.
 */
export async function openDataProtection(
  config: Pick<Config, 'MINDWEAVE_DATA_DIR' | 'KMS_MASTER_KEY_DIR'>,
  db: Database,
  logger: Logger,
  nodeEnv: string | undefined = process.env.NODE_ENV,
): Promise<DataProtection> {
  const kms = await createKmsProvider(kmsConfig(config));
  const warning = kms.productionWarning(nodeEnv);
  if (warning !== undefined) {
    logger.warn({ kmsProvider: kms.providerName }, warning);
  }
  const store = new DatabaseKeyStore(db);
  const hierarchy = new KeyHierarchy({
    kms,
    masterKeyId: LOCAL_MASTER_KEY_ID,
    store,
    usageSink: new DatabaseKeyUsageSink(db),
    onRotationNeeded: (notice) =>
      logger.warn(
        { keyId: notice.keyId, keyVersion: notice.version, encryptions: notice.encryptions },
        'key version is near its encryption limit; rotate it with mindweave keys rotate',
      ),
  });
  // NOTE: initialize does not unwrap the stored purpose keys, so a master key file replaced by
  // a different key is only detected by the first decryption, which then fails.
  await hierarchy.initialize(SERVER_ACTOR);
  return { kms, store, hierarchy, fieldCipher: new FieldCipher(hierarchy) };
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
