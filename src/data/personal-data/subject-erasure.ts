import { randomBytes } from 'node:crypto';

import type { KeyHierarchy } from '../crypto/key-hierarchy.js';
import { DecryptionError } from '../crypto/errors.js';
import { MIN_DELETION_WAITING_DAYS } from '../crypto/key-lifecycle.js';
import type { Database, Queryable } from '../database/database.js';
import { enterTenant, TENANT_SETTING } from '../database/tenant-scope.js';
import type { DatabaseKeyStore } from '../key-store/database-key-store.js';
import { DatabaseKeyUsageSink } from '../key-store/database-key-usage-sink.js';
import { complianceKeyWrapping, personalDataSealer } from './personal-data-sealer.js';
import { currentUserFieldProtection } from './user-field-registry.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Subjects destroyed per sweep query, so one sweep never loads an unbounded list. */
const SWEEP_BATCH = 100;

/**
 * State of a data subject's key: usable, scheduled for erasure (still usable until its
 * deletion date), destroyed by an erasure, or never created.
 */
export type SubjectKeyState = 'live' | 'scheduled' | 'erased' | 'none';

/** A subject id as audit entries name it: `anonymous`, or `<actor type>:<actor id>`. */
const SUBJECT_ID = /^(anonymous|[a-z_]{1,40}:[A-Za-z0-9._@-]{1,150})$/;

/** Checks that `subjectId` has the form of a data subject id, such as `user:<uuid>`. */
export function isSubjectId(subjectId: string): boolean {
  return SUBJECT_ID.test(subjectId);
}

const USER_SUBJECT = /^user:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** Returns the user id of a `user:<uuid>` subject, or null for any other subject. */
function userIdOfSubject(subjectId: string): string | null {
  return USER_SUBJECT.exec(subjectId)?.[1] ?? null;
}

/**
 * Disables the account of a user subject whose erasure is being scheduled and revokes its open
 * sessions, so an erasure request stops sign-in and every session at once, and a cancel brings
 * no old session back. `erasure_disabled` records whether the account was active, so a cancel
 * enables only what the erasure disabled.
 */
async function disableErasedUser(tx: Queryable, subjectId: string): Promise<void> {
  const userId = userIdOfSubject(subjectId);
  if (userId === null) return;
  await tx.query(
    `UPDATE users SET erasure_disabled = (status = 'active'), status = 'disabled',
            updated_at = now()
      WHERE id = $1 AND erased_at IS NULL AND NOT erasure_disabled`,
    [userId],
  );
  await tx.query(
    'UPDATE admin_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL',
    [userId],
  );
}

/** Enables the account again when a cancelled erasure was what disabled it. */
async function enableCancelledUser(tx: Queryable, subjectId: string): Promise<void> {
  const userId = userIdOfSubject(subjectId);
  if (userId === null) return;
  await tx.query(
    `UPDATE users SET status = 'active', erasure_disabled = false, updated_at = now()
      WHERE id = $1 AND erased_at IS NULL AND erasure_disabled`,
    [userId],
  );
}

/**
 * Clears the email blind index, any plaintext email and the password hash of an erased user,
 * keeps the account disabled and deletes the rows that link it to the person. Without the index
 * nothing can find the row by email any more, so the same email can register or accept an
 * invitation again.
 */
async function clearErasedUser(
  tx: Queryable,
  subjectId: string,
  now: Date,
  invitations: InvitationIndexes,
): Promise<void> {
  const userId = userIdOfSubject(subjectId);
  if (userId === null) return;
  await tx.query(
    `UPDATE users SET status = 'disabled', erased_at = $2, email_index = NULL, email = NULL,
            password_hash = NULL, updated_at = now()
      WHERE id = $1 AND erased_at IS NULL`,
    [userId, now],
  );
  await deleteUserLinks(tx, userId, invitations);
}

/** Blind indexes of an erased user's email that unaccepted invitations may store. */
interface InvitationIndexes {
  /** Indexes under each organization's data key, by organization id. */
  byOrganization: Map<string, string[]>;
  /** Indexes under the platform key, which invitations written before per-organization indexes store. */
  platform: string[];
}

const NO_INVITATION_INDEXES: InvitationIndexes = { byOrganization: new Map(), platform: [] };

