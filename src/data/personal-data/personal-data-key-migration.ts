import type { Logger } from 'pino';

import type { Database } from '../database/database.js';
import type { DataProtection } from '../key-store/data-protection.js';
import { complianceKeyWrapping, personalDataSealer } from './personal-data-sealer.js';
import type { SubjectKeyWrapping } from './personal-data-sealer.js';

/** Rows read per query by {@link wrapUnwrappedSubjectKeys}. */
const BATCH_SIZE = 100;

/**
 * Wraps every subject key still stored unwrapped (written before wrapping existed, or by a
 * command that runs without the key hierarchy) under the compliance purpose key, and clears its
 * unwrapped copy. Each row is one UPDATE that applies only while the row still holds the key that
 * was read, so a run stopped at any point is finished by running it again, and rows already
 * wrapped are never selected. Keys are wrapped before the UPDATE runs, outside any transaction,
 * because embedded PostgreSQL runs no other query while one is open.
 *
 * Returns the number of keys wrapped.
 */
export async function wrapUnwrappedSubjectKeys(
  db: Database,
  wrapping: SubjectKeyWrapping,
): Promise<number> {
  let wrappedCount = 0;
  for (;;) {
    const batch = await db.query<{ subjectId: string; keyMaterial: Buffer }>(
      `SELECT subject_id AS "subjectId", key_material AS "keyMaterial" FROM personal_data_keys
        WHERE key_material IS NOT NULL ORDER BY subject_id LIMIT $1`,
      [BATCH_SIZE],
    );
    let changed = 0;
    for (const row of batch.rows) {
      const { version, wrapped } = await wrapping.wrap(row.subjectId, row.keyMaterial, db);
      const update = await db.query(
        `UPDATE personal_data_keys
            SET wrapped_key = $2, compliance_key_version = $3, key_material = NULL
          WHERE subject_id = $1 AND key_material = $4 AND destroyed_at IS NULL`,
        [row.subjectId, wrapped, version, row.keyMaterial],
      );
      row.keyMaterial.fill(0);
      changed += update.rowCount;
    }
    wrappedCount += changed;
    // A batch in which no row changed means another writer keeps them busy, so the next start
    // retries them rather than looping here.
    if (batch.rows.length < BATCH_SIZE || changed === 0) break;
  }
  return wrappedCount;
}

/**
 * Wraps the subject keys left unwrapped and makes the process-wide sealer store new subject
 * keys wrapped under the compliance purpose key. The server calls it before it listens, and
 * {@link stopPersonalDataKeyWrapping} when it stops.
 */
export async function startPersonalDataKeyWrapping(
  db: Database,
  dataProtection: Pick<DataProtection, 'hierarchy'>,
  logger: Logger,
): Promise<SubjectKeyWrapping> {
  const wrapping = complianceKeyWrapping(dataProtection.hierarchy);
  await dataProtection.hierarchy.loadPurposeKey('compliance', 'server');
  const wrapped = await wrapUnwrappedSubjectKeys(db, wrapping);
  if (wrapped > 0) {
    logger.info({ subjectKeys: wrapped }, 'wrapped personal data keys under the compliance key');
  }
  personalDataSealer.useWrapping(wrapping);
  return wrapping;
}

/** Undoes {@link startPersonalDataKeyWrapping} when the server stops. */
export function stopPersonalDataKeyWrapping(wrapping: SubjectKeyWrapping): void {
  personalDataSealer.stopWrapping(wrapping);
}
