import type { Database, Queryable } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord, type AuditRecord } from '../../monitoring/audit/audit-entry.js';
import { listOrganizationsOfUser } from '../../tenancy/organizations/organization.repository.js';
import {
  findMembershipRole,
  findUserCredentialsByEmail,
  findUserCredentialsById,
  insertMembership,
  loadKeysForEmailLookup,
  loadKeysOfUsers,
  prepareEmailLookup,
  prepareUser,
  UnreadableUserError,
  type EmailLookup,
  type PreparedUser,
  type User,
} from '../../tenancy/users/user.repository.js';
import type { OrgRole } from '../../tenancy/users/user.schema.js';
import { userActor } from '../auth/session.service.js';
import type { SsoClaims } from './sso-claims.js';
import type { SsoConfigRow } from './sso-config.repository.js';
import {
  findLinkedUserId,
  insertSsoUser,
  linkIdentity,
  updateMembershipRole,
} from './sso-identity.repository.js';
import { roleWithin } from './sso-role-mapping.js';

/** A rejected SSO sign-in: `reason` goes to the audit log, `message` to the browser. */
export class SsoLoginError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: string },
  ) {
    super(message, options);
    this.name = 'SsoLoginError';
  }
}

/** The signed-in user and the audit records of the provisioning changes. */
export interface ProvisionedUser {
  user: User;
  records: AuditRecord[];
}

function nameFor(claims: SsoClaims & { email: string }): string {
  return (claims.name ?? claims.email.split('@')[0] ?? claims.email).trim().slice(0, 100) || 'SSO';
}

/**
 * The email lookup and the encrypted fields of a user that sign-in may create, computed before
 * the tenant transaction, because encryption may read the key store and embedded PostgreSQL
 * runs no other query while a transaction is open.
 */
export interface PreparedSsoUser {
  lookup: EmailLookup;
  /**
   * Fields of the user to create, or null when an account is linked to the provider's subject
   * or has the email.
   */
  newUser: PreparedUser | null;
}

/**
 * Prepares the user lookup and creation of a validated sign-in; see {@link PreparedSsoUser}.
 * The keys of the account linked to the identity provider's subject and of the accounts with
 * the email are loaded, so reading either inside the transaction reads nothing from the key
 * store. Encrypting a new user's fields creates that user's own data key, so they are prepared
 * only when no account is linked or has the email. Otherwise every sign-in would leave an
 * unused key behind.
 */
export async function prepareSsoUser(
  db: Database,
  config: SsoConfigRow,
  claims: SsoClaims & { email: string },
): Promise<PreparedSsoUser> {
  const link = { orgId: config.orgId, issuer: config.issuer, subject: claims.subject };
  const linkedId = await inTenant(db, config.orgId, (tx) => findLinkedUserId(tx, link));
  if (linkedId !== null) await loadKeysOfUsers(db, [linkedId]);
  const lookup = await prepareEmailLookup(claims.email);
  await loadKeysForEmailLookup(db, lookup);
  if (linkedId !== null) return { lookup, newUser: null };
  let exists: boolean;
  try {
    exists = (await findUserCredentialsByEmail(db, lookup)) !== null;
  } catch (error) {
    if (!(error instanceof UnreadableUserError)) throw error;
    exists = true;
  }
  const newUser = exists ? null : await prepareUser({ email: claims.email, name: nameFor(claims) });
  return { lookup, newUser };
}

async function existingUser(
  tx: Queryable,
  config: SsoConfigRow,
  claims: SsoClaims & { email: string },
  lookup: EmailLookup,
): Promise<User | null> {
  const link = { orgId: config.orgId, issuer: config.issuer, subject: claims.subject };
  const linkedId = await findLinkedUserId(tx, link);
  const found = linkedId
    ? await findUserCredentialsById(tx, linkedId)
    : await findUserCredentialsByEmail(tx, lookup);
  if (!found) return null;
  if (found.status !== 'active') {
    throw new SsoLoginError('user_disabled', 'This account is disabled');
  }
  const { passwordHash: _omitted, ...user } = found;
  return user;
}

/**
 * Signs in only accounts that belong to this organization alone. A session is not limited to
 * one organization, so a provider that one organization's admins control must not sign in a
 * person who also works in another organization.
 */
async function assertOnlyThisOrganization(tx: Queryable, orgId: string, userId: string) {
  const organizations = await listOrganizationsOfUser(tx, userId);
  if (organizations.some((organization) => organization.id !== orgId)) {
    throw new SsoLoginError(
      'member_of_other_organizations',
      'This account belongs to other organizations too; sign in with its password',
    );
  }
}

/**
 * Finds or creates the user of a validated sign-in and gives them `role` in the organization,
 * inside the caller's tenant transaction. An existing member whose role is above the
 * configuration's ceiling is rejected, so an admin's provider cannot sign in as an owner.
 */
export async function provisionUser(
  tx: Queryable,
  config: SsoConfigRow,
  claims: SsoClaims & { email: string },
  role: OrgRole,
  context: RequestContext,
  prepared: PreparedSsoUser,
): Promise<ProvisionedUser> {
  const orgId = config.orgId;
  let user = await existingUser(tx, config, claims, prepared.lookup);
  const records: AuditRecord[] = [];
  let userCreated = false;

  if (!user) {
    if (!config.jitProvisioning) {
      throw new SsoLoginError('not_provisioned', 'No MindWeave account exists for this person');
    }
    if (prepared.newUser === null) {
      // The account found before the transaction was deleted meanwhile.
      throw new SsoLoginError(
        'account_changed',
        'The account changed during sign-in; sign in again',
      );
    }
    const id = await insertSsoUser(tx, prepared.newUser);
    const created = await findUserCredentialsById(tx, id);
    if (!created) throw new Error('the user inserted in this transaction was not found');
    const { passwordHash: _omitted, ...createdUser } = created;
    user = createdUser;
    userCreated = true;
  } else {
    await assertOnlyThisOrganization(tx, orgId, user.id);
  }

  const currentRole = await findMembershipRole(tx, orgId, user.id);
  if (currentRole && !roleWithin(currentRole, config.maxRole)) {
    throw new SsoLoginError(
      'role_above_sso_ceiling',
      'This account has a role that single sign-on may not grant; sign in with its password',
    );
  }
  if (
    !(await linkIdentity(tx, {
      orgId,
      issuer: config.issuer,
      subject: claims.subject,
      userId: user.id,
    }))
  ) {
    throw new SsoLoginError(
      'identity_conflict',
      'This account is linked to another identity of this provider',
    );
  }

  const actor = userActor(user, null);
  if (!currentRole) {
    if (!config.jitProvisioning) {
      throw new SsoLoginError(
        'not_provisioned',
        'This account is not a member of the organization',
      );
    }
    await insertMembership(tx, { orgId, userId: user.id, role });
    records.push(
      buildAuditRecord(actor, context, {
        action: 'user.provisioned',
        orgId,
        resourceType: 'user',
        resourceId: user.id,
        newValues: { role },
        metadata: { method: 'sso', createdUser: userCreated, issuer: config.issuer },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    );
  } else if (currentRole !== role) {
    await updateMembershipRole(tx, { orgId, userId: user.id, role });
    records.push(
      buildAuditRecord(actor, context, {
        action: 'membership.role_synced',
        orgId,
        resourceType: 'user',
        resourceId: user.id,
        oldValues: { role: currentRole },
        newValues: { role },
        metadata: { method: 'sso', issuer: config.issuer },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    );
  }
  return { user, records };
}