/**
 * Computes the invitation email indexes of a user subject in every organization that has
 * unaccepted invitations. It decrypts the user's email, so it runs before the key is destroyed.
 * It also reads the key store, so it runs before the erasure transaction opens, because on
 * embedded PostgreSQL a query outside that transaction would wait for it to end.
 *
 * Returns no indexes for other subjects, for a user without an email, when the email does not
 * decrypt, and in a process without user field protection.
 */
async function prepareInvitationIndexes(
  db: Queryable,
  subjectId: string,
): Promise<InvitationIndexes> {
  const userId = userIdOfSubject(subjectId);
  const protection = currentUserFieldProtection();
  if (userId === null || protection === null) return NO_INVITATION_INDEXES;
  const user = await db.query<{ email: string | null; emailEncrypted: string | null }>(
    `SELECT email, email_encrypted AS "emailEncrypted" FROM users
      WHERE id = $1 AND erased_at IS NULL`,
    [userId],
  );
  const row = user.rows[0];
  let email = row?.email ?? null;
  if (row?.emailEncrypted != null) {
    try {
      email = await protection.decrypt(userId, 'email', row.emailEncrypted);
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      email = null;
    }
  }
  if (email === null) return NO_INVITATION_INDEXES;
  const orgs = await db.query<{ orgId: string }>(
    'SELECT org_id AS "orgId" FROM organizations_with_unaccepted_invitations() AS open(org_id)',
  );
  const byOrganization = new Map<string, string[]>();
  for (const { orgId } of orgs.rows) {
    byOrganization.set(orgId, await protection.invitationIndexesForLookup(orgId, email));
  }
  return { byOrganization, platform: await protection.legacyInvitationIndexesForLookup(email) };
}

/**
 * Tables outside any tenant whose rows of an erased user are deleted: sign-in factors, open
 * sign-ins and sessions, which would otherwise still tie the account to the person's devices
 * and authenticators. WebAuthn challenges go first, because they reference sessions and MFA
 * challenges.
 */
const USER_LINK_TABLES = [
  'webauthn_challenges',
  'mfa_challenges',
  'admin_sessions',
  'password_reset_tokens',
  'user_recovery_codes',
  'user_totp_factors',
  'user_webauthn_credentials',
] as const;

/**
 * Deletes every row that links an erased user to the person, except the ids that governance
 * records and the audit trail keep (access grants, change requests, approvals, `created_by`,
 * `updated_by` and `invited_by` columns). In each organization linked to the user it deletes
 * the memberships, and project memberships follow by cascade. It also deletes the SSO identity
 * links there, so the same provider identity gets a new account at its next sign-in, and the
 * invitations the user accepted, because they contain the email address. In every organization
 * of `invitations` it deletes the unaccepted invitations sent to the user's email, whether
 * pending, expired or revoked, because they contain the email address too.
 */
async function deleteUserLinks(
  tx: Queryable,
  userId: string,
  invitations: InvitationIndexes,
): Promise<void> {
  for (const table of USER_LINK_TABLES) {
    await tx.query(`DELETE FROM ${table} WHERE user_id = $1`, [userId]);
  }
  const orgs = await tx.query<{ orgId: string }>(
    'SELECT org_id AS "orgId" FROM user_linked_organizations($1) AS linked(org_id)',
    [userId],
  );
  for (const { orgId } of orgs.rows) {
    await enterTenant(tx, orgId);
    await tx.query('DELETE FROM user_sso_identities WHERE org_id = $1 AND user_id = $2', [
      orgId,
      userId,
    ]);
    await tx.query('DELETE FROM user_invitations WHERE org_id = $1 AND accepted_by = $2', [
      orgId,
      userId,
    ]);
    await tx.query('DELETE FROM memberships WHERE org_id = $1 AND user_id = $2', [orgId, userId]);
  }
  for (const [orgId, indexes] of invitations.byOrganization) {
    await enterTenant(tx, orgId);
    await tx.query(
      `DELETE FROM user_invitations
        WHERE org_id = $1 AND accepted_at IS NULL
          AND ((email_index_scope = 'organization' AND email_index = ANY($2::text[]))
            OR (email_index_scope = 'platform' AND email_index = ANY($3::text[])))`,
      [orgId, indexes, invitations.platform],
    );
  }
  // The audit entry written next in the same transaction belongs to no tenant.
  await tx.query("SELECT set_config($1, '', true)", [TENANT_SETTING]);
}

