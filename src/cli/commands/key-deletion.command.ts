import type { Command } from 'commander';
import { pino } from 'pino';
import { z } from 'zod';

import type { Config } from '../../config/config.schema.js';
import { KeyNotFoundError, KeyStateError } from '../../data/crypto/errors.js';
import type { KeyOwner, KeyPurpose, KeyRecord } from '../../data/crypto/key-types.js';
import type { Database } from '../../data/database/database.js';
import { DatabaseKeyStore } from '../../data/key-store/database-key-store.js';
import { openDataProtection } from '../../data/key-store/data-protection.js';
import { isSubjectId } from '../../data/personal-data/subject-erasure.js';
import { createLogger } from '../../monitoring/logging/logger.js';
import { auditKeyDeletionChange, type KeyDeletionAction } from '../../server/key-deletion-audit.js';
import { printJson, UsageError, withDatabase } from '../cli-context.js';
import { parseWaitingDays } from './key-deletion-usage.js';

/** Actor recorded in the key usage log for deletion changes started from the command line. */
const CLI_ACTOR = 'cli';

const KEY_ID = /^[A-Za-z0-9_-]{1,100}$/;
const VERSION = /^[1-9][0-9]{0,8}$/;

type Change = 'schedule' | 'cancel';

interface DeletionOptions {
  org?: string;
  key?: string;
  subject?: string;
  version?: string;
  waitingDays?: string;
  yes: boolean;
  json: boolean;
}

/** The validated key selection of a command line. */
type Selection =
  | { kind: 'org'; orgId: string }
  | { kind: 'key'; keyId: string }
  | { kind: 'subject'; subject: string };

function parseSelection(options: DeletionOptions): Selection {
  const selectors = [options.org, options.key, options.subject].filter(
    (value) => value !== undefined,
  );
  if (selectors.length !== 1) {
    throw new UsageError('pass exactly one of --org, --key or --subject to choose the data keys');
  }
  if (options.org !== undefined) {
    if (!z.uuid().safeParse(options.org).success) {
      throw new UsageError(
        `invalid --org ${JSON.stringify(options.org)}: expected an organization id (a UUID)`,
      );
    }
    return { kind: 'org', orgId: options.org.toLowerCase() };
  }
  if (options.key !== undefined) {
    if (!KEY_ID.test(options.key)) {
      throw new UsageError(
        `invalid --key ${JSON.stringify(options.key)}: expected a key id as keys status lists it, such as dk_...`,
      );
    }
    return { kind: 'key', keyId: options.key };
  }
  const subject = options.subject ?? '';
  if (!isSubjectId(subject)) {
    throw new UsageError(
      `invalid --subject ${JSON.stringify(subject)}: expected <actor type>:<actor id>, such as ` +
        'user:<user id>, or anonymous',
    );
  }
  return { kind: 'subject', subject };
}

function parseVersion(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!VERSION.test(value)) {
    throw new UsageError(
      `invalid --version ${JSON.stringify(value)}: expected a positive whole number`,
    );
  }
  return Number(value);
}

/** One selected key with all its versions. */
interface SelectedKey {
  keyId: string;
  purpose: KeyPurpose;
  owner: KeyOwner;
  versions: KeyRecord[];
}

/**
 * Returns the keys that `selection` names. Unknown keys raise a UsageError, and so does a purpose
 * key selected without `--version`, because only single versions of a purpose key can change.
 */
async function selectKeys(
  store: DatabaseKeyStore,
  selection: Selection,
  version: number | undefined,
): Promise<SelectedKey[]> {
  let keyIds: string[];
  if (selection.kind === 'org') {
    const keyId = await store.findKeyId('data', { kind: 'tenant', tenant: selection.orgId });
    if (keyId === undefined) {
      throw new UsageError(`organization ${selection.orgId} has no data key`);
    }
    keyIds = [keyId];
  } else if (selection.kind === 'subject') {
    keyIds = (await store.findSubjectDataKeys(selection.subject)).map((key) => key.keyId);
    if (keyIds.length === 0) {
      throw new UsageError(
        `subject ${selection.subject} owns no data keys; mindweave subjects erase also erases ` +
          'its audit key',
      );
    }
  } else {
    keyIds = [selection.keyId];
  }
  const selected: SelectedKey[] = [];
  for (const keyId of keyIds) {
    const versions = await store.listVersions(keyId);
    const first = versions[0];
    if (first === undefined) throw new UsageError(`key ${keyId} not found`);
    if (first.purpose !== 'data' && version === undefined) {
      throw new UsageError(
        `key ${keyId} is the ${first.purpose} purpose key, whose versions change one at a time: ` +
          'pass --version with a version that is no longer active and wraps no key ' +
          '(keys status lists the wrapped keys per version)',
      );
    }
    selected.push({ keyId, purpose: first.purpose, owner: first.owner, versions });
  }
  return selected;
}

