import type { Queryable } from '../../data/database/database.js';
import { personalDataSealer } from '../../data/personal-data/personal-data-sealer.js';
import { PERSONAL_VALUE_KEYS } from './audit-record-sealing.js';
import type { JsonValue } from './canonical-encoding.js';
import type { StoredAuditEntry } from './chain-verifier.js';

/** Opens a sealed column value; null when absent or erased. */
async function open(db: Queryable, sealed: string | null, field: string): Promise<string | null> {
  return sealed === null ? null : personalDataSealer.unseal(db, sealed, field);
}

async function openValues(db: Queryable, values: JsonValue | null, column: string) {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) return values;
  const opened: Record<string, JsonValue> = { ...values };
  for (const [key, value] of Object.entries(values)) {
    if (PERSONAL_VALUE_KEYS.has(key) && typeof value === 'string') {
      opened[key] = await open(db, value, `${column}.${key}`);
    }
  }
  return opened;
}

/**
 * An entry as the audit API shows it: personal fields opened for reading (null once the data
 * subject was erased), and the stored hashes for checking it against proofs.
 */
export async function auditEntryView(db: Queryable, entry: StoredAuditEntry) {
  return {
    seq: Number(entry.seq),
    timestamp: entry.timestamp,
    actor: {
      type: entry.actorType,
      id: entry.actorId,
      email: await open(db, entry.actorEmail, 'actor_email'),
      ip: await open(db, entry.actorIp, 'actor_ip'),
      userAgent: await open(db, entry.actorUserAgent, 'actor_user_agent'),
    },
    orgId: entry.orgId,
    projectId: entry.projectId,
    requestId: entry.requestId,
    sessionId: entry.sessionId,
    action: entry.action,
    resource: { type: entry.resourceType, id: entry.resourceId },
    oldValues: await openValues(db, entry.oldValues, 'old_values'),
    newValues: await openValues(db, entry.newValues, 'new_values'),
    metadata: entry.metadata,
    sensitivity: entry.sensitivity,
    complianceRelevant: entry.complianceRelevant,
    previousHash: entry.previousHash,
    entryHash: entry.entryHash,
  };
}
