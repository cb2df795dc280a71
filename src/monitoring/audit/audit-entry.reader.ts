import type { Queryable } from '../../data/database/database.js';
import type { JsonValue } from './canonical-encoding.js';
import type { StoredAuditEntry } from './chain-verifier.js';

/** SELECT list that reads an entry back exactly as it was hashed. */
export const STORED_ENTRY_COLUMNS = `seq::text AS seq, log_id AS "logId",
  to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS timestamp,
  actor_type AS "actorType", actor_id::text AS "actorId", actor_email AS "actorEmail",
  actor_ip AS "actorIp", actor_user_agent AS "actorUserAgent", org_id::text AS "orgId",
  project_id::text AS "projectId", request_id::text AS "requestId",
  session_id::text AS "sessionId", action, resource_type AS "resourceType",
  resource_id::text AS "resourceId", old_values AS "oldValues", new_values AS "newValues",
  metadata, sensitivity, compliance_relevant AS "complianceRelevant",
  previous_hash AS "previousHash", entry_hash AS "entryHash"`;

/** The verification reader's SELECT list: as above, but JSON columns as their stored text. */
const VERIFY_COLUMNS = STORED_ENTRY_COLUMNS.replace(
  'old_values AS "oldValues", new_values AS "newValues",\n  metadata,',
  'old_values::text AS "oldValuesText", new_values::text AS "newValuesText",\n  metadata::text AS "metadataText",',
);
if (VERIFY_COLUMNS === STORED_ENTRY_COLUMNS) {
  throw new Error('the verification SELECT list no longer matches STORED_ENTRY_COLUMNS');
}

const JSON_COLUMNS = [
  ['oldValues', 'old_values'],
  ['newValues', 'new_values'],
  ['metadata', 'metadata'],
] as const;

/** Reduces a JSON number literal to `<sign><digits without outer zeros>e<exponent>`. */
function decimalValue(literal: string): string {
  const sign = literal.startsWith('-') ? '-' : '';
  const [mantissa = '', exponent = '0'] = literal.slice(sign.length).toLowerCase().split('e');
  const [integer = '', fraction = ''] = mantissa.split('.');
  const digits = (integer + fraction).replace(/^0+/, '');
  if (digits === '') return '0';
  const significant = digits.replace(/0+$/, '');
  const scale = Number(exponent) - fraction.length + (digits.length - significant.length);
  return `${sign}${significant}e${scale}`;
}

/**
 * Finds a number in `jsonText` (a jsonb value as PostgreSQL prints it) whose decimal value
 * differs from the JavaScript number it parses to. The server writes only JavaScript numbers,
 * so such a literal was edited in the database to a form that hashes like the original.
 */
export function inexactJsonNumber(jsonText: string): string | null {
  // Integers of up to 15 digits always parse exactly, so most values need no closer look.
  if (!/[.eE]|\d{16}/.test(jsonText)) return null;
  const withoutStrings = jsonText.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  // Outside strings, only numbers contain digits, and a number ends at , ] } or a space.
  for (const literal of withoutStrings.match(/-?\d[\d.eE+-]*/g) ?? []) {
    const parsed = Number(literal);
    // Out-of-range numbers parse to Infinity, which the encoder already rejects as malformed.
    if (!Number.isFinite(parsed)) continue;
    if (decimalValue(literal) !== decimalValue(String(parsed))) return literal;
  }
  return null;
}

type VerifiedRow = StoredAuditEntry & {
  rawTime: string;
  oldValuesText: string | null;
  newValuesText: string | null;
  metadataText: string | null;
};

/** Compares the stored JSON text of an entry with the values that are hashed. */
function storedFormProblem(row: VerifiedRow): string | undefined {
  for (const [field] of JSON_COLUMNS) {
    const text = row[`${field}Text`];
    const literal = text === null ? null : inexactJsonNumber(text);
    if (literal !== null) {
      return `${field} holds the number ${literal}, which no stored JavaScript number prints as`;
    }
  }
  return undefined;
}

