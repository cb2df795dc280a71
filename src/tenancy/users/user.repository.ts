import { randomUUID } from 'node:crypto';

import { DecryptionError } from '../../data/crypto/errors.js';
import type { Queryable } from '../../data/database/database.js';
import {
  normalizeEmail,
  USER_FIELD_COLUMNS,
  type UserField,
} from '../../data/personal-data/user-field-protection.js';
import {
  currentUserFieldProtection,
  requireUserFieldProtection,
} from '../../data/personal-data/user-field-registry.js';
import { AppError } from '../../http/errors.js';
import type { OrgRole } from './user.schema.js';

export interface User {
  id: string;
  email: string;
  name: string;
  /** Phone number in the form the user gave it, or null. */
  phone: string | null;
  status: 'active' | 'disabled';
  mustChangePassword: boolean;
  createdAt: Date;
}

/** A user row including the password hash; never leaves the authentication code. */
export interface UserCredentials extends User {
  passwordHash: string | null;
}

/**
 * Personal columns of a `users` row as stored. `email` and `name` hold plaintext only in rows
 * written by a process without the key hierarchy and not yet encrypted at server start.
 */
export interface StoredUserFields {
  id: string;
  email: string | null;
  name: string | null;
  emailEncrypted: string | null;
  nameEncrypted: string | null;
  phoneEncrypted: string | null;
}

/** Returns the SQL select list of the personal columns of `users` aliased as `alias`. */
export function storedUserFieldColumns(alias: string): string {
  return `${alias}.id, ${alias}.email, ${alias}.name, ${alias}.email_encrypted AS "emailEncrypted",
    ${alias}.name_encrypted AS "nameEncrypted", ${alias}.phone_encrypted AS "phoneEncrypted"`;
}

const COLUMNS = `${storedUserFieldColumns('u')}, u.status,
  u.must_change_password AS "mustChangePassword", u.created_at AS "createdAt"`;

type UserRow = StoredUserFields & Omit<User, 'email' | 'name' | 'phone'>;

/**
 * Error for a stored user whose encrypted fields do not decrypt, because a value was altered or
 * moved from another row, or the user's data key was destroyed by an erasure. It maps to 401
 * where nothing catches it, so a request about such a user fails closed. Sign-in catches it and fails as for a
 * wrong password.
 */
export class UnreadableUserError extends AppError {
  constructor(readonly userId: string) {
    super('unauthorized');
    this.name = 'UnreadableUserError';
  }
}

/** Personal fields of a stored row, each null when its value does not decrypt. */
export interface ReadableUserFields {
  email: string | null;
  name: string | null;
  phone: string | null;
}

/**
 * Decrypts the personal fields of a stored row, and returns null for each field whose value
 * does not decrypt. Each such field is logged by row id and column, without its value.
 *
 * @throws Error when the row is encrypted and this process has no key hierarchy.
 */
export async function decryptReadableUserFields(
  row: StoredUserFields,
): Promise<ReadableUserFields> {
  const read = async (field: UserField, ciphertext: string | null, plaintext: string | null) => {
    if (ciphertext === null) return plaintext;
    const protection = requireUserFieldProtection();
    try {
      return await protection.decrypt(row.id, field, ciphertext);
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      protection.reportUnreadable({
        table: 'users',
        column: USER_FIELD_COLUMNS[field],
        rowId: row.id,
      });
      return null;
    }
  };
  return {
    email: await read('email', row.emailEncrypted, row.email),
    name: await read('name', row.nameEncrypted, row.name),
    phone: await read('phone', row.phoneEncrypted, null),
  };
}

/**
 * Decrypts the personal fields of a stored row.
 *
 * @throws Error when the row is encrypted and this process has no key hierarchy.
 * @throws UnreadableUserError when a stored value does not decrypt for this row.
 */
export async function decryptUserFields(
  row: StoredUserFields,
): Promise<Pick<User, 'email' | 'name' | 'phone'>> {
  const { email, name, phone } = await decryptReadableUserFields(row);
  // A null email or name is either a failed decryption or a row without both columns, which the
  // users_email_present and users_name_present constraints rule out.
  if (email === null || name === null || (phone === null && row.phoneEncrypted !== null)) {
    throw new UnreadableUserError(row.id);
  }
  return { email, name, phone };
}

async function toUser<R extends UserRow>(row: R): Promise<Omit<R, keyof StoredUserFields> & User> {
  const {
    email: _email,
    name: _name,
    emailEncrypted,
    nameEncrypted,
    phoneEncrypted,
    ...rest
  } = row;
  const fields = await decryptUserFields({
    id: row.id,
    email: _email,
    name: _name,
    emailEncrypted,
    nameEncrypted,
    phoneEncrypted,
  });
  return { ...rest, ...fields } as Omit<R, keyof StoredUserFields> & User;
}

/** Personal fields of a new user. */
export interface NewUser {
  email: string;
  name: string;
  phone?: string | null;
}

