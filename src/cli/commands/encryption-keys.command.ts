import type { Command } from 'commander';
import { pino } from 'pino';
import { z } from 'zod';

import { KeyStateError } from '../../data/crypto/errors.js';
import type {
  KeyOwner,
  KeyPurpose,
  KeyRecord,
  KeyVersionRef,
} from '../../data/crypto/key-types.js';
import { PURPOSE_KEY_NAMES } from '../../data/crypto/key-types.js';
import type { Config } from '../../config/config.schema.js';
import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import type { StoredKeyVersion } from '../../data/key-store/database-key-store.js';
import { DatabaseKeyStore } from '../../data/key-store/database-key-store.js';
import {
  DEFAULT_ROTATION_DAYS,
  describeKms,
  openDataProtection,
  type KmsLocation,
} from '../../data/key-store/data-protection.js';
import {
  listPurposeKeyDependants,
  type PurposeKeyDependants,
} from '../../data/key-store/purpose-key-dependants.js';
import {
  listSubjectErasures,
  type SubjectErasureStatus,
} from '../../data/personal-data/subject-erasure.js';
import { PLATFORM_KEY_TENANT } from '../../data/personal-data/user-field-protection.js';
import { reencryptProviderKeys } from '../../gateway/provider-keys/provider-key-reencryption.js';
import type { ReencryptionResult } from '../../gateway/provider-keys/provider-key-reencryption.js';
import { SYSTEM_ACTOR, SYSTEM_CONTEXT } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { createLogger } from '../../monitoring/logging/logger.js';
import { printJson, UsageError, withDatabase } from '../cli-context.js';
import { registerKeyDeletionCommands } from './key-deletion.command.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Actor recorded in the key usage log for rotations started from the command line. */
const CLI_ACTOR = 'cli';

const ROTATABLE_PURPOSES = [...PURPOSE_KEY_NAMES, 'data'] as const;

/** One key version as `keys status` reports it. */
export interface KeyVersionStatus {
  keyId: string;
  purpose: KeyPurpose;
  owner: KeyOwner;
  version: number;
  state: KeyRecord['state'];
  createdAt: string;
  ageDays: number;
  encryptions: number;
  /** Earliest destruction time of a version scheduled for deletion. */
  deletionDate: string | null;
  destroyedAt: string | null;
  /** Rotation deadline of the active version, by age. Null for other states. */
  nextRotation: string | null;
  rotationDue: boolean;
  /**
   * Keys still wrapped under a purpose key version, which keep it from being deleted until
   * `keys rewrap` moves them. Null for data keys.
   */
  wrappedKeys: WrappedKeyCounts | null;
}

/** Number of keys wrapped under one purpose key version, by kind. */
export interface WrappedKeyCounts {
  /** Data key versions that are not destroyed. */
  dataKeys: number;
  /** Per-subject keys of `personal_data_keys` (compliance key only). */
  subjectKeys: number;
  /** The sign-in throttle key of `login_throttle_keys` (application key only). */
  loginThrottleKeys: number;
}

/**
 * Returns the status of every stored key version at time `now`. `dependants` gives the wrapped
 * key counts of the purpose key versions, and a purpose key version missing from it gets null.
 */
export function keyStatus(
  versions: readonly StoredKeyVersion[],
  now: Date,
  rotationDays: number,
  dependants: readonly PurposeKeyDependants[] = [],
): KeyVersionStatus[] {
  const counts = new Map<string, WrappedKeyCounts>();
  for (const entry of dependants) {
    counts.set(`${entry.keyId}:${entry.version}`, {
      dataKeys: entry.dataKeys,
      subjectKeys: entry.subjectKeys,
      loginThrottleKeys: entry.loginThrottleKeys,
    });
  }
  return versions.map(({ record, encryptionCount }) => {
    const nextRotation =
      record.state === 'active'
        ? new Date(record.createdAt.getTime() + rotationDays * DAY_MS)
        : null;
    return {
      keyId: record.keyId,
      purpose: record.purpose,
      owner: record.owner,
      version: record.version,
      state: record.state,
      createdAt: record.createdAt.toISOString(),
      ageDays: Math.floor((now.getTime() - record.createdAt.getTime()) / DAY_MS),
      encryptions: encryptionCount,
      deletionDate: record.deletionDate?.toISOString() ?? null,
      destroyedAt: record.destroyedAt?.toISOString() ?? null,
      nextRotation: nextRotation?.toISOString() ?? null,
      rotationDue: nextRotation !== null && nextRotation.getTime() <= now.getTime(),
      wrappedKeys:
        record.purpose === 'data'
          ? null
          : (counts.get(`${record.keyId}:${record.version}`) ?? null),
    };
  });
}

