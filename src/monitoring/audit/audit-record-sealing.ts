import type { Queryable } from '../../data/database/database.js';
import { personalDataSealer, sealWithKey } from '../../data/personal-data/personal-data-sealer.js';
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

function sealValues(
  key: Uint8Array | null,
  subject: string,
  column: string,
  values: Record<string, unknown> | null,
): JsonValue | null {
  if (values === null) return null;
  const stored = storableJson(values) as Record<string, JsonValue>;
  for (const [name, value] of Object.entries(stored)) {
    if (PERSONAL_VALUE_KEYS.has(name) && typeof value === 'string') {
      stored[name] = key && sealWithKey(key, subject, `${column}.${name}`, value);
    }
  }
  return stored;
}

function sealText(
  key: Uint8Array | null,
  subject: string,
  field: string,
  value: string | null,
): string | null {
  if (value === null || value === undefined || !key) return null;
  return sealWithKey(key, subject, field, storableText(value));
}

function hasPersonalValue(values: Record<string, unknown> | null): boolean {
  if (values === null) return false;
  return Object.entries(values).some(
    ([name, value]) => PERSONAL_VALUE_KEYS.has(name) && typeof value === 'string',
  );
}

/**
 * Returns whether the record has a personal value to seal. A record without one never needs
 * its subject's key, so no key is created for it.
 */
export function needsSealingKey(record: AuditRecord): boolean {
  const present = (value: string | null | undefined) => value !== null && value !== undefined;
  return (
    present(record.actorEmail) ||
    present(record.actorIp) ||
    present(record.actorUserAgent) ||
    hasPersonalValue(record.oldValues) ||
    hasPersonalValue(record.newValues)
  );
}

/**
 * Seals the record's personal fields under its subject's `key` and makes the rest storable.
 * With a null key (the subject's key was destroyed) every personal value is stored as null.
 * It runs without the database, so a worker thread can run it.
 */
export function sealPersonalFieldsWithKey(
  record: AuditRecord,
  key: Uint8Array | null,
): SealedPersonalFields {
  const subject = subjectOf(record);
  return {
    actorEmail: sealText(key, subject, 'actor_email', record.actorEmail),
    actorIp: sealText(key, subject, 'actor_ip', record.actorIp),
    actorUserAgent: sealText(key, subject, 'actor_user_agent', record.actorUserAgent),
    oldValues: sealValues(key, subject, 'old_values', record.oldValues),
    newValues: sealValues(key, subject, 'new_values', record.newValues),
    metadata: record.metadata === null ? null : storableJson(record.metadata),
  };
}

/**
 * Returns the sealing key of the record's subject, or null when the record has nothing to seal
 * or the key was destroyed. A missing key is created inside the caller's transaction.
 */
export async function sealingKeyOf(db: Queryable, record: AuditRecord): Promise<Buffer | null> {
  if (!needsSealingKey(record)) return null;
  return personalDataSealer.sealingKey(db, subjectOf(record));
}

/** Seals the record's personal fields under its subject's key and makes the rest storable. */
export async function sealPersonalFields(
  db: Queryable,
  record: AuditRecord,
): Promise<SealedPersonalFields> {
  return sealPersonalFieldsWithKey(record, await sealingKeyOf(db, record));
}