/**
 * A new user with its id and its column values, encrypted before the transaction that inserts
 * it, because encryption can query the key store.
 */
export interface PreparedUser {
  id: string;
  email: string;
  name: string;
  phone: string | null;
  columns: {
    email: string | null;
    name: string | null;
    emailEncrypted: string | null;
    emailIndex: string | null;
    nameEncrypted: string | null;
    phoneEncrypted: string | null;
  };
}

/**
 * Chooses the id of a new user and encrypts its fields under the user's own data key, which
 * this creates, and computes the email index under the platform data key. Without a
 * key hierarchy in this process (the first-run bootstrap command), email and name stay in the
 * plaintext columns until the next server start encrypts them.
 *
 * @throws Error when a phone number is given and this process has no key hierarchy.
 */
export async function prepareUser(user: NewUser): Promise<PreparedUser> {
  const id = randomUUID();
  const phone = user.phone ?? null;
  const protection = currentUserFieldProtection();
  if (protection === null) {
    if (phone !== null) requireUserFieldProtection();
    const columns = {
      email: user.email,
      name: user.name,
      emailEncrypted: null,
      emailIndex: null,
      nameEncrypted: null,
      phoneEncrypted: null,
    };
    return { id, email: user.email, name: user.name, phone, columns };
  }
  const columns = {
    email: null,
    name: null,
    emailEncrypted: await protection.encrypt(id, 'email', user.email),
    emailIndex: await protection.emailIndexForWrite(user.email),
    nameEncrypted: await protection.encrypt(id, 'name', user.name),
    phoneEncrypted: phone === null ? null : await protection.encrypt(id, 'phone', phone),
  };
  return { id, email: user.email, name: user.name, phone, columns };
}

/** Password settings of a new user. */
export interface NewUserCredentials {
  passwordHash: string | null;
  mustChangePassword: boolean;
}

/**
 * Encrypts and inserts a user. Inside a transaction on embedded PostgreSQL, use
 * {@link prepareUser} before the transaction and {@link insertPreparedUser} inside it instead.
 */
export async function insertUser(db: Queryable, user: NewUser & NewUserCredentials): Promise<User> {
  return insertPreparedUser(db, await prepareUser(user), user);
}

/** Inserts a user prepared by {@link prepareUser}. */
export async function insertPreparedUser(
  db: Queryable,
  user: PreparedUser,
  credentials: NewUserCredentials,
): Promise<User> {
  const { columns } = user;
  const result = await db.query<Pick<User, 'status' | 'createdAt'>>(
    `INSERT INTO users (id, email, name, email_encrypted, email_index, name_encrypted,
                        phone_encrypted, password_hash, must_change_password)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     RETURNING status, created_at AS "createdAt"`,
    [
      user.id,
      columns.email,
      columns.name,
      columns.emailEncrypted,
      columns.emailIndex,
      columns.nameEncrypted,
      columns.phoneEncrypted,
      credentials.passwordHash,
      credentials.mustChangePassword,
    ],
  );
  const row = result.rows[0] as Pick<User, 'status' | 'createdAt'>;
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    phone: user.phone,
    status: row.status,
    mustChangePassword: credentials.mustChangePassword,
    createdAt: row.createdAt,
  };
}

/** An email with its blind indexes, computed before a transaction that looks the user up. */
export interface EmailLookup {
  email: string;
  indexes: string[];
}

/**
 * Computes the blind indexes of `email`, one per platform key version that can still decrypt,
 * and loads those versions into the key cache. With no key hierarchy in this process only
 * plaintext rows can match, and the list is empty.
 */
export async function prepareEmailLookup(email: string): Promise<EmailLookup> {
  const protection = currentUserFieldProtection();
  return {
    email,
    indexes: protection === null ? [] : await protection.emailIndexesForLookup(email),
  };
}

/**
 * Loads the keys of every user row whose email index matches `lookup` into the key cache, so
 * that {@link findUserCredentialsByEmail} with the same lookup inside a transaction that follows
 * reads nothing from the key store. Each user's fields are under that user's own key, which the
 * platform key loaded by {@link prepareEmailLookup} does not cover.
 */
export async function loadKeysForEmailLookup(db: Queryable, lookup: EmailLookup): Promise<void> {
  const protection = currentUserFieldProtection();
  if (protection === null || lookup.indexes.length === 0) return;
  const result = await db.query<StoredUserFields>(
    `SELECT ${storedUserFieldColumns('u')} FROM users u WHERE u.email_index = ANY($1::text[])`,
    [lookup.indexes],
  );
  await protection.loadKeysOf(result.rows.flatMap(storedCiphertexts));
}

/**
 * Loads the keys of the given users' fields into the key cache, so that reading those users
 * inside a transaction that follows reads nothing from the key store.
 */
export async function loadKeysOfUsers(db: Queryable, userIds: string[]): Promise<void> {
  const protection = currentUserFieldProtection();
  if (protection === null || userIds.length === 0) return;
  const result = await db.query<StoredUserFields>(
    `SELECT ${storedUserFieldColumns('u')} FROM users u WHERE u.id = ANY($1::uuid[])`,
    [userIds],
  );
  await protection.loadKeysOf(result.rows.flatMap(storedCiphertexts));
}

