import { KeyStateError } from '../../data/crypto/errors.js';
import type { Queryable } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { loginFailedEvent } from '../../monitoring/security-events/identity-events.js';
import { findOrganization } from '../../tenancy/organizations/organization.repository.js';
import { hashPassword, verifyPassword } from '../../tenancy/users/password.js';
import {
  findMembershipRole,
  findUserCredentialsByEmail,
  insertMembership,
  insertPreparedUser,
  loadKeysForEmailLookup,
  loadUserFieldKeys,
  prepareEmailLookup,
  prepareUser,
  UnreadableUserError,
  type EmailLookup,
} from '../../tenancy/users/user.repository.js';
import type { OrgRole } from '../../tenancy/users/user.schema.js';
import { canGrant } from '../authorization/grant-rules.js';
import { ROLE_PERMISSIONS } from '../authorization/permissions.js';
import type { MailOutbox } from '../mail/mail-outbox.js';
import { tokenInstructions } from '../mail/mail-links.js';
import { newPasswordSchema } from './auth.schema.js';
import type { IdentityServices } from './identity.js';
import {
  findInvitationOrg,
  insertInvitation,
  listOpenInvitations,
  prepareInvitationEmail,
  prepareInvitationLookup,
  lockOpenInvitation,
  markInvitationAccepted,
  revokeInvitation,
  revokeOpenInvitationOf,
  type Invitation,
} from './invitation.repository.js';
import {
  assertNotLocked,
  LoginLockedError,
  recordLoginFailure,
  throttleKeys,
  withAccountClaim,
} from './login.service.js';
import { generateInvitationToken, hashInvitationToken } from './mailed-token.js';
import { userActor, type SessionPrincipal } from './session.service.js';

/** The public form of an invitation. */
export function invitationView(invitation: Invitation) {
  return {
    id: invitation.id,
    email: invitation.email,
    role: invitation.role,
    invitedBy: invitation.invitedBy,
    createdAt: invitation.createdAt.toISOString(),
    expiresAt: invitation.expiresAt.toISOString(),
  };
}

/**
 * Invites `email` into the organization with `role` and mails the single-use token. The
 * inviter may give only a role whose permissions they hold themselves, so an admin cannot
 * invite an owner. Inviting an email again replaces its open invitation.
 */