/** Raised when an erasure cannot be scheduled or cancelled in the subject's current state. */
export class SubjectErasureError extends Error {
  override name = 'SubjectErasureError';
}

interface SubjectKeyRow {
  version: number | null;
  destroyed: boolean;
  deletionDate: Date | null;
}

async function subjectKeyRow(db: Queryable, subjectId: string): Promise<SubjectKeyRow | undefined> {
  const result = await db.query<SubjectKeyRow>(
    `SELECT compliance_key_version AS version, destroyed_at IS NOT NULL AS destroyed,
            deletion_date AS "deletionDate"
       FROM personal_data_keys WHERE subject_id = $1`,
    [subjectId],
  );
  const row = result.rows[0];
  if (row === undefined) return undefined;
  return { ...row, deletionDate: row.deletionDate === null ? null : new Date(row.deletionDate) };
}

/** The state of a subject's key and, when an erasure is scheduled or done, its deletion date. */
export interface SubjectKeyStatus {
  state: SubjectKeyState;
  deletionDate: Date | null;
}

/** Returns whether the subject's key is live, scheduled for erasure, erased or never created. */
export async function subjectKeyStatus(db: Queryable, subjectId: string): Promise<SubjectKeyStatus> {
  return statusOf(await subjectKeyRow(db, subjectId));
}

function statusOf(row: SubjectKeyRow | undefined): SubjectKeyStatus {
  if (row === undefined) return { state: 'none', deletionDate: null };
  if (row.destroyed) return { state: 'erased', deletionDate: row.deletionDate };
  return { state: row.deletionDate === null ? 'live' : 'scheduled', deletionDate: row.deletionDate };
}

/** One subject erasure that is scheduled or done, as `keys status` lists it. */
export interface SubjectErasureStatus {
  subjectId: string;
  state: 'scheduled' | 'erased';
  deletionDate: Date;
  destroyedAt: Date | null;
}

/**
 * Lists the subject erasures that were scheduled: pending ones and those done since the
 * deletion date was introduced, ordered by deletion date.
 */
export async function listSubjectErasures(db: Queryable): Promise<SubjectErasureStatus[]> {
  const result = await db.query<{
    subjectId: string;
    deletionDate: Date;
    destroyedAt: Date | null;
  }>(
    `SELECT subject_id AS "subjectId", deletion_date AS "deletionDate",
            destroyed_at AS "destroyedAt"
       FROM personal_data_keys WHERE deletion_date IS NOT NULL
      ORDER BY deletion_date, subject_id`,
  );
  return result.rows.map((row) => ({
    subjectId: row.subjectId,
    state: row.destroyedAt === null ? 'scheduled' : 'erased',
    deletionDate: new Date(row.deletionDate),
    destroyedAt: row.destroyedAt === null ? null : new Date(row.destroyedAt),
  }));
}

/** Outcome of {@link scheduleSubjectErasure} and {@link cancelSubjectErasure}. */
export interface SubjectErasureChange {
  subjectId: string;
  /** Key state before the change. */
  previousState: SubjectKeyState;
  /** Key state after the change. */
  state: SubjectKeyState;
  /** Deletion date of the subject's key after the change; null once cancelled. */
  deletionDate: Date | null;
  /** Key-hierarchy data keys owned by the subject whose versions the change touched. */
  dataKeys: { keyId: string; versions: number[] }[];
  /** Whether anything was changed; false when the erasure was already in the requested state. */
  changed: boolean;
}

/** Settings shared by the erasure steps. */
export interface SubjectErasureOptions {
  /** User or component recorded in the key usage log. */
  actor: string;
  /** Appends the audit entry of the change inside its transaction. */
  audit: (tx: Queryable, change: SubjectErasureChange) => Promise<void>;
}

/**
 * Schedules the erasure of a data subject (crypto-shredding): its personal data key, and every
 * key-hierarchy data key owned by `{ kind: 'subject', subject: subjectId }`, get a deletion date
 * `waitingDays` from `now`. Until that date the keys keep working, so sealed audit fields still
 * open and new entries still seal, and {@link cancelSubjectErasure} undoes the erasure. After it,
 * the server's key maintenance timer destroys the keys ({@link destroyDueSubjectKeys}).
 *
 * A subject without a personal data key gets one, already scheduled, so values sealed for it
 * during the waiting period are erased with it. The hierarchy keys are scheduled first, each
 * with its own key usage record. Then the personal data key row and the `audit` entry are
 * written in one transaction. A subject already scheduled or erased is left unchanged. For a
 * `user:<uuid>` subject the same transaction disables the account, so the user can no longer
 * sign in or use a session during the waiting period.
 *
 * @throws RangeError when `waitingDays` is below 7 days.
 */