/**
 * Streams a log's entries in sequence order, `batchSize` rows per query, from the entry after
 * `afterSeq`, for verification. Rows with the same seq come out together, ordered by time.
 * Each entry also carries its stored leaf hash and any difference between its stored JSON text
 * and the hashed values (see `StoredAuditEntry`).
 */
export async function* readStoredEntries(
  db: Queryable,
  logId: string,
  options: { afterSeq?: number; batchSize?: number } = {},
): AsyncGenerator<StoredAuditEntry> {
  const batchSize = options.batchSize ?? 5000;
  // JSON columns are read once, as text, and parsed here: the text is also what the check for
  // edited number literals needs.
  // Verification reads the whole chain, whichever organizations its entries belong to, so it
  // reads through SECURITY DEFINER functions: row-level security shows the application role no
  // entry outside a tenant scope.
  const select = `SELECT ${VERIFY_COLUMNS}, timestamp::text AS "rawTime",
      encode(leaf_hash, 'hex') AS "leafHash"`;
  const top = await db.query<{ max: number | null }>(
    'SELECT audit_chain_max_seq($1)::int8 AS max',
    [logId],
  );
  const maxSeq = top.rows[0]?.max ?? 0;

  // Pages are seq ranges, which the primary key index serves directly even before the planner
  // has statistics, and rows sharing a seq stay in one page. The next page is requested before
  // the current one is handed out, so the database works while the caller verifies.
  const page = (from: number) =>
    db.query<VerifiedRow>(
      `${select} FROM audit_chain_entries($1, $2, $3) AS audit_logs
        ORDER BY audit_logs.seq, audit_logs.timestamp`,
      [logId, from, from + batchSize],
    );
  let from = options.afterSeq ?? 0;
  let pending = from < maxSeq ? page(from) : null;
  while (pending) {
    const { rows } = await pending;
    from += batchSize;
    pending = from < maxSeq ? page(from) : null;
    for (const row of rows) yield storedEntryOf(row);
  }

  // Rows past the largest seq seen at the start: appended meanwhile, or written past the head.
  let afterSeq = Math.max(maxSeq, options.afterSeq ?? 0);
  let afterTime = 'infinity';
  for (;;) {
    const { rows } = await db.query<VerifiedRow>(
      `${select} FROM audit_chain_entries_after($1, $2, $3, $4) AS audit_logs
        ORDER BY audit_logs.seq, audit_logs.timestamp`,
      [logId, afterSeq, afterTime, batchSize],
    );
    for (const row of rows) yield storedEntryOf(row);
    if (rows.length < batchSize) return;
    const last = rows[rows.length - 1] as VerifiedRow;
    afterSeq = Number(last.seq);
    afterTime = last.rawTime;
  }
}

/** An entry as hashed, from a row whose JSON columns were read as text. */
function storedEntryOf(row: VerifiedRow): StoredAuditEntry {
  const parse = (text: string | null) => (text === null ? null : (JSON.parse(text) as JsonValue));
  row.oldValues = parse(row.oldValuesText);
  row.newValues = parse(row.newValuesText);
  row.metadata = parse(row.metadataText);
  const problem = storedFormProblem(row);
  const {
    rawTime: _rawTime,
    oldValuesText: _oldValuesText,
    newValuesText: _newValuesText,
    metadataText: _metadataText,
    ...entry
  } = row;
  return problem === undefined ? entry : { ...entry, storedFormProblem: problem };
}

/** The stored entry at one sequence number (the first by time when duplicated). */
export async function readEntriesAtSeq(
  db: Queryable,
  logId: string,
  seq: number,
): Promise<StoredAuditEntry[]> {
  const { rows } = await db.query<StoredAuditEntry>(
    `SELECT ${STORED_ENTRY_COLUMNS} FROM audit_chain_entries($1, $2, $3) AS audit_logs
      ORDER BY audit_logs.timestamp`,
    [logId, seq - 1, seq],
  );
  return rows;
}
