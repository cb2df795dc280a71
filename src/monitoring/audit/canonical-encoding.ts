/** A JSON value as stored in a `jsonb` column. */
export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Ciphertext string of a personal field exactly as stored. The hash covers these bytes, so
 * this module never decrypts, parses or normalizes the value.
 */
export type StoredCiphertext = string & { readonly __storedCiphertext: unique symbol };

/** Marks a stored ciphertext string as the opaque value of a personal field. */
export function asStoredCiphertext(value: string): StoredCiphertext {
  return value as StoredCiphertext;
}

/**
 * Every field of one audit entry as stored, which is exactly the input of the entry hash and of
 * the Merkle leaf. Absent values are `null`, never omitted.
 */
export interface AuditEntryFields {
  /** Position in the log, as a decimal integer string without leading zeros or sign. */
  seq: string;
  logId: string;
  /** UTC time with microseconds, `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
  timestamp: string;
  actorType: string;
  actorId: string | null;
  actorEmail: StoredCiphertext | null;
  actorIp: StoredCiphertext | null;
  actorUserAgent: StoredCiphertext | null;
  orgId: string | null;
  projectId: string | null;
  requestId: string | null;
  sessionId: string | null;
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  /** Previous values, with personal values inside as stored ciphertext strings. */
  oldValues: JsonValue | null;
  /** New values, with personal values inside as stored ciphertext strings. */
  newValues: JsonValue | null;
  metadata: JsonValue | null;
  sensitivity: string;
  complianceRelevant: boolean;
  /** Lowercase hex entry hash of the previous entry, or `null` for the first entry of a log. */
  previousHash: string | null;
}

/** Thrown when entry fields cannot be encoded because a value breaks the stored format. */
export class AuditEncodingError extends Error {
  override readonly name = 'AuditEncodingError';
}

const SEQ_PATTERN = /^(0|[1-9][0-9]*)$/;
const TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const HASH_HEX_PATTERN = /^[0-9a-f]{64}$/;

const REQUIRED_STRING_FIELDS = ['logId', 'actorType', 'action', 'sensitivity'] as const;
const NULLABLE_STRING_FIELDS = [
  'actorId',
  'actorEmail',
  'actorIp',
  'actorUserAgent',
  'orgId',
  'projectId',
  'requestId',
  'sessionId',
  'resourceType',
  'resourceId',
] as const;
const JSON_FIELDS = ['oldValues', 'newValues', 'metadata'] as const;

function checkString(name: string, value: unknown, nullable: boolean): void {
  if (value === null && nullable) return;
  if (typeof value !== 'string') {
    throw new AuditEncodingError(`${name} must be a string${nullable ? ' or null' : ''}`);
  }
  // isWellFormed is false exactly when the string has an unpaired surrogate, which is not
  // valid Unicode text.
  if (!value.isWellFormed()) {
    throw new AuditEncodingError(`${name} contains an unpaired UTF-16 surrogate`);
  }
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/** Rejects anything that `JSON.parse` could not return, so the stored value hashes the same. */
function checkJson(path: string, value: unknown, depth: number): void {
  if (depth > 64) throw new AuditEncodingError(`${path} is nested deeper than 64 levels`);
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'string') return checkString(path, value, false);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new AuditEncodingError(`${path} is not a finite number`);
    return;
  }
  if (Array.isArray(value)) {
    // A loop over every index, because forEach skips the holes of a sparse array.
    for (let index = 0; index < value.length; index += 1) {
      if (!(index in value)) throw new AuditEncodingError(`${path}[${index}] is a missing element`);
      checkJson(`${path}[${index}]`, value[index], depth + 1);
    }
    return;
  }
  if (typeof value === 'object' && isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      checkString(`${path} key ${JSON.stringify(key)}`, key, false);
      checkJson(`${path}.${key}`, item, depth + 1);
    }
    return;
  }
  throw new AuditEncodingError(`${path} is not a JSON value (found ${typeof value})`);
}

/**
 * Returns whether `checkJson` accepts `value`, without building the path of every nested value,
 * so a valid entry costs no allocation. It must reject exactly what `checkJson` rejects.
 */
function isStoredJson(value: unknown, depth: number): boolean {
  if (depth > 64) return false;
  if (value === null || typeof value === 'boolean') return true;
  if (typeof value === 'string') return value.isWellFormed();
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index += 1) {
      if (!(index in value) || !isStoredJson(value[index], depth + 1)) return false;
    }
    return true;
  }
  if (typeof value === 'object' && isPlainObject(value)) {
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      if (!key.isWellFormed() || !isStoredJson(object[key], depth + 1)) return false;
    }
    return true;
  }
  return false;
}