export async function createInvitation(
  identity: IdentityServices,
  outbox: MailOutbox,
  context: RequestContext,
  principal: SessionPrincipal,
  orgId: string,
  input: { email: string; role: OrgRole },
): Promise<Invitation> {
  const { db } = identity;
  const generated = generateInvitationToken();
  const expiresAt = new Date(identity.clock() + identity.invitationTtlMs);
  const lookup = await prepareEmailLookup(input.email);
  await loadKeysForEmailLookup(db, lookup);
  const invitationLookup = await prepareInvitationLookup(orgId, input.email);
  const invitationEmail = await prepareInvitationEmail(orgId, input.email).catch(
    (error: unknown) => {
      if (!(error instanceof KeyStateError)) throw error;
      // The invitation email index is computed under the organization's data key.
      throw new AppError(
        'conflict',
        "This organization's data key is scheduled for deletion, so nobody can be invited; " +
          'ask the operator to cancel the deletion first',
      );
    },
  );
  const { invitation, organization } = await inTenant(db, orgId, async (tx) => {
    const organization = await findOrganization(tx, orgId);
    if (!organization) throw new AppError('not_found');
    const inviterRole = await findMembershipRole(tx, orgId, principal.user.id);
    const held = new Set(inviterRole ? ROLE_PERMISSIONS[inviterRole] : []);
    // Only owners hold organization.transfer, which the owner role carries, so only an owner
    // can invite an owner.
    if (!canGrant(held, ROLE_PERMISSIONS[input.role])) {
      throw new AppError('forbidden', `Your role cannot grant the role ${input.role}`);
    }
    if (await isMemberByEmail(tx, orgId, lookup)) {
      throw new AppError('conflict', 'This email already belongs to a member of the organization');
    }
    const replaced = await revokeOpenInvitationOf(tx, orgId, invitationLookup);
    const created = await insertInvitation(tx, {
      orgId,
      email: invitationEmail,
      role: input.role,
      tokenHash: generated.hash,
      invitedBy: principal.user.id,
      expiresAt,
    });
    await appendAuditRecords(tx, [
      buildAuditRecord(userActor(principal.user, principal.session.id), context, {
        action: 'user.invited',
        orgId,
        resourceType: 'invitation',
        resourceId: created.id,
        newValues: { role: created.role, expiresAt: created.expiresAt.toISOString() },
        metadata: replaced ? { replacedInvitationId: replaced } : null,
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
    return { invitation: created, organization };
  });

  outbox.enqueue(
    {
      to: invitationEmail.email,
      subject: `You are invited to ${organization.name} on MindWeave`,
      text: [
        `${principal.user.name} invited you to the organization ${organization.name} on`,
        `MindWeave as ${invitation.role}. To accept, choose your name and password before`,
        `${invitation.expiresAt.toISOString()}:`,
        '',
        tokenInstructions(
          identity.mail.linkBaseUrl,
          'accept-invitation',
          generated.token,
          'POST /api/v1/auth/invitations/accept { "token", "name", "password" }',
        ),
        '',
        'The token works once. If you did not expect this invitation, ignore this mail.',
      ].join('\n'),
      purpose: 'invitation',
      referenceId: invitation.id,
    },
    context.requestId,
  );
  return invitation;
}

async function isMemberByEmail(
  tx: Queryable,
  orgId: string,
  lookup: EmailLookup,
): Promise<boolean> {
  let user: { id: string } | null;
  try {
    user = await findUserCredentialsByEmail(tx, lookup);
  } catch (error) {
    // An account whose stored email no longer decrypts cannot be confirmed as this email's.
    // Accepting the invitation fails while that account row exists.
    if (!(error instanceof UnreadableUserError)) throw error;
    return false;
  }
  return user !== null && (await findMembershipRole(tx, orgId, user.id)) !== null;
}

export async function listInvitations(
  identity: IdentityServices,
  orgId: string,
): Promise<Invitation[]> {
  await loadUserFieldKeys();
  return inTenant(identity.db, orgId, (tx) => listOpenInvitations(tx, orgId));
}

/** Revokes an open invitation, so its token stops working. */
export async function cancelInvitation(
  identity: IdentityServices,
  context: RequestContext,
  principal: SessionPrincipal,
  orgId: string,
  invitationId: string,
): Promise<Invitation> {
  await loadUserFieldKeys();
  return inTenant(identity.db, orgId, async (tx) => {
    const revoked = await revokeInvitation(tx, orgId, invitationId);
    if (!revoked) throw new AppError('not_found', 'No open invitation with this id');
    await appendAuditRecords(tx, [
      buildAuditRecord(userActor(principal.user, principal.session.id), context, {
        action: 'user.invitation_revoked',
        orgId,
        resourceType: 'invitation',
        resourceId: revoked.id,
        oldValues: { role: revoked.role },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
    return revoked;
  });
}

function invalidToken(): AppError {
  return new AppError('validation_failed', 'Validation error', [
    { field: 'token', message: 'Invitation token is invalid, expired or already used' },
  ]);
}

/** The result of an accepted invitation. */
export interface AcceptedInvitation {
  userId: string;
  orgId: string;
  role: OrgRole;
  /** False when the email already had an account, which then joined the organization. */
  newAccount: boolean;
}

/**
 * Accepts an invitation. For an email without an account, this creates the user with the
 * given name and password (the password policy and the breached list apply). For an email
 * that already has an account, the password must be that account's password and the name is
 * ignored; the account joins the organization. The token works once.
 */
export async function acceptInvitation(
  identity: IdentityServices,
  context: RequestContext,
  input: {
    token: string;
    name?: string | undefined;
    phone?: string | undefined;
    password: string;
  },
): Promise<AcceptedInvitation> {
  const { db } = identity;
  const hash = hashInvitationToken(input.token);
  const orgId = hash ? await findInvitationOrg(db, hash) : null;
  if (!hash || !orgId) throw invalidToken();

  // The email lookup and the new user's encrypted fields are computed before the transaction,
  // because encryption may read the key store, which embedded PostgreSQL cannot do while a
  // transaction is open. The invitation's email never changes, so the locked row has the same.
  await loadUserFieldKeys();
  const locked = await inTenant(db, orgId, (tx) => lockOpenInvitation(tx, orgId, hash));
  // An invitation whose stored email does not decrypt was altered, and is treated as invalid.
  if (!locked || locked.email === null) throw invalidToken();
  const peeked = { ...locked, email: locked.email };
  const lookup = await prepareEmailLookup(peeked.email);
  await loadKeysForEmailLookup(db, lookup);
  // Encrypting a new user's fields creates the user's own data key, so they are prepared only
  // when no account has the email yet. Otherwise the key would stay unused.
  const prepared =
    input.name === undefined || (await accountExists(db, lookup))
      ? null
      : await prepareUser({ email: peeked.email, name: input.name, phone: input.phone ?? null });

  // The password of an existing account is checked like a sign-in: under the account's attempt
  // claim and lockout, and a wrong one is counted, so a token cannot be used to guess it.
  const keys = throttleKeys(peeked.email, context);
  const failed = (reason: string, user: { id: string; email: string } | null) =>
    appendAuditRecords(db, [
      buildAuditRecord(user ? userActor(user, null) : { type: 'system', id: null }, context, {
        action: 'user.login_failed',
        orgId,
        resourceType: 'user',
        resourceId: user?.id ?? null,
        metadata: { reason, check: 'invitation' },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
  return withAccountClaim(
    identity,
    keys.account,
    () => failed('concurrent_attempt', null),
    async () => {
      try {
        await assertNotLocked(identity, keys);
      } catch (error) {
        if (error instanceof LoginLockedError) await failed('locked_out', null);
        throw error;
      }
      try {
        return await completeAcceptance(
          identity,
          context,
          input,
          orgId,
          hash,
          peeked,
          lookup,
          prepared,
        );
      } catch (error) {
        if (!(error instanceof WrongAccountPasswordError)) throw error;
        const user = error.user;
        const reason = 'wrong_password';
        identity.securityEvents?.record(loginFailedEvent(context, user.id, reason));
        const lockouts = await recordLoginFailure(identity, keys, context, user, reason);
        await failed(reason, user);
        await appendAuditRecords(db, lockouts);
        throw new AppError('validation_failed', 'Validation error', [
          {
            field: 'password',
            message: 'This email already has an account: enter that account’s password',
          },
        ]);
      }
    },
  );
}

/** Reports whether an account has the email, counting one whose fields do not decrypt. */
async function accountExists(db: Queryable, lookup: EmailLookup): Promise<boolean> {
  try {
    return (await findUserCredentialsByEmail(db, lookup)) !== null;
  } catch (error) {
    if (error instanceof UnreadableUserError) return true;
    throw error;
  }
}

/** The existing account's password was wrong; the transaction rolls back before it is counted. */
class WrongAccountPasswordError extends Error {
  constructor(readonly user: { id: string; email: string }) {
    super('wrong password of the invited account');
  }
}

async function completeAcceptance(
  identity: IdentityServices,
  context: RequestContext,
  input: { name?: string | undefined; password: string },
  orgId: string,
  hash: Buffer,
  peeked: { email: string },
  lookup: Awaited<ReturnType<typeof prepareEmailLookup>>,
  prepared: Awaited<ReturnType<typeof prepareUser>> | null,
): Promise<AcceptedInvitation> {
  const { db } = identity;
  return inTenant(db, orgId, async (tx) => {
    const invitation = await lockOpenInvitation(tx, orgId, hash);
    if (!invitation || invitation.email !== peeked.email) throw invalidToken();
    let existing: Awaited<ReturnType<typeof findUserCredentialsByEmail>>;
    try {
      existing = await findUserCredentialsByEmail(tx, lookup);
    } catch (error) {
      // The email's account does not decrypt (altered or erased), so the invitation cannot be
      // accepted: joining it is impossible and a second account would break the unique index.
      if (error instanceof UnreadableUserError) throw invalidToken();
      throw error;
    }

    let user: { id: string; email: string };
    if (existing) {
      if (existing.status !== 'active') throw invalidToken();
      if (!(await verifyPassword(existing.passwordHash, input.password))) {
        throw new WrongAccountPasswordError({ id: existing.id, email: existing.email });
      }
      if (await findMembershipRole(tx, orgId, existing.id)) {
        throw new AppError('conflict', 'This account is already a member of the organization');
      }
      user = existing;
    } else {
      requireName(input.name);
      // The account seen before the transaction was deleted meanwhile, so nothing is prepared.
      if (prepared === null) throw invalidToken();
      user = await insertPreparedUser(tx, prepared, {
        passwordHash: await hashPassword(requireNewPassword(input.password)),
        mustChangePassword: false,
      });
    }

    await insertMembership(tx, { orgId, userId: user.id, role: invitation.role });
    await markInvitationAccepted(tx, orgId, invitation.id, user.id);
    await appendAuditRecords(tx, [
      buildAuditRecord(userActor(user, null), context, {
        action: 'user.invitation_accepted',
        orgId,
        resourceType: 'invitation',
        resourceId: invitation.id,
        newValues: { userId: user.id, role: invitation.role },
        metadata: { newAccount: !existing, invitedBy: invitation.invitedBy },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
    return { userId: user.id, orgId, role: invitation.role, newAccount: !existing };
  });
}

function requireName(name: string | undefined): string {
  if (name === undefined) {
    throw new AppError('validation_failed', 'Validation error', [
      { field: 'name', message: 'Name is required for a new account' },
    ]);
  }
  return name;
}

function requireNewPassword(password: string): string {
  const checked = newPasswordSchema.safeParse(password);
  if (!checked.success) {
    throw new AppError(
      'validation_failed',
      'Validation error',
      checked.error.issues.map((issue) => ({ field: 'password', message: issue.message })),
    );
  }
  return checked.data;
}
