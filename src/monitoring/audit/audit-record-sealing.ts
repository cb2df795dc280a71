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
 * Returns the data subject whose key seals the record's actor fields (actor_email, actor_ip,
 * actor_user_agent). The subject is the acting user or API key, or one shared subject for
 * requests without an actor.
 */
export function subjectOf(record: Pick<AuditRecord, 'actorType' | 'actorId'>): string {
  return record.actorId ? `${record.actorType}:${record.actorId}` : 'anonymous';
}

/**
 * Returns the data subject whose key seals the personal values in the record's old_values and
 * new_values. When the resource is a user, those values describe that user, so they are sealed
 * for `user:<resource id>`. Erasing that user then makes them unreadable, even in entries that
 * another actor wrote.
 * Otherwise they are sealed for the actor, as the actor fields are.
 *
 * Each sealed value names its subject in its own text (see `sealWithKey`), so readers open
 * entries written before this rule, which sealed everything for the actor, with no other change.
 * NOTE: a record about someone without a user id (an invitation) falls back to the actor. No
 * invitation entry stores the invitee's email or name today, but one that did would stay
 * readable after the invitee's erasure.
 */
export function valuesSubjectOf(
  record: Pick<AuditRecord, 'actorType' | 'actorId' | 'resourceType' | 'resourceId'>,
): string {
  if (record.resourceType === 'user' && record.resourceId) return `user:${record.resourceId}`;
  return subjectOf(record);
}

/** Sealing keys by subject id. A destroyed key is null. */
export type SealingKeys = ReadonlyMap<string, Uint8Array | null>;

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

function hasActorValue(record: AuditRecord): boolean {
  const present = (value: string | null | undefined) => value !== null && value !== undefined;
  return present(record.actorEmail) || present(record.actorIp) || present(record.actorUserAgent);
}

/**
 * Returns the subjects whose keys seal the record's personal values, at most the actor's and the
 * described user's. A record without a personal value has none, so no key is created for it.
 */
export function sealingSubjectsOf(record: AuditRecord): string[] {
  const subjects: string[] = [];
  if (hasActorValue(record)) subjects.push(subjectOf(record));
  if (hasPersonalValue(record.oldValues) || hasPersonalValue(record.newValues)) {
    const subject = valuesSubjectOf(record);
    if (!subjects.includes(subject)) subjects.push(subject);
  }
  return subjects;
}

/** Returns whether the record has a personal value to seal. */
export function needsSealingKey(record: AuditRecord): boolean {
  return sealingSubjectsOf(record).length > 0;
}

/**
 * Seals the record's personal fields and makes the rest storable. The actor fields are sealed
 * under the key of `subjectOf(record)`, and old/new values under the key of
 * `valuesSubjectOf(record)`. A value whose subject's key is null (destroyed) or missing from
 * `keys` is stored as null. It runs without the database, so a worker thread can run it.
 */
export function sealPersonalFieldsWithKeys(
  record: AuditRecord,
  keys: SealingKeys,
): SealedPersonalFields {
  const subject = subjectOf(record);
  const key = keys.get(subject) ?? null;
  const valuesSubject = valuesSubjectOf(record);
  const valuesKey = keys.get(valuesSubject) ?? null;
  return {
    actorEmail: sealText(key, subject, 'actor_email', record.actorEmail),
    actorIp: sealText(key, subject, 'actor_ip', record.actorIp),
    actorUserAgent: sealText(key, subject, 'actor_user_agent', record.actorUserAgent),
    oldValues: sealValues(valuesKey, valuesSubject, 'old_values', record.oldValues),
    newValues: sealValues(valuesKey, valuesSubject, 'new_values', record.newValues),
    metadata: record.metadata === null ? null : storableJson(record.metadata),
  };
}

/**
 * Adds to `keys` the sealing key of every subject of `record` not in it yet, creating a missing
 * key inside the caller's transaction. A destroyed key is added as null.
 */
export async function addSealingKeys(
  db: Queryable,
  record: AuditRecord,
  keys: Map<string, Uint8Array | null>,
): Promise<void> {
  for (const subject of sealingSubjectsOf(record)) {
    if (!keys.has(subject)) keys.set(subject, await personalDataSealer.sealingKey(db, subject));
  }
}

/** Seals the record's personal fields under its subjects' keys and makes the rest storable. */
export async function sealPersonalFields(
  db: Queryable,
  record: AuditRecord,
): Promise<SealedPersonalFields> {
  const keys = new Map<string, Uint8Array | null>();
  await addSealingKeys(db, record, keys);
  return sealPersonalFieldsWithKeys(record, keys);
}