/**
 * Checks that every field has the stored type and format.
 *
 * @throws AuditEncodingError naming the first invalid field.
 */
export function validateEntryFields(fields: AuditEntryFields): void {
  if (typeof fields.seq !== 'string' || !SEQ_PATTERN.test(fields.seq)) {
    throw new AuditEncodingError(`seq must be a decimal integer string, got ${String(fields.seq)}`);
  }
  if (typeof fields.timestamp !== 'string' || !TIMESTAMP_PATTERN.test(fields.timestamp)) {
    throw new AuditEncodingError(
      `timestamp must be UTC with microseconds (YYYY-MM-DDTHH:MM:SS.ffffffZ), got ${String(fields.timestamp)}`,
    );
  }
  for (const name of REQUIRED_STRING_FIELDS) checkString(name, fields[name], false);
  for (const name of NULLABLE_STRING_FIELDS) checkString(name, fields[name], true);
  for (const name of JSON_FIELDS) {
    // The slower check runs only to name the first invalid value in its error.
    if (!isStoredJson(fields[name], 0)) checkJson(name, fields[name], 0);
  }
  if (typeof fields.complianceRelevant !== 'boolean') {
    throw new AuditEncodingError('complianceRelevant must be a boolean');
  }
  const previous = fields.previousHash;
  if (previous !== null && (typeof previous !== 'string' || !HASH_HEX_PATTERN.test(previous))) {
    throw new AuditEncodingError('previousHash must be 64 lowercase hex characters or null');
  }
}

const encoder = new TextEncoder();

/**
 * Returns the RFC 8785 form of a value that `checkJson` accepted: members sorted by key in
 * UTF-16 code units, and strings, numbers, booleans and null exactly as JSON.stringify writes
 * them. For such values the output is the same as that of the `canonicalize` package.
 */
function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let text = '[';
    for (let index = 0; index < value.length; index += 1) {
      if (index > 0) text += ',';
      text += canonicalJson(value[index] as JsonValue);
    }
    return `${text}]`;
  }
  const keys = Object.keys(value).sort();
  let text = '{';
  for (let index = 0; index < keys.length; index += 1) {
    const key = keys[index] as string;
    if (index > 0) text += ',';
    text += JSON.stringify(key);
    text += ':';
    text += canonicalJson(value[key] as JsonValue);
  }
  return `${text}}`;
}

/**
 * Encodes an entry as the UTF-8 bytes of its RFC 8785 (JCS) canonical JSON: one object with all
 * 21 fields, keys sorted, and absent values as explicit `null`. Properties outside
 * `AuditEntryFields` are ignored, so a row object with extra columns encodes the same.
 *
 * @throws AuditEncodingError when a field breaks the stored format.
 */
export function encodeEntry(fields: AuditEntryFields): Uint8Array {
  validateEntryFields(fields);
  // RFC 8785 serializes an object as its members sorted by key, each value in canonical form,
  // and strings, booleans and null exactly as JSON.stringify does. The member names and their
  // separators are fixed, so each field appends its prefix and its value.
  let text = '';
  for (let index = 0; index < SORTED_FIELD_NAMES.length; index += 1) {
    const key = SORTED_FIELD_NAMES[index] as keyof AuditEntryFields;
    const value = fields[key];
    const encoded =
      value !== null && JSON_FIELD_NAMES.has(key) ? canonicalJson(value) : JSON.stringify(value);
    if (encoded === undefined) throw new AuditEncodingError(`${key} has no JSON encoding`);
    text += FIELD_PREFIXES[index] as string;
    text += encoded;
  }
  text += '}';
  return encoder.encode(text);
}

/** Field names of an entry in RFC 8785 order (sorted by UTF-16 code units). */
const SORTED_FIELD_NAMES: readonly (keyof AuditEntryFields)[] = (
  [
    'seq',
    'timestamp',
    'complianceRelevant',
    'previousHash',
    ...REQUIRED_STRING_FIELDS,
    ...NULLABLE_STRING_FIELDS,
    ...JSON_FIELDS,
  ] as const
).toSorted();

/** The text before each field's value: `{` or `,`, then the quoted name and a colon. */
const FIELD_PREFIXES: readonly string[] = SORTED_FIELD_NAMES.map(
  (key, index) => `${index === 0 ? '{' : ','}${JSON.stringify(key)}:`,
);

const JSON_FIELD_NAMES: ReadonlySet<keyof AuditEntryFields> = new Set(JSON_FIELDS);
