import type { Command } from 'commander';
import { pino } from 'pino';

import { openDataProtection } from '../../data/key-store/data-protection.js';
import {
  eraseSubject,
  isSubjectId,
  subjectKeyState,
} from '../../data/personal-data/subject-erasure.js';
import { SYSTEM_ACTOR, SYSTEM_CONTEXT } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { createLogger } from '../../monitoring/logging/logger.js';
import { printJson, UsageError, withDatabase } from '../cli-context.js';

/** Actor recorded in the key usage log for erasures started from the command line. */
const CLI_ACTOR = 'cli';

interface EraseOptions {
  subject: string;
  yes: boolean;
  json: boolean;
}

async function erase(options: EraseOptions): Promise<void> {
  const subjectId = options.subject;
  if (!isSubjectId(subjectId)) {
    throw new UsageError(
      `--subject ${JSON.stringify(subjectId)} is not a subject id: expected <actor type>:<actor id>, ` +
        'such as user:<user id> or api_key:<key id>, or anonymous',
    );
  }
  await withDatabase('mindweave subjects erase', async (db, config) => {
    if (!options.yes) {
      const state = await subjectKeyState(db, subjectId);
      process.exitCode = 1;
      if (options.json) return printJson({ subjectId, state, erased: false });
      process.stdout.write(
        `subject ${subjectId}: key ${state}. Erasing makes its sealed audit fields unreadable ` +
          'for good. Run again with --yes to erase.\n',
      );
      return;
    }
    // Log lines go to stderr, so stdout keeps only the command's output.
    const logger = createLogger(config.LOG_LEVEL, pino.destination({ dest: 2, sync: true }));
    const protection = await openDataProtection(config, db, logger);
    try {
      const result = await eraseSubject(
        db,
        protection.hierarchy,
        subjectId,
        CLI_ACTOR,
        (tx, erased) =>
          appendAuditRecords(tx, [
            buildAuditRecord(SYSTEM_ACTOR, SYSTEM_CONTEXT, {
              action: 'personal_data.erased',
              // resource_id accepts UUIDs only, and subject ids are not UUIDs.
              metadata: { subject: subjectId, previousKeyState: erased.previousState },
              sensitivity: 'critical',
              complianceRelevant: true,
            }),
          ]),
      );
      if (options.json) return printJson({ ...result, state: 'erased', erased: true });
      process.stdout.write(
        result.previousState === 'erased'
          ? `subject ${subjectId} was already erased\n`
          : `erased subject ${subjectId}: its key is destroyed and its sealed audit fields read as null\n`,
      );
    } finally {
      await protection.close();
    }
  });
}

/** Registers `subjects erase`, which erases a data subject's personal data by destroying its key. */
export function registerSubjects(program: Command): void {
  const subjects = program
    .command('subjects')
    .description('data subjects whose personal fields the audit log seals');
  subjects
    .command('erase')
    .description(
      'erase a data subject: destroy its key, so its sealed audit fields can no longer be read',
    )
    .requiredOption('--subject <id>', 'subject id: user:<user id>, api_key:<key id> or anonymous')
    .option('--yes', 'erase without asking; without it the command only shows the key state', false)
    .option('--json', 'print one JSON object', false)
    .action(erase);
}
