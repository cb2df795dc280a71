import { join } from 'node:path';

import type { Logger } from 'pino';

import type { Config } from '../../config/config.schema.js';
import { ConfigError } from '../../config/load-config.js';
import { FieldCipher } from '../crypto/field-cipher.js';
import { KeyHierarchy } from '../crypto/key-hierarchy.js';
import type { Clock, KeyVersionRef } from '../crypto/key-types.js';
import type { Database, Queryable } from '../database/database.js';
import { configuredMasterKeyId, createKmsProvider } from '../kms/create-kms-provider.js';
import type {
  KmsProviderConfig,
  SingleKmsProviderConfig,
} from '../kms/create-kms-provider.js';
import type { KmsProvider } from '../kms/kms-provider.js';
import { assertMasterKeysHeld } from '../kms/master-key-rewrap.js';
import { destroyDueSubjectKeys } from '../personal-data/subject-erasure.js';
import type { DestroyedSubjectKey } from '../personal-data/subject-erasure.js';
import { rewrapSubjectKeys } from '../personal-data/subject-key-rewrap.js';
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

/**
 * Interval of the check that rotates keys due by age and destroys key versions past their
 * deletion date, in milliseconds.
 */
const MAINTENANCE_INTERVAL_MS = 60 * 60 * 1000;

/** Default age of an active key version at which it is rotated, in days. */
export const DEFAULT_ROTATION_DAYS = 365;

/**
 * Maximum number of keys that one maintenance pass re-wraps per purpose key after a scheduled
 * rotation. The next passes continue with the rest.
 */
export const DEFAULT_REWRAP_KEYS_PER_PASS = 1000;

/** Settings that select the KMS provider. Those of `pkcs11` may be absent for `local`. */
export type KmsSettings = Pick<Config, 'MINDWEAVE_DATA_DIR' | 'KMS_MASTER_KEY_DIR'> &
  Partial<
    Pick<
      Config,
      | 'KMS_PROVIDER'
      | 'KMS_DECRYPT_ONLY'
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
  const primary = singleKmsConfig(config, config.KMS_PROVIDER ?? 'local');
  if (config.KMS_DECRYPT_ONLY === undefined) return primary;
  if (config.KMS_DECRYPT_ONLY === (config.KMS_PROVIDER ?? 'local')) {
    throw new ConfigError('KMS_DECRYPT_ONLY', 'must name a provider other than KMS_PROVIDER');
  }
  return { ...primary, decryptOnly: singleKmsConfig(config, config.KMS_DECRYPT_ONLY) };
}