export async function scheduleSubjectErasure(
  db: Database,
  hierarchy: KeyHierarchy,
  store: DatabaseKeyStore,
  subjectId: string,
  options: SubjectErasureOptions & { waitingDays: number; now: Date },
): Promise<SubjectErasureChange> {
  const { waitingDays, now } = options;
  if (!Number.isInteger(waitingDays) || waitingDays < MIN_DELETION_WAITING_DAYS) {
    throw new RangeError(
      `invalid erasure waiting period ${waitingDays} days: expected a whole number of at least ` +
        `${MIN_DELETION_WAITING_DAYS}`,
    );
  }
  const before = statusOf(await subjectKeyRow(db, subjectId));
  if (before.state === 'scheduled' || before.state === 'erased') {
    return { subjectId, previousState: before.state, ...before, dataKeys: [], changed: false };
  }

  let deletionDate = new Date(now.getTime() + waitingDays * DAY_MS);
  const dataKeys: SubjectErasureChange['dataKeys'] = [];
  for (const { keyId } of await store.findSubjectDataKeys(subjectId)) {
    const scheduled = await hierarchy.scheduleDeletion(keyId, {
      actor: options.actor,
      waitingDays,
    });
    dataKeys.push({ keyId, versions: scheduled.map((record) => record.version) });
    // The subject's row is due no earlier than its hierarchy keys, so the sweep that erases the
    // subject finds them due as well.
    for (const record of scheduled) {
      if (record.deletionDate !== undefined && record.deletionDate > deletionDate) {
        deletionDate = record.deletionDate;
      }
    }
  }

  // Embedded PostgreSQL runs no other query while the transaction below is open, so the
  // compliance key is loaded before it.
  await hierarchy.loadPurposeKey('compliance', options.actor);
  const change = await db.transaction(async (tx) => {
    const updated = await tx.query(
      `UPDATE personal_data_keys SET deletion_date = $2
        WHERE subject_id = $1 AND destroyed_at IS NULL AND deletion_date IS NULL`,
      [subjectId, deletionDate],
    );
    if (updated.rowCount === 0) {
      const { version, wrapped } = await complianceKeyWrapping(hierarchy).wrap(
        subjectId,
        randomBytes(32),
        tx,
      );
      const inserted = await tx.query(
        `INSERT INTO personal_data_keys
           (subject_id, wrapped_key, compliance_key_version, deletion_date)
         VALUES ($1, $2, $3, $4) ON CONFLICT (subject_id) DO NOTHING`,
        [subjectId, wrapped, version, deletionDate],
      );
      if (inserted.rowCount === 0) {
        throw new SubjectErasureError(
          `the key of subject ${subjectId} changed while its erasure was being scheduled; run ` +
            'the command again',
        );
      }
    }
    await disableErasedUser(tx, subjectId);
    const result: SubjectErasureChange = {
      subjectId,
      previousState: before.state,
      state: 'scheduled',
      deletionDate,
      dataKeys,
      changed: true,
    };
    await options.audit(tx, result);
    return result;
  });
  personalDataSealer.forgetSubject(subjectId);
  return change;
}

/**
 * Cancels a scheduled subject erasure: the personal data key loses its deletion date and every
 * scheduled version of the subject's hierarchy data keys gets its earlier state back. The
 * personal data key row, the `audit` entry and, for a user disabled by the erasure, the account's
 * re-enabling are written in one transaction.
 *
 * @throws SubjectErasureError when the subject is already erased, because its key material is
 * gone.
 */