/** Returns the versions of `key` that `change` would touch, as the key hierarchy selects them. */
function affectedVersions(
  key: SelectedKey,
  change: Change,
  version: number | undefined,
): KeyRecord[] {
  const eligible = (record: KeyRecord) =>
    change === 'schedule'
      ? record.state === 'active' || record.state === 'decrypt_only'
      : record.state === 'scheduled_for_deletion';
  if (version === undefined) return key.versions.filter(eligible);
  const record = key.versions.find((candidate) => candidate.version === version);
  if (record === undefined) throw new UsageError(`key ${key.keyId} version ${version} not found`);
  if (!eligible(record)) {
    const needed = change === 'schedule' ? 'active or decrypt_only' : 'scheduled_for_deletion';
    const operation = change === 'schedule' ? 'scheduling' : 'cancelling';
    throw new UsageError(
      `key ${key.keyId} version ${version} is ${record.state}, but ${operation} ` +
        `its deletion needs a version that is ${needed}`,
    );
  }
  return [record];
}

/**
 * Checks, before any change, that the purpose key versions among `records` can be scheduled for
 * deletion: they are not active and no key is wrapped under them. The key hierarchy checks the
 * same again under the key lock.
 *
 * @throws UsageError naming the reason and `keys rewrap` as the fix.
 */
async function checkPurposeVersions(
  store: DatabaseKeyStore,
  key: SelectedKey,
  records: readonly KeyRecord[],
): Promise<void> {
  if (key.purpose === 'data') return;
  for (const record of records) {
    const name = `${key.purpose} key ${key.keyId} version ${record.version}`;
    if (record.state === 'active') {
      throw new UsageError(
        `cannot schedule deletion of ${name}, because it is the active version. Rotate it ` +
          `with mindweave keys rotate --purpose ${key.purpose}, then run mindweave keys rewrap.`,
      );
    }
    const count = await store.countWrappedUnder({ keyId: key.keyId, version: record.version });
    if (count > 0) {
      throw new UsageError(
        `cannot schedule deletion of ${name}, because ${count} keys are still wrapped under ` +
          `it. Run mindweave keys rewrap --purpose ${key.purpose} first.`,
      );
    }
  }
}

/** One version as the commands print it. */
interface VersionOutput {
  version: number;
  state: KeyRecord['state'];
  deletionDate: string | null;
}

interface KeyOutput {
  keyId: string;
  purpose: KeyPurpose;
  owner: KeyOwner;
  versions: VersionOutput[];
}

function versionOutput(record: KeyRecord): VersionOutput {
  return {
    version: record.version,
    state: record.state,
    deletionDate: record.deletionDate?.toISOString() ?? null,
  };
}

function describeOwner(owner: KeyOwner): string {
  if (owner.kind === 'tenant') return `org ${owner.tenant}`;
  if (owner.kind === 'subject') return `subject ${owner.subject}`;
  return 'system';
}

/** Applies `change` to each selected key and writes one critical audit entry per changed key. */
async function applyChange(
  db: Database,
  config: Config,
  keys: readonly SelectedKey[],
  change: Change,
  settings: { version?: number; waitingDays: number },
): Promise<KeyOutput[]> {
  const logger = createLogger(config.LOG_LEVEL, pino.destination({ dest: 2, sync: true }));
  const protection = await openDataProtection(config, db, logger);
  const changed: KeyOutput[] = [];
  try {
    for (const key of keys) {
      const options = {
        actor: CLI_ACTOR,
        version: settings.version,
        waitingDays: settings.waitingDays,
      };
      let records: KeyRecord[];
      try {
        records =
          change === 'schedule'
            ? await protection.hierarchy.scheduleDeletion(key.keyId, options)
            : await protection.hierarchy.cancelDeletion(key.keyId, options);
      } catch (error) {
        // Another process changed the key since it was selected, or the request does not fit it.
        if (error instanceof KeyStateError || error instanceof KeyNotFoundError) {
          throw new UsageError(error.message);
        }
        throw error;
      }
      if (records.length === 0) continue;
      const action: KeyDeletionAction =
        change === 'schedule'
          ? 'encryption_key.deletion_scheduled'
          : 'encryption_key.deletion_cancelled';
      await db.transaction((tx) =>
        auditKeyDeletionChange(tx, action, {
          keyId: key.keyId,
          owner: key.owner,
          versions: records.map((record) => record.version),
          deletionDate: records[0]?.deletionDate ?? null,
        }),
      );
      changed.push({
        keyId: key.keyId,
        purpose: key.purpose,
        owner: key.owner,
        versions: records.map(versionOutput),
      });
    }
  } finally {
    await protection.close();
  }
  return changed;
}

