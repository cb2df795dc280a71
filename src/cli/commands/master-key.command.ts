import { join } from 'node:path';

import type { Command } from 'commander';

import type { Config } from '../../config/config.schema.js';
import type { Database } from '../../data/database/database.js';
import { kmsConfig } from '../../data/key-store/data-protection.js';
import {
  configuredMasterKeyId,
  createKmsProvider,
  type SingleKmsProviderConfig,
} from '../../data/kms/create-kms-provider.js';
import {
  listLocalMasterKeyFiles,
  removeLocalMasterKeyFile,
  rotateLocalMasterKey,
  type LocalMasterKeyRotation,
} from '../../data/kms/local-file-provider.js';
import {
  listMasterKeyReferences,
  rewrapPurposeKeysUnderMaster,
  type MasterKeyReferences,
  type MasterRewrapResult,
} from '../../data/kms/master-key-rewrap.js';
import { cliConfig, printJson, UsageError, withDatabase } from '../cli-context.js';

/** Actor recorded in the key usage log for master key work started from the command line. */
const CLI_ACTOR = 'cli';

/** One key file of the local provider after a re-wrap, and whether it may be deleted. */
export interface LocalKeyFileStatus {
  masterKeyId: string;
  file: string;
  /** Purpose key versions still wrapped under this key. */
  references: number;
  /** True when no purpose key version references the key and it is not the one in use. */
  removable: boolean;
  removed: boolean;
}

/** Output of `keys rewrap-master`. */
export interface MasterRewrapSummary extends MasterRewrapResult {
  /** Purpose key versions per master key after the run. */
  references: MasterKeyReferences[];
  /** Key files of the local provider, when it is configured as primary or decrypt-only. */
  localKeyFiles: LocalKeyFileStatus[];
}

function localSettings(
  config: Config,
):
  { settings: SingleKmsProviderConfig & { type: 'local-file' }; decryptOnly: boolean } | undefined {
  const settings = kmsConfig(config);
  if (settings.type === 'local-file') return { settings, decryptOnly: false };
  if (settings.decryptOnly?.type === 'local-file') {
    return { settings: settings.decryptOnly, decryptOnly: true };
  }
  return undefined;
}

async function localKeyFiles(
  config: Config,
  references: readonly MasterKeyReferences[],
  remove: boolean,
): Promise<LocalKeyFileStatus[]> {
  const local = localSettings(config);
  if (local === undefined) return [];
  const { settings, decryptOnly } = local;
  const names = listLocalMasterKeyFiles(
    settings.directory,
    settings.fileName,
    settings.masterKeyId,
  );
  const statuses: LocalKeyFileStatus[] = [];
  for (const name of names) {
    const count = references
      .filter((reference) => reference.masterKeyId === name.masterKeyId)
      .reduce((total, reference) => total + reference.purposeKeyVersions, 0);
    // The newest local key wraps new purpose keys while the local provider is the primary one.
    const inUse = !decryptOnly && name === names.at(-1);
    const status: LocalKeyFileStatus = {
      masterKeyId: name.masterKeyId,
      file: join(settings.directory, name.fileName),
      references: count,
      removable: count === 0 && !inUse,
      removed: false,
    };
    if (remove && status.removable) {
      await removeLocalMasterKeyFile(settings, name.masterKeyId, decryptOnly);
      status.removed = true;
    }
    statuses.push(status);
  }
  return statuses;
}

async function rewrapUnderMaster(
  db: Database,
  config: Config,
  removeUnreferenced: boolean,
  reportOnly: boolean,
): Promise<MasterRewrapSummary> {
  const settings = kmsConfig(config);
  const kms = await createKmsProvider(settings);
  const targetMasterKeyId = configuredMasterKeyId(settings);
  let result: MasterRewrapResult = { targetMasterKeyId, examined: 0, rewrapped: 0, skipped: 0 };
  try {
    if (reportOnly) return await summarize(db, config, result, removeUnreferenced);
    result = await rewrapPurposeKeysUnderMaster(db, {
      kms,
      targetMasterKeyId,
      actor: CLI_ACTOR,
      onRewrapped: (record) =>
        void process.stderr.write(
          `${record.purpose} key ${record.keyId} version ${record.version}: re-wrapped\n`,
        ),
    });
  } finally {
    await kms.close?.();
  }
  return summarize(db, config, result, removeUnreferenced);
}

