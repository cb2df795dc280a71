import type { PurposeKeyName } from '../crypto/key-types.js';
import type { Queryable } from '../database/database.js';

/** One purpose key version with the number of keys still wrapped under it. */
export interface PurposeKeyDependants {
  purpose: PurposeKeyName;
  keyId: string;
  version: number;
  state: string;
  /** Data key versions that are not destroyed and are wrapped under this version. */
  dataKeys: number;
  /** Subject keys of `personal_data_keys` wrapped under this version (compliance key only). */
  subjectKeys: number;
  /** The sign-in throttle key of `login_throttle_keys`, 0 or 1 (application key only). */
  loginThrottleKeys: number;
}

/**
 * Lists every purpose key version with the keys still wrapped under it, ordered by purpose and
 * version. A version that is not active and has no dependants can be scheduled for deletion.
 * `mindweave keys rewrap` moves the dependants of older versions to the active one.
 */
export async function listPurposeKeyDependants(db: Queryable): Promise<PurposeKeyDependants[]> {
  const result = await db.query<{
    purpose: PurposeKeyName;
    keyId: string;
    version: number;
    state: string;
    dataKeys: number | string;
    subjectKeys: number | string;
    loginThrottleKeys: number | string;
  }>(
    `SELECT k.purpose, v.key_id AS "keyId", v.version, v.state,
            (SELECT count(*) FROM encryption_key_versions c
              WHERE c.parent_key_id = v.key_id AND c.parent_version = v.version
                AND c.state <> 'destroyed') AS "dataKeys",
            CASE WHEN k.purpose = 'compliance' THEN
              (SELECT count(*) FROM personal_data_keys p
                WHERE p.compliance_key_version = v.version AND p.wrapped_key IS NOT NULL)
            ELSE 0 END AS "subjectKeys",
            CASE WHEN k.purpose = 'application' THEN
              (SELECT count(*) FROM login_throttle_keys t
                WHERE t.application_key_version = v.version)
            ELSE 0 END AS "loginThrottleKeys"
       FROM encryption_key_versions v JOIN encryption_keys k ON k.key_id = v.key_id
      WHERE k.owner_kind = 'system'
      ORDER BY k.purpose, v.version`,
  );
  return result.rows.map((row) => ({
    purpose: row.purpose,
    keyId: row.keyId,
    version: row.version,
    state: row.state,
    dataKeys: Number(row.dataKeys),
    subjectKeys: Number(row.subjectKeys),
    loginThrottleKeys: Number(row.loginThrottleKeys),
  }));
}
