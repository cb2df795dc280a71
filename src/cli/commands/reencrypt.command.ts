import type { Command } from 'commander';
import { pino } from 'pino';
import { z } from 'zod';

import {
  reencryptSessionClients,
  type SessionClientReencryptionResult,
} from '../../application/auth/session-client-reencryption.js';
import type { Config } from '../../config/config.schema.js';
import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { openDataProtection } from '../../data/key-store/data-protection.js';
import { UserFieldProtection } from '../../data/personal-data/user-field-protection.js';
import {
  reencryptUserFields,
  type UserFieldReencryptionResult,
} from '../../data/personal-data/user-field-reencryption.js';
import {
  reencryptProviderKeys,
  type ReencryptionResult,
} from '../../gateway/provider-keys/provider-key-reencryption.js';
import { createLogger } from '../../monitoring/logging/logger.js';
import { printJson, UsageError, withDatabase } from '../cli-context.js';

/** Actor recorded in the key usage log for re-encryptions started from the command line. */
const CLI_ACTOR = 'cli';

/** Rows between two progress lines of the user field job. */
const PROGRESS_EVERY_ROWS = 100;

/** Scope of one run: the provider keys of one or all organizations, and maybe the user fields. */
interface ReencryptTarget {
  orgId?: string;
  userFields: boolean;
}

/** Counts of one `keys reencrypt` run; a job that did not run is absent. */
interface ReencryptSummary {
  providerKeys: (ReencryptionResult & { orgId: string })[];
  userFields?: UserFieldReencryptionResult;
  sessionClients?: SessionClientReencryptionResult;
}

function parseTarget(options: { purpose?: string; org?: string }): ReencryptTarget {
  if (options.purpose !== undefined && options.purpose !== 'data') {
    throw new UsageError(
      '--purpose must be data: only data keys encrypt stored values, and purpose keys wrap keys',
    );
  }
  if (options.org === undefined) return { userFields: true };
  if (!z.uuid().safeParse(options.org).success) {
    throw new UsageError('--org must be an organization id (a UUID)');
  }
  // User fields are under the platform key, which no organization owns.
  return { orgId: options.org, userFields: false };
}

async function organizationIds(db: Database, target: ReencryptTarget): Promise<string[]> {
  if (target.orgId === undefined) {
    const result = await db.query<{ id: string }>(
      'SELECT id FROM tenancy_organization_ids() AS id',
    );
    return result.rows.map((row) => row.id);
  }
  const orgId = target.orgId;
  const found = await inTenant(db, orgId, (tx) =>
    tx.query('SELECT 1 FROM organizations WHERE id = $1', [orgId]),
  );
  if (found.rows.length === 0) throw new UsageError(`organization ${orgId} not found`);
  return [orgId];
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Runs the provider key job for each organization and then the user field job, printing progress
 * on stderr. Both jobs keep their progress in the rows themselves, so a run stopped at any point
 * is finished by running the command again.
 */
async function reencrypt(
  db: Database,
  config: Config,
  target: ReencryptTarget,
): Promise<ReencryptSummary> {
  const logger = createLogger(config.LOG_LEVEL, pino.destination({ dest: 2, sync: true }));
  const protection = await openDataProtection(config, db, logger);
  const summary: ReencryptSummary = { providerKeys: [] };
  try {
    for (const orgId of await organizationIds(db, target)) {
      progress(`provider keys of org ${orgId}: re-encrypting`);
      const result = await reencryptProviderKeys(db, protection.fieldCipher, protection.hierarchy, {
        orgId,
        actor: CLI_ACTOR,
        logger,
      });
      progress(
        `provider keys of org ${orgId}: ${result.reencrypted} re-encrypted, ` +
          `${result.current} already current, ${result.skippedConcurrent} changed meanwhile, ` +
          `${result.unreadable} unreadable (altered, or the organization's key is deleted)`,
      );
      summary.providerKeys.push({ orgId, ...result });
    }
    if (target.userFields) {
      progress('user fields: re-encrypting');
      const fields = new UserFieldProtection(protection.fieldCipher, protection.hierarchy, logger);
      summary.userFields = await reencryptUserFields(db, fields, {
        logger,
        afterRow: (examined) => {
          if (examined % PROGRESS_EVERY_ROWS === 0)
            progress(`user fields: ${examined} rows examined`);
        },
      });
      const done = summary.userFields;
      progress(
        `user fields: ${done.reencrypted} re-encrypted, ${done.current} already current, ` +
          `${done.skippedConcurrent} changed meanwhile, ${done.unreadable} unreadable ` +
          '(altered, or the user is erased)',
      );
      progress('session client addresses and user agents: re-encrypting');
      summary.sessionClients = await reencryptSessionClients(
        db,
        protection.fieldCipher,
        protection.hierarchy,
        { actor: CLI_ACTOR, logger },
      );
      const sessions = summary.sessionClients;
      progress(
        `sessions: ${sessions.reencrypted} re-encrypted, ${sessions.current} already current, ` +
          `${sessions.skippedConcurrent} changed meanwhile, ${sessions.unreadable} unreadable`,
      );
    }
  } finally {
    await protection.close();
  }
  return summary;
}

function printSummary(summary: ReencryptSummary): void {
  const providerKeys = summary.providerKeys.reduce((sum, org) => sum + org.reencrypted, 0);
  const examined = summary.providerKeys.reduce((sum, org) => sum + org.examined, 0);
  process.stdout.write(
    `re-encrypted ${providerKeys} of ${examined} provider keys in ` +
      `${summary.providerKeys.length} organizations\n`,
  );
  if (summary.userFields !== undefined) {
    process.stdout.write(
      `re-encrypted ${summary.userFields.reencrypted} of ${summary.userFields.examined} ` +
        'user, invitation and TOTP rows\n',
    );
  }
  if (summary.sessionClients !== undefined) {
    process.stdout.write(
      `re-encrypted ${summary.sessionClients.reencrypted} of ` +
        `${summary.sessionClients.examined} session client rows\n`,
    );
  }
}

/** Registers `keys reencrypt`, which moves stored values to the active data key versions. */
export function registerReencryptCommand(keys: Command): void {
  keys
    .command('reencrypt')
    .description(
      're-encrypt stored provider keys and user fields under the active data key versions; ' +
        'safe to stop and run again',
    )
    .option('--purpose <purpose>', 'key purpose whose data is re-encrypted: data (the default)')
    .option('--org <id>', 'only the provider keys of this organization')
    .option('--json', 'print one JSON object', false)
    .action(async (options: { purpose?: string; org?: string; json: boolean }) => {
      const target = parseTarget(options);
      const summary = await withDatabase('mindweave keys reencrypt', (db, config) =>
        reencrypt(db, config, target),
      );
      if (options.json) return printJson(summary);
      printSummary(summary);
    });
}
