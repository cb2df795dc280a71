import type { KeyHierarchy } from '../data/crypto/key-hierarchy.js';
import type { KeyVersionRef } from '../data/crypto/key-types.js';
import type { Database } from '../data/database/database.js';
import { SYSTEM_ACTOR, SYSTEM_CONTEXT } from '../http/request-context.js';
import { buildAuditRecord } from '../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../monitoring/audit/audit.repository.js';
import { auditOrgId } from './key-deletion-audit.js';

/**
 * Writes the audit entry of a rotation by the key maintenance schedule, in the same form as
 * `mindweave keys rotate` writes it, with `scheduled: true` in the metadata.
 */
export async function auditScheduledRotation(
  db: Database,
  hierarchy: KeyHierarchy,
  ref: KeyVersionRef,
): Promise<void> {
  const record = await hierarchy.getKey(ref);
  await db.transaction((tx) =>
    appendAuditRecords(tx, [
      buildAuditRecord(SYSTEM_ACTOR, SYSTEM_CONTEXT, {
        action: 'encryption_key.rotated',
        orgId: auditOrgId(record.owner),
        metadata: {
          keyId: ref.keyId,
          purpose: record.purpose,
          version: ref.version,
          scheduled: true,
        },
        sensitivity: 'critical',
      }),
    ]),
  );
}