function describeOwner(owner: KeyOwner): string {
  switch (owner.kind) {
    case 'system':
      return 'system';
    case 'tenant':
      return `org ${owner.tenant}`;
    case 'subject':
      return `org ${owner.tenant} subject ${owner.subject}`;
  }
}

function printKms(kms: KmsLocation): void {
  process.stdout.write(
    `kms provider: ${kms.provider}, master key ${kms.masterKeyId} in ${kms.location}\n`,
  );
}

/** Describes the keys wrapped under a purpose key version, such as "wraps 3 data keys". */
function describeWrappedKeys(counts: WrappedKeyCounts): string {
  const parts: string[] = [];
  if (counts.dataKeys > 0) parts.push(`${counts.dataKeys} data keys`);
  if (counts.subjectKeys > 0) parts.push(`${counts.subjectKeys} subject keys`);
  if (counts.loginThrottleKeys > 0) {
    parts.push(`${counts.loginThrottleKeys} sign-in throttle key`);
  }
  return parts.length === 0 ? 'wraps no key' : `wraps ${parts.join(', ')}`;
}

function printStatus(statuses: readonly KeyVersionStatus[]): void {
  if (statuses.length === 0) {
    process.stdout.write('no encryption keys yet: start the server once to create them\n');
    return;
  }
  for (const status of statuses) {
    const columns = [
      status.purpose.padEnd(11),
      describeOwner(status.owner).padEnd(44),
      `${status.keyId} v${status.version}`.padEnd(32),
      status.state.padEnd(22),
      `${status.ageDays} days old`,
    ];
    if (status.deletionDate !== null && status.state === 'scheduled_for_deletion') {
      columns.push(`deletion ${status.deletionDate}`);
    }
    if (status.nextRotation !== null) {
      columns.push(
        `${status.rotationDue ? 'rotation due since' : 'rotate by'} ${status.nextRotation}`,
      );
    }
    if (status.wrappedKeys !== null && status.state !== 'destroyed') {
      columns.push(describeWrappedKeys(status.wrappedKeys));
    }
    process.stdout.write(`${columns.join('  ')}\n`);
  }
}

function printSubjectErasures(erasures: readonly SubjectErasureStatus[]): void {
  for (const erasure of erasures) {
    const when =
      erasure.state === 'scheduled'
        ? `keys destroyed after ${erasure.deletionDate.toISOString()}`
        : `erased ${erasure.destroyedAt?.toISOString() ?? ''}`;
    process.stdout.write(
      `subject erasure  ${erasure.subjectId.padEnd(44)}  ${erasure.state.padEnd(9)}  ${when}\n`,
    );
  }
}

/** Converts a subject erasure to the form that `keys status --json` prints. */
function subjectErasureJson(erasure: SubjectErasureStatus): Record<string, string | null> {
  return {
    subjectId: erasure.subjectId,
    state: erasure.state,
    deletionDate: erasure.deletionDate.toISOString(),
    destroyedAt: erasure.destroyedAt?.toISOString() ?? null,
  };
}

/** A rotation request from the command line, validated. */
interface RotationTarget {
  purpose: (typeof ROTATABLE_PURPOSES)[number];
  orgId?: string;
}

