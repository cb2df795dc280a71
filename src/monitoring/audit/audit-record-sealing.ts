import type { Queryable } from '../../data/database/database.js';
import { personalDataSealer } from '../../data/personal-data/personal-data-sealer.js';
import type { JsonValue } from './canonical-encoding.js';
import type { AuditRecord } from './audit-entry.js';

/** Keys of old/new values whose string values are personal data and are stored sealed. */
export const PERSONAL_VALUE_KEYS = new Set(['email', 'name', 'phone', 'ip', 'userAgent']);

/** The record's personal fields as stored: sealed text, or null. */
export interface SealedPersonalFields {
  actorEmail: string | null;
  actorIp: string | null;
  actorUserAgent: string | null;
  oldValues: JsonValue | null;
  newValues: JsonValue | null;
  metadata: JsonValue | null;
}

/**
 * The data subject whose key seals the record's personal fields: the acting user or API key,
 * or one shared subject for requests without an actor.
 */
export function subjectOf(record: Pick<AuditRecord, 'actorType' | 'actorId'>): string {
  return record.actorId ? `${record.actorType}:${record.actorId}` : 'anonymous';
}

/**
 * Makes a value storable in PostgreSQL text and jsonb and hashable as canonical JSON: NUL
 * characters and unpaired surrogates become U+FFFD, and values JSON cannot carry are dropped.
 */
export function storableText(value: string): string {
  return value.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

function storableJson(value: unknown, depth = 0): JsonValue {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') return storableText(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value instanceof Date) return value.toISOString();
  if (depth >= 32) return '[truncated]';
  if (Array.isArray(value)) return value.map((item) => storableJson(item, depth + 1));
  if (typeof value === 'object') {
    const result: Record<string, JsonValue> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (item !== undefined && typeof item !== 'function') {
        // defineProperty, because assigning a "__proto__" key would set the prototype instead.
        Object.defineProperty(result, storableText(key), {
          value: storableJson(item, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
    return result;
  }
  return null;
}

async function sealValues(
  db: Queryable,
  subject: string,
  column: string,
  values: Record<string, unknown> | null,
): Promise<JsonValue | null> {
  if (values === null) return null;
  const stored = storableJson(values) as Record<string, JsonValue>;
  for (const [key, value] of Object.entries(stored)) {
    if (PERSONAL_VALUE_KEYS.has(key) && typeof value === 'string') {
      stored[key] = await personalDataSealer.seal(db, subject, `${column}.${key}`, value);
    }
  }
  return stored;
}

async function sealText(db: Queryable, subject: string, field: string, value: string | null) {
  return value === null || value === undefined
    ? null
    : personalDataSealer.seal(db, subject, field, storableText(value));
}

/** Seals the record's personal fields under its subject's key and makes the rest storable. */
export async function sealPersonalFields(
  db: Queryable,
  record: AuditRecord,
): Promise<SealedPersonalFields> {
  const subject = subjectOf(record);
  return {
    actorEmail: await sealText(db, subject, 'actor_email', record.actorEmail),
    actorIp: await sealText(db, subject, 'actor_ip', record.actorIp),
    actorUserAgent: await sealText(db, subject, 'actor_user_agent', record.actorUserAgent),
    oldValues: await sealValues(db, subject, 'old_values', record.oldValues),
    newValues: await sealValues(db, subject, 'new_values', record.newValues),
    metadata: record.metadata === null ? null : storableJson(record.metadata),
  };
}
