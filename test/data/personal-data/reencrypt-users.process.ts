/**
 * Runs the user field re-encryption job in its own process, for the crash test. Given a pause
 * count n, it prints `paused after <n>` once n rows are examined and then waits to be killed.
 * Without one, it finishes and prints the result as JSON.
 * Usage: node --import tsx reencrypt-users.process.ts <database-url> <data-dir> [pause-after]
 */
import { pino } from 'pino';

import { APPLICATION_ROLE } from '../../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../../src/data/database/postgres-database.js';
import { openDataProtection } from '../../../src/data/key-store/data-protection.js';
import { UserFieldProtection } from '../../../src/data/personal-data/user-field-protection.js';
import { reencryptUserFields } from '../../../src/data/personal-data/user-field-reencryption.js';

const [url, dataDir, pauseText] = process.argv.slice(2);
const pauseAfter = pauseText === undefined ? undefined : Number(pauseText);
const logger = pino({ level: 'silent' });
const db = await openPostgresDatabase(url ?? '', { role: APPLICATION_ROLE, poolSize: 2 });
const keys = await openDataProtection(
  { MINDWEAVE_DATA_DIR: dataDir ?? '', KMS_MASTER_KEY_DIR: undefined },
  db,
  logger,
  'test',
);
const protection = new UserFieldProtection(keys.fieldCipher, keys.hierarchy);

const result = await reencryptUserFields(db, protection, {
  batchSize: 2,
  afterRow: (examined) => {
    if (examined === pauseAfter) {
      // Writes to a pipe are synchronous on Linux, so the parent reads this line before the
      // loop below blocks the process until SIGKILL arrives.
      process.stdout.write(`paused after ${examined}\n`);
      const blocker = new Int32Array(new SharedArrayBuffer(4));
      for (;;) Atomics.wait(blocker, 0, 0, 1000);
    }
  },
});
process.stdout.write(`${JSON.stringify(result)}\n`);
await keys.close();
await db.close();