function parseRotationTarget(options: { purpose?: string; org?: string }): RotationTarget {
  if (options.purpose === undefined && options.org === undefined) {
    throw new UsageError('pass --purpose or --org to choose the key to rotate');
  }
  const purpose = options.purpose ?? 'data';
  if (!(ROTATABLE_PURPOSES as readonly string[]).includes(purpose)) {
    throw new UsageError(`--purpose must be one of ${ROTATABLE_PURPOSES.join(', ')}`);
  }
  if (options.org !== undefined) {
    if (!z.uuid().safeParse(options.org).success) {
      throw new UsageError('--org must be an organization id (a UUID)');
    }
    if (purpose !== 'data') {
      throw new UsageError('--org rotates an organization data key: omit --purpose or pass data');
    }
    return { purpose: 'data', orgId: options.org };
  }
  return { purpose: purpose as RotationTarget['purpose'] };
}

/** Returns the key ids that `target` selects, creating none. */
async function selectKeyIds(
  db: Database,
  store: DatabaseKeyStore,
  target: RotationTarget,
): Promise<{ keyId: string; orgId: string | null }[]> {
  if (target.orgId !== undefined) {
    const orgId = target.orgId;
    const org = await inTenant(db, orgId, (tx) =>
      tx.query('SELECT 1 FROM organizations WHERE id = $1', [orgId]),
    );
    if (org.rows.length === 0) throw new UsageError(`organization ${target.orgId} not found`);
    const keyId = await store.findKeyId('data', { kind: 'tenant', tenant: target.orgId });
    if (keyId === undefined) {
      throw new UsageError(
        `organization ${target.orgId} has no data key yet; it is created with its first encrypted value`,
      );
    }
    return [{ keyId, orgId: target.orgId }];
  }
  if (target.purpose !== 'data') {
    const keyId = await store.findKeyId(target.purpose, { kind: 'system' });
    if (keyId === undefined) {
      throw new UsageError(`no ${target.purpose} key yet: start the server once to create it`);
    }
    return [{ keyId, orgId: null }];
  }
  // Every organization data key and the platform key of user fields, but not the per-subject
  // keys. The platform key belongs to no organization, so its orgId is null.
  const keyIds = new Map<string, string | null>();
  for (const { record } of await store.listAllVersions()) {
    if (record.purpose === 'data' && record.owner.kind === 'tenant') {
      const tenant = record.owner.tenant;
      keyIds.set(record.keyId, tenant === PLATFORM_KEY_TENANT ? null : tenant);
    }
  }
  return [...keyIds].map(([keyId, orgId]) => ({ keyId, orgId }));
}

/** One rotated key, with the re-encryption counts when `--reencrypt` was given. */
interface RotatedKey {
  keyId: string;
  purpose: RotationTarget['purpose'];
  orgId: string | null;
  version: number;
  reencryption?: ReencryptionResult;
}

/** Rotates every key `target` selects, audits each rotation and optionally re-encrypts. */
async function rotateKeys(
  db: Database,
  config: Config,
  target: RotationTarget,
  reencrypt: boolean,
): Promise<RotatedKey[]> {
  // Log lines go to stderr, so stdout keeps only the command's output.
  const logger = createLogger(config.LOG_LEVEL, pino.destination({ dest: 2, sync: true }));
  const protection = await openDataProtection(config, db, logger);
  const rotated: RotatedKey[] = [];
  try {
    for (const { keyId, orgId } of await selectKeyIds(db, protection.store, target)) {
      let ref: KeyVersionRef;
      try {
        ref = await protection.hierarchy.rotate(keyId, CLI_ACTOR);
      } catch (error) {
        if (!(error instanceof KeyStateError)) throw error;
        // One organization being erased must not stop the rotation of every other key.
        if (target.orgId !== undefined) throw new UsageError(error.message);
        process.stderr.write(`skipped ${keyId}: ${error.message}\n`);
        continue;
      }
      await db.transaction((tx) =>
        appendAuditRecords(tx, [
          buildAuditRecord(SYSTEM_ACTOR, SYSTEM_CONTEXT, {
            action: 'encryption_key.rotated',
            orgId,
            metadata: { keyId, purpose: target.purpose, version: ref.version },
            sensitivity: 'critical',
          }),
        ]),
      );
      const result: RotatedKey = { keyId, purpose: target.purpose, orgId, version: ref.version };
      if (reencrypt && orgId !== null) {
        result.reencryption = await reencryptProviderKeys(
          db,
          protection.fieldCipher,
          protection.hierarchy,
          { orgId, actor: CLI_ACTOR, logger },
        );
      }
      rotated.push(result);
    }
  } finally {
    await protection.close();
  }
  return rotated;
}

