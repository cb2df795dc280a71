import type { Command } from 'commander';
import { pino } from 'pino';

import { loadLoginThrottleKey } from '../../application/auth/login-throttle-key.js';
import type { Config } from '../../config/config.schema.js';
import { KeyStateError } from '../../data/crypto/errors.js';
import type { KeyHierarchy, RewrapResult } from '../../data/crypto/key-hierarchy.js';
import type { Database } from '../../data/database/database.js';
import { openDataProtection } from '../../data/key-store/data-protection.js';
import {
  listPurposeKeyDependants,
  type PurposeKeyDependants,
} from '../../data/key-store/purpose-key-dependants.js';
import {
  rewrapSubjectKeys,
  type SubjectKeyRewrapResult,
} from '../../data/personal-data/subject-key-rewrap.js';
import { createLogger } from '../../monitoring/logging/logger.js';
import { printJson, UsageError, withDatabase } from '../cli-context.js';

/** Actor recorded in the key usage log for re-wraps started from the command line. */
const CLI_ACTOR = 'cli';

/** Keys between two progress lines. */
const PROGRESS_EVERY_KEYS = 100;

/** Purpose keys that wrap stored keys and can therefore be re-wrapped under. */
const REWRAP_PURPOSES = ['database', 'compliance', 'application'] as const;
type RewrapPurpose = (typeof REWRAP_PURPOSES)[number];

/** Counts of the sign-in throttle key re-wrap, the only key wrapped under the application key. */
export interface LoginThrottleKeyRewrapResult {
  /** Application key version that the throttle key is wrapped under now. */
  applicationVersion: number;
  /** 1 when a stored throttle key was found under an older version, otherwise 0. */
  examined: number;
  rewrapped: number;
}

/** Counts of one `keys rewrap` run. A purpose that was not chosen is absent. */
export interface KeyRewrapSummary {
  database?: RewrapResult;
  compliance?: SubjectKeyRewrapResult;
  application?: LoginThrottleKeyRewrapResult;
  /** Every purpose key version afterwards, with the keys still wrapped under it. */
  purposeKeys: PurposeKeyDependants[];
}