function singleKmsConfig(config: KmsSettings, provider: 'local' | 'pkcs11'): SingleKmsProviderConfig {
  if (provider === 'pkcs11') {
    const required = (name: 'PKCS11_LIBRARY' | 'PKCS11_TOKEN_LABEL' | 'PKCS11_PIN'): string => {
      const value = config[name];
      if (value === undefined) {
        throw new ConfigError(name, 'must be set when KMS_PROVIDER or KMS_DECRYPT_ONLY is pkcs11');
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

/** Location of the configured master key, for status output. It contains no secret. */
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
  config: KmsSettings & Partial<Pick<Config, 'KEY_DELETION_WAITING_DAYS'>>,
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
    // Fails closed at start when a purpose key is wrapped under a master key no provider holds.
    await assertMasterKeysHeld(db, kms);
    const store = new DatabaseKeyStore(db);
    const hierarchy = new KeyHierarchy({
      kms,
      masterKeyId,
      store,
      usageSink: new DatabaseKeyUsageSink(db),
      deletionWaitingDays: config.KEY_DELETION_WAITING_DAYS,
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

/** Actor recorded in the key usage log for rotations by age. */
export const ROTATION_SCHEDULE_ACTOR = 'rotation-schedule';

/** Timers of {@link startKeyMaintenance}; `stop` clears them. */
export interface KeyMaintenance {
  stop(): void;
}

/** Options of {@link startKeyMaintenance}. */
export interface KeyMaintenanceOptions {
  /**
   * Age in days after which an active purpose or data key version is rotated. 0 turns automatic
   * rotation off. Defaults to 365.
   */
  rotationDays?: number;
  /** Interval of the rotation and destruction checks, in milliseconds. Defaults to one hour. */
  checkIntervalMs?: number;
  /** Called with each key version the schedule created, after its rotation is stored. */
  onRotated?: (ref: KeyVersionRef) => Promise<void>;
  /** Called with each key version the check destroyed, after its destruction is stored. */
  onDestroyed?: (ref: KeyVersionRef) => Promise<void>;
  /**
   * With this set, the check also destroys the personal data keys of subjects whose erasure
   * date has passed. `audit` appends the audit entry of each erasure inside its transaction.
   */
  subjectErasure?: {
    db: Database;
    audit: (tx: Queryable, destroyed: DestroyedSubjectKey) => Promise<void>;
  };
  /** Time source for subject erasure dates. Defaults to the system clock. */
  clock?: Clock;
  /**
   * Maximum number of keys re-wrapped per purpose key and pass after a scheduled rotation of the
   * database or compliance key. Defaults to {@link DEFAULT_REWRAP_KEYS_PER_PASS}.
   */
  rewrapKeysPerPass?: number;
}

/**
 * Starts the key maintenance timers. One zeroes expired cached keys every minute. The other,
 * once soon after start and then every `checkIntervalMs`, rotates keys whose active version
 * is older than `rotationDays` and destroys key versions, and subject keys when
 * `subjectErasure` is set, whose deletion date has passed. Failures are logged and retried at
 * the next tick.
 *
 * After a scheduled rotation of the `database` key, the same pass and the following ones
 * re-wrap the data keys under older versions, at most `rewrapKeysPerPass` per pass. After a
 * rotation of the `compliance` key they re-wrap the subject keys in the same way, when
 * `subjectErasure` gives the database. The sign-in throttle key under the `application` key is re-wrapped at the next server start or
 * by `mindweave keys rewrap`, and until then it keeps the older version from being deleted.
 */
export function startKeyMaintenance(
  hierarchy: KeyHierarchy,
  logger: Logger,
  options: KeyMaintenanceOptions = {},
): KeyMaintenance {
  const rotationDays = options.rotationDays ?? DEFAULT_ROTATION_DAYS;
  const purgeTimer = setInterval(() => hierarchy.purgeExpiredKeys(), PURGE_INTERVAL_MS);
  purgeTimer.unref();
  let running = false;
  // NOTE: kept in memory only, so after a restart the rest of a re-wrap waits for
  // mindweave keys rewrap.
  const pendingRewraps = new Set<RewrapPurpose>();
  const check = () => {
    // A slow run is not overlapped by the next tick.
    if (running) return;
    running = true;
    // Each step logs its own failures, so the chain never rejects.
    void rotateDueKeys(hierarchy, logger, rotationDays, options.onRotated)
      .then(async (rotated) => {
        for (const purpose of rotated) pendingRewraps.add(purpose);
        await rewrapPending(hierarchy, logger, pendingRewraps, options);
      })
      .then(() => sweepDueDeletions(hierarchy, logger, options))
      .finally(() => {
        running = false;
      });
  };
  const firstCheck = setTimeout(check, 0);
  firstCheck.unref();
  const checkTimer = setInterval(check, options.checkIntervalMs ?? MAINTENANCE_INTERVAL_MS);
  checkTimer.unref();
  return {
    stop() {
      clearInterval(purgeTimer);
      clearTimeout(firstCheck);
      clearInterval(checkTimer);
      hierarchy.clearCache();
    },
  };
}

/** Purpose keys whose dependants the maintenance timer re-wraps after a scheduled rotation. */
type RewrapPurpose = 'database' | 'compliance';

/**
 * Rotates the keys due by age and returns the purpose keys among them whose dependants the
 * maintenance timer re-wraps.
 */
async function rotateDueKeys(
  hierarchy: KeyHierarchy,
  logger: Logger,
  rotationDays: number,
  onRotated: KeyMaintenanceOptions['onRotated'],
): Promise<RewrapPurpose[]> {
  if (rotationDays === 0) return [];
  const purposes: RewrapPurpose[] = [];
  try {
    for (const ref of await hierarchy.rotateDueKeys(rotationDays, ROTATION_SCHEDULE_ACTOR)) {
      logger.info(
        { keyId: ref.keyId, keyVersion: ref.version, rotationDays },
        'rotated key by age; new writes use the new version',
      );
      await onRotated?.(ref).catch((error: unknown) =>
        logger.error({ err: error, keyId: ref.keyId }, 'failed to record a scheduled rotation'),
      );
      const purpose = (await hierarchy.getKey(ref)).purpose;
      if (purpose === 'database' || purpose === 'compliance') purposes.push(purpose);
    }
  } catch (error) {
    logger.error({ err: error }, 'failed to rotate keys due by age');
  }
  return purposes;
}

/** Thrown from a re-wrap progress callback to end a pass at its key limit. */
class RewrapLimitReached extends Error {}

/** Counts of one re-wrap pass over one purpose key. */
export interface RewrapPassResult {
  purpose: RewrapPurpose;
  rewrapped: number;
  /** True when no key remains under an older version. */
  finished: boolean;
}

/**
 * Re-wraps the keys under older versions of `purpose`, at most `maxKeys` of them. A re-wrap
 * stopped at the limit leaves every key readable, and the next call continues.
 *
 * @throws the errors of the re-wrap, such as KeyStateError for a destroyed older version.
 */
export async function rewrapPurposeKeyDependants(
  hierarchy: KeyHierarchy,
  purpose: RewrapPurpose,
  options: { actor: string; maxKeys: number; db?: Database },
): Promise<RewrapPassResult> {
  let rewrapped = 0;
  const onRewrapped = (): void => {
    rewrapped += 1;
    if (rewrapped >= options.maxKeys) throw new RewrapLimitReached();
  };
  const batchSize = Math.min(100, options.maxKeys);
  try {
    if (purpose === 'database') {
      await hierarchy.rewrapDataKeys({ actor: options.actor, batchSize, onRewrapped });
    } else if (options.db !== undefined) {
      await rewrapSubjectKeys(options.db, hierarchy, {
        actor: options.actor,
        batchSize,
        onRewrapped,
      });
    }
  } catch (error) {
    if (!(error instanceof RewrapLimitReached)) throw error;
    return { purpose, rewrapped, finished: false };
  }
  return { purpose, rewrapped, finished: true };
}

/**
 * Runs one bounded re-wrap pass for each purpose in `pending` and removes the purposes that
 * finished. Failures are logged and the purpose stays pending for the next pass.
 */
async function rewrapPending(
  hierarchy: KeyHierarchy,
  logger: Logger,
  pending: Set<RewrapPurpose>,
  options: KeyMaintenanceOptions,
): Promise<void> {
  const db = options.subjectErasure?.db;
  for (const purpose of [...pending]) {
    if (purpose === 'compliance' && db === undefined) {
      pending.delete(purpose);
      continue;
    }
    try {
      const result = await rewrapPurposeKeyDependants(hierarchy, purpose, {
        actor: ROTATION_SCHEDULE_ACTOR,
        maxKeys: options.rewrapKeysPerPass ?? DEFAULT_REWRAP_KEYS_PER_PASS,
        db,
      });
      logger.info(
        { purpose, rewrapped: result.rewrapped, finished: result.finished },
        result.finished
          ? 're-wrapped keys under the rotated purpose key'
          : 're-wrapped keys under the rotated purpose key; the next check continues',
      );
      if (result.finished) pending.delete(purpose);
    } catch (error) {
      logger.error({ err: error, purpose }, 'failed to re-wrap keys after a scheduled rotation');
    }
  }
}

/** Key versions and subject keys destroyed by one {@link sweepDueDeletions} run. */
export interface DeletionSweepResult {
  keys: KeyVersionRef[];
  subjects: DestroyedSubjectKey[];
}

/**
 * Destroys every key version whose deletion date has passed, then, when
 * `options.subjectErasure` is set, the personal data keys of subjects whose erasure date has
 * passed. The key versions go first, because a subject's hierarchy data keys are due no later
 * than its personal data key. Failures are logged, and what failed is retried by the next run.
 */
export async function sweepDueDeletions(
  hierarchy: KeyHierarchy,
  logger: Logger,
  options: Pick<KeyMaintenanceOptions, 'onDestroyed' | 'subjectErasure' | 'clock'> = {},
): Promise<DeletionSweepResult> {
  const result: DeletionSweepResult = { keys: [], subjects: [] };
  try {
    for (const ref of await hierarchy.destroyDueKeys(SERVER_ACTOR)) {
      result.keys.push(ref);
      logger.info({ keyId: ref.keyId, keyVersion: ref.version }, 'destroyed key version');
      await options.onDestroyed?.(ref).catch((error: unknown) =>
        logger.error({ err: error, keyId: ref.keyId }, 'failed to record a key destruction'),
      );
    }
  } catch (error) {
    logger.error({ err: error }, 'failed to destroy due key versions');
  }
  const erasure = options.subjectErasure;
  if (erasure === undefined) return result;
  try {
    result.subjects = await destroyDueSubjectKeys(erasure.db, hierarchy, {
      actor: SERVER_ACTOR,
      now: (options.clock ?? (() => new Date()))(),
      audit: erasure.audit,
    });
    // Subject ids are pseudonymous ids such as user:<uuid>, never names or emails.
    for (const subject of result.subjects) {
      logger.info({ subjectId: subject.subjectId }, 'erased data subject: destroyed its key');
    }
  } catch (error) {
    logger.error({ err: error }, 'failed to erase data subjects due for erasure');
  }
  return result;
}
