import type { KeyHierarchy } from '../data/crypto/key-hierarchy.js';
import type { KeyOwner, KeyVersionRef } from '../data/crypto/key-types.js';
import type { Database, Queryable } from '../data/database/database.js';
import type {
  DestroyedSubjectKey,
  SubjectErasureChange,
} from '../data/personal-data/subject-erasure.js';
import { PLATFORM_KEY_TENANT } from '../data/personal-data/user-field-protection.js';
import { SYSTEM_ACTOR, SYSTEM_CONTEXT } from '../http/request-context.js';
import { buildAuditRecord } from '../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../monitoring/audit/audit.repository.js';

/**
 * Returns the organization id recorded in the audit entry of a key change. That is the owning
 * organization, or null for system keys and platform keys (user fields), which belong to none.
 */
export function auditOrgId(owner: KeyOwner): string | null {
  if (owner.kind === 'system' || owner.tenant === PLATFORM_KEY_TENANT) return null;
  return owner.tenant;
}

/** Builds the metadata that names a key's owner in audit entries. Subject ids are pseudonymous. */
function ownerMetadata(owner: KeyOwner): Record<string, string> {
  return owner.kind === 'subject'
    ? { ownerKind: owner.kind, subject: owner.subject }
    : { ownerKind: owner.kind };
}

/** Audit action of a change to a key's deletion schedule. */
export type KeyDeletionAction =
  'encryption_key.deletion_scheduled' | 'encryption_key.deletion_cancelled';

/** Appends the critical audit entry of a scheduled or cancelled key deletion. */
export async function auditKeyDeletionChange(
  tx: Queryable,
  action: KeyDeletionAction,
  change: { keyId: string; owner: KeyOwner; versions: number[]; deletionDate: Date | null },
): Promise<void> {
  await appendAuditRecords(tx, [
    buildAuditRecord(SYSTEM_ACTOR, SYSTEM_CONTEXT, {
      action,
      orgId: auditOrgId(change.owner),
      metadata: {
        keyId: change.keyId,
        ...ownerMetadata(change.owner),
        versions: change.versions,
        deletionDate: change.deletionDate?.toISOString() ?? null,
      },
      sensitivity: 'critical',
      complianceRelevant: true,
    }),
  ]);
}

/** Writes the critical audit entry of a key version destroyed by the key maintenance timer. */
export async function auditKeyDestroyed(
  db: Database,
  hierarchy: KeyHierarchy,
  ref: KeyVersionRef,
): Promise<void> {
  const record = await hierarchy.getKey(ref);
  await db.transaction((tx) =>
    appendAuditRecords(tx, [
      buildAuditRecord(SYSTEM_ACTOR, SYSTEM_CONTEXT, {
        action: 'encryption_key.destroyed',
        orgId: auditOrgId(record.owner),
        metadata: {
          keyId: ref.keyId,
          purpose: record.purpose,
          ...ownerMetadata(record.owner),
          version: ref.version,
        },
        sensitivity: 'critical',
        complianceRelevant: true,
      }),
    ]),
  );
}

/** Appends the critical audit entry of a scheduled or cancelled subject erasure. */
export async function auditSubjectErasureChange(
  tx: Queryable,
  action: 'personal_data.erasure_scheduled' | 'personal_data.erasure_cancelled',
  change: SubjectErasureChange,
): Promise<void> {
  await appendAuditRecords(tx, [
    buildAuditRecord(SYSTEM_ACTOR, SYSTEM_CONTEXT, {
      action,
      // resource_id accepts UUIDs only, and subject ids are not UUIDs.
      metadata: {
        subject: change.subjectId,
        previousKeyState: change.previousState,
        deletionDate: change.deletionDate?.toISOString() ?? null,
        dataKeys: change.dataKeys,
      },
      sensitivity: 'critical',
      complianceRelevant: true,
    }),
  ]);
}

/** Appends the critical audit entry of a subject whose key was destroyed at its erasure date. */
export async function auditSubjectErased(
  tx: Queryable,
  destroyed: DestroyedSubjectKey,
): Promise<void> {
  await appendAuditRecords(tx, [
    buildAuditRecord(SYSTEM_ACTOR, SYSTEM_CONTEXT, {
      action: 'personal_data.erased',
      metadata: {
        subject: destroyed.subjectId,
        deletionDate: destroyed.deletionDate.toISOString(),
      },
      sensitivity: 'critical',
      complianceRelevant: true,
    }),
  ]);
}