function parsePurposes(purpose: string | undefined): RewrapPurpose[] {
  if (purpose === undefined) return [...REWRAP_PURPOSES];
  if (!(REWRAP_PURPOSES as readonly string[]).includes(purpose)) {
    throw new UsageError(
      `--purpose must be one of ${REWRAP_PURPOSES.join(', ')}: only those purpose keys wrap ` +
        'stored keys',
    );
  }
  return [purpose as RewrapPurpose];
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Returns a re-wrap callback that writes a progress line for `label` after every
 * PROGRESS_EVERY_KEYS keys.
 */
function progressEvery(label: string): (_item: unknown, counts: { rewrapped: number }) => void {
  return (_item, counts) => {
    if (counts.rewrapped % PROGRESS_EVERY_KEYS === 0) {
      progress(`${label}: ${counts.rewrapped} re-wrapped`);
    }
  };
}

/**
 * Re-wraps the sign-in throttle key of `login_throttle_keys` under the active application key
 * version, the same way a server start does. A database without a stored throttle key is left
 * without one.
 */
async function rewrapLoginThrottleKey(
  db: Database,
  hierarchy: KeyHierarchy,
): Promise<LoginThrottleKeyRewrapResult> {
  const active = await hierarchy.loadPurposeKey('application', CLI_ACTOR);
  const stored = await db.query<{ version: number }>(
    'SELECT application_key_version AS version FROM login_throttle_keys WHERE id = 1',
  );
  const version = stored.rows[0]?.version;
  if (version === undefined || version === active) {
    return { applicationVersion: active, examined: 0, rewrapped: 0 };
  }
  // NOTE: a throttle key that no longer unwraps is replaced by a new one here, as at a server
  // start, which resets every account's count of failed sign-ins.
  await loadLoginThrottleKey(db, hierarchy);
  return { applicationVersion: active, examined: 1, rewrapped: 1 };
}

/** Re-wraps the keys under older versions of each chosen purpose key, printing progress on stderr. */
async function rewrap(
  db: Database,
  config: Config,
  purposes: readonly RewrapPurpose[],
): Promise<KeyRewrapSummary> {
  // Log lines go to stderr, so stdout keeps only the command's output.
  const logger = createLogger(config.LOG_LEVEL, pino.destination({ dest: 2, sync: true }));
  const protection = await openDataProtection(config, db, logger);
  const summary: KeyRewrapSummary = { purposeKeys: [] };
  try {
    if (purposes.includes('database')) {
      progress('data keys: re-wrapping under the active database key version');
      const done = await protection.hierarchy.rewrapDataKeys({
        actor: CLI_ACTOR,
        onRewrapped: progressEvery('data keys'),
      });
      progress(
        `data keys: ${done.rewrapped} re-wrapped under database key version ` +
          `${done.parentVersion}, ${done.skipped} changed meanwhile`,
      );
      summary.database = done;
    }
    if (purposes.includes('compliance')) {
      progress('subject keys: re-wrapping under the active compliance key version');
      const done = await rewrapSubjectKeys(db, protection.hierarchy, {
        actor: CLI_ACTOR,
        onRewrapped: progressEvery('subject keys'),
      });
      progress(
        `subject keys: ${done.rewrapped} re-wrapped under compliance key version ` +
          `${done.complianceVersion}, ${done.skipped} changed meanwhile`,
      );
      summary.compliance = done;
    }
    if (purposes.includes('application')) {
      const done = await rewrapLoginThrottleKey(db, protection.hierarchy);
      progress(
        `sign-in throttle key: ${done.rewrapped} re-wrapped under application key version ` +
          `${done.applicationVersion}`,
      );
      summary.application = done;
    }
  } finally {
    await protection.close();
  }
  summary.purposeKeys = await listPurposeKeyDependants(db);
  return summary;
}

function printSummary(summary: KeyRewrapSummary): void {
  if (summary.database !== undefined) {
    process.stdout.write(
      `re-wrapped ${summary.database.rewrapped} data keys under database key version ` +
        `${summary.database.parentVersion}\n`,
    );
  }
  if (summary.compliance !== undefined) {
    process.stdout.write(
      `re-wrapped ${summary.compliance.rewrapped} subject keys under compliance key version ` +
        `${summary.compliance.complianceVersion}\n`,
    );
  }
  if (summary.application !== undefined) {
    process.stdout.write(
      `re-wrapped ${summary.application.rewrapped} sign-in throttle keys under application key ` +
        `version ${summary.application.applicationVersion}\n`,
    );
  }
  for (const version of summary.purposeKeys) {
    if (version.state === 'active' || version.state === 'destroyed') continue;
    const dependants = version.dataKeys + version.subjectKeys + version.loginThrottleKeys;
    const outcome =
      dependants === 0 ? 'wraps no key and can be deleted' : `still wraps ${dependants} keys`;
    process.stdout.write(
      `${version.purpose} key ${version.keyId} version ${version.version} (${version.state}) ` +
        `${outcome}\n`,
    );
  }
}

/**
 * Registers `keys rewrap` under the `keys` command, which must be registered already. It moves
 * the keys wrapped under older purpose key versions to the active versions, so the older
 * versions can be deleted.
 */
export function registerKeyRewrapCommand(program: Command): void {
  const keys = program.commands.find((command) => command.name() === 'keys');
  if (keys === undefined) {
    throw new Error('the keys command must be registered before keys rewrap');
  }
  keys
    .command('rewrap')
    .description(
      're-wrap data keys, subject keys and the sign-in throttle key under the active ' +
        'database, compliance and application key versions, so older versions can be ' +
        'deleted; safe to stop and run again',
    )
    .option(
      '--purpose <purpose>',
      `purpose key to re-wrap under: ${REWRAP_PURPOSES.join(', ')} (default: all)`,
    )
    .option('--json', 'print one JSON object', false)
    .action(async (options: { purpose?: string; json: boolean }) => {
      const purposes = parsePurposes(options.purpose);
      let summary: KeyRewrapSummary;
      try {
        summary = await withDatabase('mindweave keys rewrap', (db, config) =>
          rewrap(db, config, purposes),
        );
      } catch (error) {
        // Such as an old purpose key version that is already destroyed, printed without a stack.
        if (error instanceof KeyStateError) throw new UsageError(error.message);
        throw error;
      }
      if (options.json) return printJson(summary);
      printSummary(summary);
    });
}