export async function cancelSubjectErasure(
  db: Database,
  hierarchy: KeyHierarchy,
  store: DatabaseKeyStore,
  subjectId: string,
  options: SubjectErasureOptions,
): Promise<SubjectErasureChange> {
  const before = statusOf(await subjectKeyRow(db, subjectId));
  if (before.state === 'erased') {
    throw new SubjectErasureError(
      `subject ${subjectId} is already erased: its key is destroyed, so the erasure cannot be ` +
        'cancelled',
    );
  }
  const dataKeys: SubjectErasureChange['dataKeys'] = [];
  for (const { keyId } of await store.findSubjectDataKeys(subjectId)) {
    const restored = await hierarchy.cancelDeletion(keyId, { actor: options.actor });
    if (restored.length > 0) {
      dataKeys.push({ keyId, versions: restored.map((record) => record.version) });
    }
  }
  if (before.state !== 'scheduled' && dataKeys.length === 0) {
    return { subjectId, previousState: before.state, ...before, dataKeys, changed: false };
  }
  const change = await db.transaction(async (tx) => {
    await tx.query(
      `UPDATE personal_data_keys SET deletion_date = NULL
        WHERE subject_id = $1 AND destroyed_at IS NULL`,
      [subjectId],
    );
    await enableCancelledUser(tx, subjectId);
    const result: SubjectErasureChange = {
      subjectId,
      previousState: before.state,
      state: before.state === 'none' ? 'none' : 'live',
      deletionDate: null,
      dataKeys,
      changed: true,
    };
    await options.audit(tx, result);
    return result;
  });
  personalDataSealer.forgetSubject(subjectId);
  return change;
}

/** One subject whose key {@link destroyDueSubjectKeys} destroyed. */
export interface DestroyedSubjectKey {
  subjectId: string;
  deletionDate: Date;
}

/**
 * Destroys the personal data key of every subject whose erasure date is at or before `now`
 * (crypto-shredding). For each subject, the destruction, its key usage record (operation
 * `destroy` under the compliance key) and the `audit` entry run in one transaction, so either
 * all are stored or none. Every sealed audit field of the subject then reads as null, while
 * the entries and their hashes stay, so `audit verify` still passes.
 *
 * For a `user:<uuid>` subject the transaction also clears the user's email blind index and
 * keeps the account disabled. It deletes the user's sign-in factors, sessions, memberships,
 * SSO identity links and the unaccepted invitations sent to the user's email, so the email and
 * the SSO identity can sign up again as a new account. A subject whose erasure
 * was cancelled meanwhile is skipped, because the update only applies to a row still due.
 *
 * The subject's hierarchy data keys are not destroyed here, because they carry the same or an
 * earlier deletion date and {@link KeyHierarchy.destroyDueKeys} destroys them.
 */
export async function destroyDueSubjectKeys(
  db: Database,
  hierarchy: KeyHierarchy,
  options: {
    actor: string;
    now: Date;
    audit: (tx: Queryable, destroyed: DestroyedSubjectKey) => Promise<void>;
  },
): Promise<DestroyedSubjectKey[]> {
  const destroyed: DestroyedSubjectKey[] = [];
  let loaded = false;
  for (;;) {
    const due = await db.query<{ subjectId: string; deletionDate: Date; version: number | null }>(
      `SELECT subject_id AS "subjectId", deletion_date AS "deletionDate",
              compliance_key_version AS version
         FROM personal_data_keys
        WHERE deletion_date <= $1 AND destroyed_at IS NULL
        ORDER BY deletion_date, subject_id LIMIT ${SWEEP_BATCH}`,
      [options.now],
    );
    if (due.rows.length === 0) return destroyed;
    if (!loaded) {
      // Loaded before the first transaction, as embedded PostgreSQL runs one query at a time.
      await hierarchy.loadPurposeKey('compliance', options.actor);
      loaded = true;
    }
    let progress = false;
    for (const row of due.rows) {
      const subject = { subjectId: row.subjectId, deletionDate: new Date(row.deletionDate) };
      const invitations = await prepareInvitationIndexes(db, row.subjectId);
      const done = await db.transaction(async (tx) => {
        const changed = await personalDataSealer.destroySubjectKey(tx, row.subjectId, {
          dueBy: options.now,
        });
        if (!changed) return false;
        await clearErasedUser(tx, row.subjectId, options.now, invitations);
        await hierarchy.recordWrappedKeyDestroyed(
          'compliance',
          row.version ?? undefined,
          { use: 'personal_data_key', subject: row.subjectId },
          options.actor,
          new DatabaseKeyUsageSink(tx),
        );
        await options.audit(tx, subject);
        return true;
      });
      if (done) {
        destroyed.push(subject);
        progress = true;
      }
    }
    // Rows skipped because another process handled them would be selected again forever.
    if (!progress) return destroyed;
  }
}