function printRotations(rotated: readonly RotatedKey[]): void {
  if (rotated.length === 0) process.stdout.write('no matching encryption keys to rotate\n');
  for (const result of rotated) {
    const owner = result.orgId === null ? '' : ` of org ${result.orgId}`;
    process.stdout.write(
      `rotated ${result.purpose} key ${result.keyId}${owner} to version ${result.version}\n`,
    );
    if (result.reencryption !== undefined) {
      process.stdout.write(
        `re-encrypted ${result.reencryption.reencrypted} of ` +
          `${result.reencryption.examined} provider keys${owner}\n`,
      );
    }
  }
}

/**
 * Registers `keys status`, `keys rotate`, `keys schedule-deletion` and `keys cancel-deletion`,
 * which manage the encryption keys of the key hierarchy, under the `keys` command.
 */
export function registerEncryptionKeyCommands(keys: Command): void {
  keys
    .command('status')
    .description(
      'show encryption keys: purposes, versions, ages, states, scheduled deletions, next ' +
        'rotation dates and the keys wrapped under each purpose key version, then scheduled ' +
        'and done subject erasures',
    )
    .option(
      '--rotation-days <days>',
      'age in days after which an active encryption key version is due for rotation ' +
        '(default: KEY_ROTATION_DAYS)',
    )
    .option('--json', 'print one JSON object', false)
    .action(async (options: { rotationDays?: string; json: boolean }) => {
      const requestedDays =
        options.rotationDays === undefined ? undefined : Number(options.rotationDays);
      if (
        requestedDays !== undefined &&
        (!Number.isInteger(requestedDays) || requestedDays < 1 || requestedDays > 3650)
      ) {
        throw new UsageError('--rotation-days must be a whole number between 1 and 3650');
      }
      const { kms, versions, dependants, rotationDays, erasures } = await withDatabase(
        'mindweave keys status',
        async (db, config) => ({
          kms: describeKms(config),
          versions: await new DatabaseKeyStore(db).listAllVersions(),
          dependants: await listPurposeKeyDependants(db),
          erasures: await listSubjectErasures(db),
          // With automatic rotation off (0), the dates show when a manual rotation is due
          // after the default period.
          rotationDays: requestedDays ?? (config.KEY_ROTATION_DAYS || DEFAULT_ROTATION_DAYS),
        }),
      );
      const statuses = keyStatus(versions, new Date(), rotationDays, dependants);
      if (options.json) {
        return printJson({
          kms,
          data: statuses,
          subjectErasures: erasures.map(subjectErasureJson),
        });
      }
      printKms(kms);
      printStatus(statuses);
      printSubjectErasures(erasures);
    });

  keys
    .command('rotate')
    .description(
      'rotate an encryption key: new data is encrypted under a new version, old data stays readable',
    )
    .option('--purpose <purpose>', `key purpose: ${ROTATABLE_PURPOSES.join(', ')}`)
    .option('--org <id>', 'organization whose data key is rotated (implies --purpose data)')
    .option(
      '--reencrypt',
      'after rotating data keys, re-encrypt stored provider keys under the new versions',
      false,
    )
    .option('--json', 'print one JSON object', false)
    .action(
      async (options: { purpose?: string; org?: string; reencrypt: boolean; json: boolean }) => {
        const target = parseRotationTarget(options);
        if (options.reencrypt && target.purpose !== 'data') {
          throw new UsageError(
            '--reencrypt applies to data keys only: pass --org or --purpose data',
          );
        }
        const rotated = await withDatabase('mindweave keys rotate', (db, config) =>
          rotateKeys(db, config, target, options.reencrypt),
        );
        if (options.json) return printJson({ rotated });
        printRotations(rotated);
      },
    );

  registerKeyDeletionCommands(keys);
}
