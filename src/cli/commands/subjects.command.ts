import type { Command } from 'commander';
import { pino } from 'pino';

import type { Config } from '../../config/config.schema.js';
import type { Database } from '../../data/database/database.js';
import { openDataProtection } from '../../data/key-store/data-protection.js';
import {
  cancelSubjectErasure,
  isSubjectId,
  scheduleSubjectErasure,
  SubjectErasureError,
  subjectKeyStatus,
  type SubjectErasureChange,
} from '../../data/personal-data/subject-erasure.js';
import { createLogger } from '../../monitoring/logging/logger.js';
import { auditSubjectErasureChange } from '../../server/key-deletion-audit.js';
import { printJson, UsageError, withDatabase } from '../cli-context.js';
import { parseWaitingDays } from './key-deletion-usage.js';

/** Actor recorded in the key usage log for erasures started from the command line. */
const CLI_ACTOR = 'cli';

interface EraseOptions {
  subject: string;
  waitingDays?: string;
  yes: boolean;
  json: boolean;
}

/** Actor types whose ids are UUIDs, which the database prints in lower case. */
const UUID_ACTOR_TYPES = new Set(['user', 'api_key']);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Validates `--subject` and returns it as audit entries and data keys spell it. A user or API
 * key id in upper case names no key, so an erasure under that spelling would erase nothing.
 */
function canonicalSubjectId(subjectId: string): string {
  const [actorType = '', actorId = ''] = subjectId.split(':', 2);
  if (!isSubjectId(subjectId)) {
    throw new UsageError(
      `--subject ${JSON.stringify(subjectId)} is not a subject id: expected <actor type>:<actor id>, ` +
        'such as user:<user id> or api_key:<key id>, or anonymous',
    );
  }
  if (!UUID_ACTOR_TYPES.has(actorType)) return subjectId;
  if (!UUID.test(actorId)) {
    throw new UsageError(
      `--subject ${JSON.stringify(subjectId)} is not a subject id: the ${actorType} id must be a UUID`,
    );
  }
  return `${actorType}:${actorId.toLowerCase()}`;
}

/** Runs `work` with the key hierarchy open, logging to stderr so stdout keeps the output. */
async function withKeys<T>(
  db: Database,
  config: Config,
  work: (protection: Awaited<ReturnType<typeof openDataProtection>>) => Promise<T>,
): Promise<T> {
  const logger = createLogger(config.LOG_LEVEL, pino.destination({ dest: 2, sync: true }));
  const protection = await openDataProtection(config, db, logger);
  try {
    return await work(protection);
  } catch (error) {
    if (error instanceof SubjectErasureError) throw new UsageError(error.message);
    throw error;
  } finally {
    await protection.close();
  }
}

function changeJson(change: SubjectErasureChange): Record<string, unknown> {
  return { ...change, deletionDate: change.deletionDate?.toISOString() ?? null };
}

async function erase(options: EraseOptions): Promise<void> {
  const subjectId = canonicalSubjectId(options.subject);
  await withDatabase('mindweave subjects erase', async (db, config) => {
    const waitingDays = parseWaitingDays(options.waitingDays, config.KEY_DELETION_WAITING_DAYS);
    if (!options.yes) {
      const status = await subjectKeyStatus(db, subjectId);
      process.exitCode = 1;
      const deletionDate = status.deletionDate?.toISOString() ?? null;
      if (options.json) {
        return printJson({
          subjectId,
          state: status.state,
          deletionDate,
          waitingDays,
          changed: false,
        });
      }
      process.stdout.write(
        `subject ${subjectId}: key ${status.state}${deletionDate === null ? '' : ` (deletion date ${deletionDate})`}. ` +
          `Erasing schedules its key, and its data keys, for destruction in ${waitingDays} days; ` +
          'after that its sealed audit fields can no longer be read. Run again with --yes to erase.\n',
      );
      return;
    }
    const change = await withKeys(db, config, (protection) =>
      scheduleSubjectErasure(db, protection.hierarchy, protection.store, subjectId, {
        actor: CLI_ACTOR,
        waitingDays,
        now: new Date(),
        audit: (tx, scheduled) =>
          auditSubjectErasureChange(tx, 'personal_data.erasure_scheduled', scheduled),
      }),
    );
    if (options.json) return printJson(changeJson(change));
    const date = change.deletionDate?.toISOString() ?? '';
    if (change.previousState === 'erased') {
      process.stdout.write(`subject ${subjectId} was already erased\n`);
    } else if (!change.changed) {
      process.stdout.write(`erasure of subject ${subjectId} is already scheduled for ${date}\n`);
    } else {
      process.stdout.write(
        `scheduled erasure of subject ${subjectId}: its keys are destroyed after ${date}; ` +
          `until then mindweave subjects cancel-erasure --subject ${subjectId} --yes undoes it\n`,
      );
    }
  });
}

async function cancelErasure(options: {
  subject: string;
  yes: boolean;
  json: boolean;
}): Promise<void> {
  const subjectId = canonicalSubjectId(options.subject);
  await withDatabase('mindweave subjects cancel-erasure', async (db, config) => {
    if (!options.yes) {
      const status = await subjectKeyStatus(db, subjectId);
      process.exitCode = 1;
      const deletionDate = status.deletionDate?.toISOString() ?? null;
      if (options.json)
        return printJson({ subjectId, state: status.state, deletionDate, changed: false });
      process.stdout.write(
        `subject ${subjectId}: key ${status.state}${deletionDate === null ? '' : ` (deletion date ${deletionDate})`}. ` +
          'Run again with --yes to cancel its erasure.\n',
      );
      return;
    }
    const change = await withKeys(db, config, (protection) =>
      cancelSubjectErasure(db, protection.hierarchy, protection.store, subjectId, {
        actor: CLI_ACTOR,
        audit: (tx, cancelled) =>
          auditSubjectErasureChange(tx, 'personal_data.erasure_cancelled', cancelled),
      }),
    );
    if (options.json) return printJson(changeJson(change));
    process.stdout.write(
      change.changed
        ? `cancelled erasure of subject ${subjectId}: its keys stay usable\n`
        : `subject ${subjectId} has no scheduled erasure\n`,
    );
  });
}

/**
 * Registers `subjects erase` and `subjects cancel-erasure`, which schedule and cancel the
 * erasure of a data subject's personal data by destroying its keys after a waiting period.
 */
export function registerSubjects(program: Command): void {
  const subjects = program
    .command('subjects')
    .description('data subjects whose personal fields are sealed');
  subjects
    .command('erase')
    .description(
      'schedule the erasure of a data subject: after the waiting period its keys are ' +
        'destroyed, so its sealed audit fields and personal data can no longer be read',
    )
    .requiredOption('--subject <id>', 'subject id: user:<user id>, api_key:<key id> or anonymous')
    .option(
      '--waiting-days <days>',
      'days before the keys are destroyed, at least 7 (default: KEY_DELETION_WAITING_DAYS)',
    )
    .option(
      '--yes',
      'schedule the erasure; without it the command only shows the key state and exits with 1',
      false,
    )
    .option('--json', 'print one JSON object', false)
    .action(erase);
  subjects
    .command('cancel-erasure')
    .description('cancel a scheduled erasure of a data subject before its keys are destroyed')
    .requiredOption('--subject <id>', 'subject id: user:<user id>, api_key:<key id> or anonymous')
    .option(
      '--yes',
      'cancel the erasure; without it the command only shows the key state and exits with 1',
      false,
    )
    .option('--json', 'print one JSON object', false)
    .action(cancelErasure);
}
