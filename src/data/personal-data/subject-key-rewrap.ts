import type { KeyHierarchy } from '../crypto/key-hierarchy.js';
import type { Database } from '../database/database.js';
import { complianceKeyWrapping } from './personal-data-sealer.js';

/** Rows read per query by {@link rewrapSubjectKeys}. */
const BATCH_SIZE = 100;

/** Options for {@link rewrapSubjectKeys}. */
export interface SubjectKeyRewrapOptions {
  /** User or component that requests the re-wrap, recorded in the key usage log. */
  actor: string;
  /** Rows read per query. Defaults to 100. */
  batchSize?: number;
  /**
   * Called after each subject key is re-wrapped and saved, with the counts so far. An error it
   * throws stops the run, and every key stays readable.
   */
  onRewrapped?: (subjectId: string, progress: SubjectKeyRewrapResult) => void | Promise<void>;
}

/** Counts of one {@link rewrapSubjectKeys} run. */
export interface SubjectKeyRewrapResult {
  /** Compliance key version that the re-wrapped subject keys are wrapped under now. */
  complianceVersion: number;
  /** Subject keys found under an older compliance key version. */
  examined: number;
  rewrapped: number;
  /** Subject keys that were erased or re-wrapped by another process meanwhile. */
  skipped: number;
}

interface SubjectKeyRow {
  subjectId: string;
  wrappedKey: Buffer;
  version: number;
}

/**
 * Re-wraps every per-subject key of `personal_data_keys` that is wrapped under an older version
 * of the `compliance` purpose key under its active version, so the older versions can be
 * deleted. The subject keys themselves do not change, so every sealed audit field still opens.
 *
 * Each row is one UPDATE that applies only while the row still contains the wrapped key that was
 * read and is not erased, so a run stopped at any point leaves every key readable, and running
 * it again continues. Keys are unwrapped and wrapped before the UPDATE, outside any transaction,
 * because embedded PostgreSQL runs no other query while one is open. The key usage log records
 * an `unwrap` under the old version and a `wrap` under the new one for each key.
 *
 * @throws DecryptionError when a stored subject key does not unwrap.
 */
export async function rewrapSubjectKeys(
  db: Database,
  hierarchy: KeyHierarchy,
  options: SubjectKeyRewrapOptions,
): Promise<SubjectKeyRewrapResult> {
  // Reads the active version from the key store, so a rotation by another process counts.
  const active = await hierarchy.loadPurposeKey('compliance', options.actor);
  const wrapping = complianceKeyWrapping(hierarchy);
  const batchSize = options.batchSize ?? BATCH_SIZE;
  const result: SubjectKeyRewrapResult = {
    complianceVersion: active,
    examined: 0,
    rewrapped: 0,
    skipped: 0,
  };
  let after = '';
  for (;;) {
    const batch = await db.query<SubjectKeyRow>(
      `SELECT subject_id AS "subjectId", wrapped_key AS "wrappedKey",
              compliance_key_version AS version
         FROM personal_data_keys
        WHERE wrapped_key IS NOT NULL AND compliance_key_version <> $1 AND destroyed_at IS NULL
          AND subject_id > $2
        ORDER BY subject_id LIMIT $3`,
      [active, after, batchSize],
    );
    for (const row of batch.rows) {
      after = row.subjectId;
      result.examined += 1;
      if (await rewrapRow(db, wrapping, row)) {
        result.rewrapped += 1;
        await options.onRewrapped?.(row.subjectId, { ...result });
      } else {
        result.skipped += 1;
      }
    }
    if (batch.rows.length < batchSize) break;
  }
  return result;
}

async function rewrapRow(
  db: Database,
  wrapping: ReturnType<typeof complianceKeyWrapping>,
  row: SubjectKeyRow,
): Promise<boolean> {
  // pg returns a Buffer and PGlite a Uint8Array, so the bytes are copied into a Buffer.
  const previous = Buffer.from(row.wrappedKey);
  const material = await wrapping.unwrap(row.subjectId, row.version, previous, db);
  try {
    // The version is the active one read at the start, or a newer one if this process has seen
    // another rotation since.
    const { version, wrapped } = await wrapping.wrap(row.subjectId, material, db);
    const update = await db.query(
      `UPDATE personal_data_keys SET wrapped_key = $2, compliance_key_version = $3
        WHERE subject_id = $1 AND wrapped_key = $4 AND compliance_key_version = $5
          AND destroyed_at IS NULL`,
      [row.subjectId, wrapped, version, previous, row.version],
    );
    return update.rowCount === 1;
  } finally {
    material.fill(0);
  }
}
