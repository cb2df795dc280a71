import type { KeyHierarchy } from '../crypto/key-hierarchy.js';
import type { Database, Queryable } from '../database/database.js';
import { DatabaseKeyUsageSink } from '../key-store/database-key-usage-sink.js';
import { personalDataSealer } from './personal-data-sealer.js';

/** State of a data subject's key: usable, destroyed by an erasure, or never created. */
export type SubjectKeyState = 'live' | 'erased' | 'none';

/** A subject id as audit entries name it: `anonymous`, or `<actor type>:<actor id>`. */
const SUBJECT_ID = /^(anonymous|[a-z_]{1,40}:[A-Za-z0-9._@-]{1,150})$/;

/** Checks that `subjectId` has the form of a data subject id, such as `user:<uuid>`. */
export function isSubjectId(subjectId: string): boolean {
  return SUBJECT_ID.test(subjectId);
}

interface SubjectKeyRow {
  version: number | null;
  destroyed: boolean;
}

async function subjectKeyRow(db: Queryable, subjectId: string): Promise<SubjectKeyRow | undefined> {
  const result = await db.query<SubjectKeyRow>(
    `SELECT compliance_key_version AS version, destroyed_at IS NOT NULL AS destroyed
       FROM personal_data_keys WHERE subject_id = $1`,
    [subjectId],
  );
  return result.rows[0];
}

/** Returns whether the subject's key is live, erased, or was never created. */
export async function subjectKeyState(db: Queryable, subjectId: string): Promise<SubjectKeyState> {
  return stateOf(await subjectKeyRow(db, subjectId));
}

function stateOf(row: SubjectKeyRow | undefined): SubjectKeyState {
  if (row === undefined) return 'none';
  return row.destroyed ? 'erased' : 'live';
}

/** Outcome of {@link eraseSubject}. */
export interface SubjectErasureResult {
  subjectId: string;
  /** Key state before the erasure. */
  previousState: SubjectKeyState;
}

/**
 * Erases a data subject by destroying its key (crypto-shredding). The wrapped key is deleted, so
 * every personal field sealed for the subject in the audit log stays stored with its hash but can
 * no longer be opened, and `audit verify` still passes. A subject without a key gets a
 * destroyed row, so nothing is sealed for it afterwards either. The destruction, its key usage
 * record (operation `destroy` under the compliance key) and the `audit` entry run in one
 * transaction, so either all are stored or none.
 *
 * `audit` appends the audit entry inside the transaction. It is passed in so this module does
 * not depend on the audit log.
 */
export async function eraseSubject(
  db: Database,
  hierarchy: KeyHierarchy,
  subjectId: string,
  actor: string,
  audit: (tx: Queryable, result: SubjectErasureResult) => Promise<void>,
): Promise<SubjectErasureResult> {
  // Embedded PostgreSQL runs no other query while the transaction below is open, so the
  // compliance key is loaded before it.
  await hierarchy.loadPurposeKey('compliance', actor);
  return db.transaction(async (tx) => {
    const row = await subjectKeyRow(tx, subjectId);
    const previousState = stateOf(row);
    const destroyed = await personalDataSealer.destroySubjectKey(tx, subjectId);
    if (destroyed) {
      await hierarchy.recordWrappedKeyDestroyed(
        'compliance',
        row?.version ?? undefined,
        { use: 'personal_data_key', subject: subjectId },
        actor,
        new DatabaseKeyUsageSink(tx),
      );
    }
    const result = { subjectId, previousState };
    await audit(tx, result);
    return result;
  });
}