async function summarize(
  db: Database,
  config: Config,
  result: MasterRewrapResult,
  removeUnreferenced: boolean,
): Promise<MasterRewrapSummary> {
  // Counted right before any removal, so a key file is deleted only when no stored purpose key
  // version references its key at that moment.
  const references = await listMasterKeyReferences(db);
  return {
    ...result,
    references,
    localKeyFiles: await localKeyFiles(config, references, removeUnreferenced),
  };
}

function printRewrap(summary: MasterRewrapSummary): void {
  process.stdout.write(
    `re-wrapped ${summary.rewrapped} purpose key versions under master key ` +
      `${summary.targetMasterKeyId}, ${summary.skipped} changed meanwhile\n`,
  );
  for (const reference of summary.references) {
    process.stdout.write(
      `master key ${reference.masterKeyId} (${reference.provider}) wraps ` +
        `${reference.purposeKeyVersions} purpose key versions\n`,
    );
  }
  for (const file of summary.localKeyFiles) {
    let outcome = `is still referenced by ${file.references} purpose key versions`;
    if (file.removed) outcome = 'was removed';
    else if (file.removable)
      outcome = 'is no longer referenced and can be removed (--remove-unreferenced)';
    else if (file.references === 0) outcome = 'is the active local master key';
    process.stdout.write(`local master key ${file.masterKeyId} in ${file.file} ${outcome}\n`);
  }
}

function rotate(): Promise<LocalMasterKeyRotation> {
  const config = cliConfig();
  const settings = kmsConfig(config);
  if (settings.type !== 'local-file') {
    throw new UsageError(
      "keys rotate-master rotates the local provider's master key only, but KMS_PROVIDER is " +
        'pkcs11. Rotate a PKCS#11 master key with the HSM vendor tools.',
    );
  }
  return rotateLocalMasterKey(settings);
}

/**
 * Registers `keys rotate-master` and `keys rewrap-master` (alias `migrate-kms`) under the `keys`
 * command, which must be registered already.
 */
export function registerMasterKeyCommands(program: Command): void {
  const keys = program.commands.find((command) => command.name() === 'keys');
  if (keys === undefined) {
    throw new Error('the keys command must be registered before keys rotate-master');
  }
  keys
    .command('rotate-master')
    .description(
      'create a new local master key file next to the old ones; new purpose keys are wrapped ' +
        'under it from the next start, and keys rewrap-master moves the existing ones',
    )
    .option('--json', 'print one JSON object', false)
    .action(async (options: { json: boolean }) => {
      const rotation = await rotate();
      if (options.json) return printJson(rotation);
      process.stdout.write(
        `created master key ${rotation.masterKeyId} in ${rotation.filePath}; run mindweave ` +
          `keys rewrap-master to re-wrap the purpose keys under ${rotation.previousMasterKeyId}\n`,
      );
    });
  keys
    .command('rewrap-master')
    .alias('migrate-kms')
    .description(
      're-wrap every purpose key version under the configured master key (the newest local ' +
        'key, or the PKCS#11 key), reading older ones through KMS_DECRYPT_ONLY; safe to stop ' +
        'and run again',
    )
    .option(
      '--remove-unreferenced',
      'delete the local master key files that no purpose key version references afterwards',
      false,
    )
    .option(
      '--report-only',
      'skip the re-wrap and only count the versions per master key (with --remove-unreferenced, ' +
        'still delete the unreferenced files)',
      false,
    )
    .option('--json', 'print one JSON object', false)
    .action(
      async (options: { removeUnreferenced: boolean; reportOnly: boolean; json: boolean }) => {
        const summary = await withDatabase('mindweave keys rewrap-master', (db, config) =>
          rewrapUnderMaster(db, config, options.removeUnreferenced, options.reportOnly),
        );
        if (options.json) return printJson(summary);
        printRewrap(summary);
      },
    );
}