/** Returns the ciphertexts of a stored row, for loading their keys. */
export function storedCiphertexts(row: StoredUserFields): (string | null)[] {
  return [row.emailEncrypted, row.nameEncrypted, row.phoneEncrypted];
}

/**
 * Finds a user by email through the blind index. Rows whose index matches are decrypted and
 * their email compared, so a truncated-HMAC collision never returns another user. Inside a
 * transaction, pass a lookup made by {@link prepareEmailLookup} before the transaction began,
 * and load its users' keys with {@link loadKeysForEmailLookup}.
 *
 * @throws UnreadableUserError when no readable row matches but a row whose index matches does
 * not decrypt, so the email may belong to that user. Creating another user with the same email
 * would then fail on the unique index.
 */
export async function findUserCredentialsByEmail(
  db: Queryable,
  email: string | EmailLookup,
): Promise<UserCredentials | null> {
  const lookup = typeof email === 'string' ? await prepareEmailLookup(email) : email;
  const normalized = normalizeEmail(lookup.email);
  // Plaintext rows (written without the key hierarchy, not yet encrypted) are matched too.
  const result = await db.query<UserRow & { passwordHash: string | null }>(
    `SELECT ${COLUMNS}, u.password_hash AS "passwordHash" FROM users u
      WHERE u.email_index = ANY($1::text[]) OR u.email = $2`,
    [lookup.indexes, normalized],
  );
  let unreadable: UnreadableUserError | undefined;
  for (const row of result.rows) {
    try {
      const user = await toUser(row);
      if (normalizeEmail(user.email) === normalized) return user;
    } catch (error) {
      if (!(error instanceof UnreadableUserError)) throw error;
      unreadable ??= error;
    }
  }
  if (unreadable !== undefined) throw unreadable;
  return null;
}

/**
 * Returns the ids of every user whose email equals `email` after normalization. A user whose
 * index matches but whose fields do not decrypt is left out and logged.
 */
export async function findUserIdsByEmail(db: Queryable, email: string): Promise<string[]> {
  const lookup = await prepareEmailLookup(email);
  const normalized = normalizeEmail(email);
  const result = await db.query<UserRow>(
    `SELECT ${COLUMNS} FROM users u WHERE u.email_index = ANY($1::text[]) OR u.email = $2`,
    [lookup.indexes, normalized],
  );
  const ids: string[] = [];
  for (const row of result.rows) {
    const fields = await decryptReadableUserFields(row);
    if (fields.email !== null && normalizeEmail(fields.email) === normalized) ids.push(row.id);
  }
  return ids;
}

export async function findUserCredentialsById(
  db: Queryable,
  id: string,
): Promise<UserCredentials | null> {
  const result = await db.query<UserRow & { passwordHash: string | null }>(
    `SELECT ${COLUMNS}, u.password_hash AS "passwordHash" FROM users u WHERE u.id = $1`,
    [id],
  );
  const row = result.rows[0];
  return row === undefined ? null : toUser(row);
}

/**
 * Loads the platform data key into the key cache, so that reading invitations and users still
 * under that key inside the transaction that follows reads nothing from the key store.
 * Embedded PostgreSQL runs no other query while a transaction is open, so a key store read
 * inside one would wait forever. Users' own keys are loaded by {@link loadKeysOfUsers} and
 * {@link loadKeysForEmailLookup}.
 */
export async function loadUserFieldKeys(): Promise<void> {
  await currentUserFieldProtection()?.loadKeys();
}

export async function updatePasswordHash(
  db: Queryable,
  userId: string,
  passwordHash: string,
): Promise<void> {
  await db.query(
    `UPDATE users SET password_hash = $2, must_change_password = false, updated_at = now()
     WHERE id = $1`,
    [userId, passwordHash],
  );
}

export async function insertMembership(
  db: Queryable,
  membership: { orgId: string; userId: string; role: OrgRole },
): Promise<void> {
  await db.query('INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)', [
    membership.orgId,
    membership.userId,
    membership.role,
  ]);
}

/** The user's role in an organization, or null when the user is not a member. */
export async function findMembershipRole(
  db: Queryable,
  orgId: string,
  userId: string,
): Promise<OrgRole | null> {
  const result = await db.query<{ role: OrgRole }>(
    'SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2',
    [orgId, userId],
  );
  return result.rows[0]?.role ?? null;
}

/**
 * Whether any owner or admin exists yet; the first-run bootstrap refuses to run if so. It looks
 * across organizations, through the SECURITY DEFINER function `tenancy_admin_exists`.
 */
export async function adminExists(db: Queryable): Promise<boolean> {
  const result = await db.query<{ exists: boolean }>('SELECT tenancy_admin_exists() AS exists');
  return result.rows[0]?.exists === true;
}