function printPlan(planned: readonly KeyOutput[], change: Change, waitingDays: number): void {
  if (planned.every((key) => key.versions.length === 0)) {
    process.stdout.write(
      change === 'schedule'
        ? 'no version of the selected keys can be scheduled: they are already scheduled or destroyed\n'
        : 'no version of the selected keys is scheduled for deletion\n',
    );
    return;
  }
  for (const key of planned) {
    for (const version of key.versions) {
      process.stdout.write(
        change === 'schedule'
          ? `would schedule deletion of ${key.purpose} key ${key.keyId} v${version.version} (${describeOwner(key.owner)}, ` +
              `${version.state}) in ${waitingDays} days\n`
          : `would cancel the deletion of ${key.purpose} key ${key.keyId} v${version.version} ` +
              `(${describeOwner(key.owner)}), due ${version.deletionDate ?? 'never'}\n`,
      );
    }
  }
  process.stdout.write('Run again with --yes to apply.\n');
}

function printChanges(changed: readonly KeyOutput[], change: Change): void {
  if (changed.length === 0) {
    process.stdout.write(
      'nothing changed: no version of the selected keys was in a state to change\n',
    );
  }
  for (const key of changed) {
    for (const version of key.versions) {
      process.stdout.write(
        change === 'schedule'
          ? `scheduled deletion of ${key.purpose} key ${key.keyId} v${version.version} (${describeOwner(key.owner)}): ` +
              `it still decrypts until ${version.deletionDate ?? ''}, then the server destroys it\n`
          : `cancelled the deletion of ${key.purpose} key ${key.keyId} v${version.version} ` +
              `(${describeOwner(key.owner)}): it is ${version.state} again\n`,
      );
    }
  }
}

function deletionAction(change: Change) {
  const command = change === 'schedule' ? 'schedule-deletion' : 'cancel-deletion';
  return async (options: DeletionOptions): Promise<void> => {
    const selection = parseSelection(options);
    const version = parseVersion(options.version);
    if (change === 'cancel' && options.waitingDays !== undefined) {
      throw new UsageError('--waiting-days applies to schedule-deletion only');
    }
    await withDatabase(`mindweave keys ${command}`, async (db, config) => {
      const waitingDays = parseWaitingDays(options.waitingDays, config.KEY_DELETION_WAITING_DAYS);
      const store = new DatabaseKeyStore(db);
      const keys = await selectKeys(store, selection, version);
      // Checked before any change, so a bad --version or a purpose key version that still wraps
      // keys changes no key at all.
      const planned: KeyOutput[] = [];
      for (const key of keys) {
        const records = affectedVersions(key, change, version);
        if (change === 'schedule') await checkPurposeVersions(store, key, records);
        planned.push({
          keyId: key.keyId,
          purpose: key.purpose,
          owner: key.owner,
          versions: records.map(versionOutput),
        });
      }
      if (!options.yes) {
        process.exitCode = 1;
        if (options.json) {
          return printJson({ action: command, changed: false, waitingDays, keys: planned });
        }
        return printPlan(planned, change, waitingDays);
      }
      const changed = await applyChange(db, config, keys, change, { version, waitingDays });
      if (options.json) {
        return printJson({ action: command, changed: changed.length > 0, keys: changed });
      }
      printChanges(changed, change);
    });
  };
}

function addSelectionOptions(command: Command): Command {
  return command
    .option('--org <id>', 'the data key of this organization (a UUID)')
    .option(
      '--key <id>',
      'this key, by the key id that keys status lists; a purpose key needs --version',
    )
    .option('--subject <id>', 'every data key owned by this data subject, such as user:<user id>')
    .option(
      '--version <n>',
      'only this version of the key; by default every version that can change',
    )
    .option(
      '--yes',
      'apply the change; without it the command only shows it and exits with 1',
      false,
    )
    .option('--json', 'print one JSON object', false);
}

/**
 * Registers `keys schedule-deletion` and `keys cancel-deletion`, which start and stop the
 * waiting period after which the server destroys a data key (crypto-shredding), or a purpose key
 * version that is no longer active and wraps no key.
 */
export function registerKeyDeletionCommands(keys: Command): void {
  const schedule = keys
    .command('schedule-deletion')
    .description(
      'schedule the destruction of a data key, or of a purpose key version that is no longer ' +
        'active and wraps no key: it decrypts until the deletion date, then the server ' +
        'destroys it and data under it can no longer be read',
    );
  addSelectionOptions(schedule).option(
    '--waiting-days <days>',
    'days before the key is destroyed, at least 7 (default: KEY_DELETION_WAITING_DAYS)',
  );
  schedule.action(deletionAction('schedule'));

  const cancel = keys
    .command('cancel-deletion')
    .description('cancel a scheduled key deletion; the key gets its earlier state back');
  addSelectionOptions(cancel).action(deletionAction('cancel'));
}
