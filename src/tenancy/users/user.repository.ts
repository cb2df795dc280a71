import { randomUUID } from 'node:crypto';

import type { Queryable } from '../../data/database/database.js';
import { normalizeEmail, type UserField } from '../../data/personal-data/user-field-protection.js';
import {
  currentUserFieldProtection,
  requireUserFieldProtection,
} from '../../data/personal-data/user-field-registry.js';
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
 * Decrypts the personal fields of a stored row.
 *
 * @throws Error when the row is encrypted and this process has no key hierarchy.
 * @throws DecryptionError when a ciphertext does not belong to this row.
 */
export async function decryptUserFields(
  row: StoredUserFields,
): Promise<Pick<User, 'email' | 'name' | 'phone'>> {
  const read = async (field: UserField, ciphertext: string | null, plaintext: string | null) =>
    ciphertext === null
      ? plaintext
      : requireUserFieldProtection().decrypt(row.id, field, ciphertext);
  const email = await read('email', row.emailEncrypted, row.email);
  const name = await read('name', row.nameEncrypted, row.name);
  if (email === null || name === null) {
    // The users_email_present and users_name_present constraints rule this out.
    throw new Error(`user ${row.id} has neither a plaintext nor an encrypted email and name`);
  }
  return { email, name, phone: await read('phone', row.phoneEncrypted, null) };
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
 * Chooses the id of a new user and encrypts its fields under the platform data key. Without a
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
 * Finds a user by email through the blind index. Rows whose index matches are decrypted and
 * their email compared, so a truncated-HMAC collision never returns another user. Inside a
 * transaction, pass a lookup made by {@link prepareEmailLookup} before the transaction began.
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
  for (const row of result.rows) {
    const user = await toUser(row);
    if (normalizeEmail(user.email) === normalized) return user;
  }
  return null;
}

/** Returns the ids of every user whose email equals `email` after normalization. */
export async function findUserIdsByEmail(db: Queryable, email: string): Promise<string[]> {
  const lookup = await prepareEmailLookup(email);
  const normalized = normalizeEmail(email);
  const result = await db.query<UserRow>(
    `SELECT ${COLUMNS} FROM users u WHERE u.email_index = ANY($1::text[]) OR u.email = $2`,
    [lookup.indexes, normalized],
  );
  const ids: string[] = [];
  for (const row of result.rows) {
    if (normalizeEmail((await toUser(row)).email) === normalized) ids.push(row.id);
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
 * Loads the platform data key into the key cache, so that reading users inside the transaction
 * that follows reads nothing from the key store. Embedded PostgreSQL runs no other query while
 * a transaction is open, so a key store read inside one would wait forever.
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
