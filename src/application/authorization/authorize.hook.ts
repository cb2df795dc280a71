import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { Database, Queryable } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import { orgPath, projectPath } from '../../http/params.js';
import type { ApiKeyGrant } from '../../tenancy/api-keys/api-key.repository.js';
import { findProjectRole } from '../../tenancy/members/member.repository.js';
import { findOrganization } from '../../tenancy/organizations/organization.repository.js';
import { findProject } from '../../tenancy/projects/project.repository.js';
import type { OrgRole } from '../../tenancy/users/user.schema.js';
import { enforceAdminAllowlist } from '../../network/ip-allowlist.service.js';
import { resolveEffectiveRole } from '../access/effective-role.js';
import { findMfaStatus, MFA_REQUIRED_ROLES } from '../mfa/mfa.repository.js';
import type { SessionPrincipal, SessionService } from '../auth/session.service.js';
import {
  effectivePermissions,
  rolePermissions,
  type AccessPrincipal,
  type AccessResource,
} from './access.js';
import { authenticateAdmin, type AdminCredential } from './admin-credential.js';
import { authorize } from './authorize.js';
import type { Permission } from './permissions.js';
import type { RouteSecurity } from './route-security.js';

/** The outcome of authorization for a route with a permission, kept for the handler. */
export interface RequestAccess {
  principal: AccessPrincipal;
  resource: AccessResource;
  /**
   * The permissions the principal may grant on the resource: its own, without a just-in-time
   * raise. Roles, project roles and key scopes it grants must stay within these.
   */
  permissions: ReadonlySet<Permission>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in admin, set for routes whose security is `session`. */
    principal: SessionPrincipal | null;
    /** The API key of an admin request authenticated by a key instead of a session. */
    adminApiKey: ApiKeyGrant | null;
    /** The admin's role in the organization named by `:orgId`, when the route has one. */
    orgRole: OrgRole | null;
    /** The principal and resource of the request, set for routes that declare a permission. */
    access: RequestAccess | null;
  }
}

type SessionSecurity = Extract<RouteSecurity, { auth: 'session' }>;

/** Parses the resource ids from the path; a malformed id names nothing, so it is a 404. */
function resourceIds(request: FastifyRequest, security: SessionSecurity) {
  if (security.resource === 'project') return projectPath(request.params);
  return { ...orgPath(request.params), projectId: undefined };
}

/**
 * Loads the organization, the project when the route acts on one, and the acting user's roles
 * there, all inside the organization's tenant scope. The acting user is the session's user, or
 * the creator of an API key, whose current roles bound what the key may do.
 */
async function loadAccess(
  tx: Queryable,
  ids: { orgId: string; projectId: string | undefined },
  credential: AdminCredential,
  request: FastifyRequest,
): Promise<{ principal: AccessPrincipal; resource: AccessResource }> {
  const org = await findOrganization(tx, ids.orgId);
  if (!org) throw new AppError('not_found');
  const resource: AccessResource = ids.projectId
    ? { type: 'project', orgId: org.id, orgStatus: org.status, projectId: ids.projectId }
    : { type: 'organization', orgId: org.id, orgStatus: org.status };
  if (ids.projectId && !(await findProject(tx, org.id, ids.projectId))) {
    throw new AppError('not_found');
  }

  const userId =
    credential.type === 'session' ? credential.principal.user.id : credential.key.activeCreatorId;
  // The acting user's role in the organization: the one role lookup of every admin request.
  const orgRole = userId ? await resolveEffectiveRole(tx, request, org.id, userId) : null;
  const projectRole =
    userId && ids.projectId ? await findProjectRole(tx, org.id, ids.projectId, userId) : null;

  const roles = { orgRole, projectRole };
  if (credential.type === 'session') {
    return { principal: { type: 'user', userId: userId as string, roles }, resource };
  }
  const key = credential.key;
  const principal: AccessPrincipal = {
    type: 'api_key',
    keyId: key.keyId,
    orgId: key.orgId,
    scopes: key.scopes,
    creator: userId ? roles : null,
  };
  return { principal, resource };
}

/**
 * Returns the permissions a principal may hand out. A just-in-time grant raises the role for
 * a bounded time only, so its extra permissions grant nothing that outlives it. Otherwise a
 * member raised to admin could make themselves, or anyone, admin for good.
 */
function grantablePermissions(
  request: FastifyRequest,
  principal: AccessPrincipal,
  resource: AccessResource,
): Set<Permission> {
  const grant = request.accessGrant;
  if (principal.type !== 'user' || !grant || grant.role === grant.membershipRole) {
    return effectivePermissions(principal, resource);
  }
  return rolePermissions({ ...principal.roles, orgRole: grant.membershipRole }, resource);
}

/**
 * Rejects a request whose role a just-in-time grant raised to one that must use a second
 * factor (owner, admin, security_admin) while the user has none. Enrollment is required by
 * the membership role at sign-in, so without this a member could act as admin on a password.
 */
async function assertRaisedRoleHasMfa(db: Database, request: FastifyRequest): Promise<void> {
  const grant = request.accessGrant;
  if (!grant || grant.role === grant.membershipRole || !request.principal) return;
  if (!(MFA_REQUIRED_ROLES as readonly string[]).includes(grant.role)) return;
  const status = await findMfaStatus(db, request.principal.user.id);
  if (status.enrolled) return;
  throw new AppError(
    'mfa_enrollment_required',
    `Your access grant raises your role to ${grant.role}, which needs a second factor: ` +
      'enroll one with POST /api/v1/auth/mfa/totp first',
  );
}

/** Authenticates the request; with a session, also enforces the password and MFA gates. */
async function authenticate(
  db: Database,
  sessions: SessionService,
  request: FastifyRequest,
  security: SessionSecurity,
): Promise<AdminCredential> {
  const credential = await authenticateAdmin(db, sessions, request);
  if (!credential) throw new AppError('unauthorized');
  if (credential.type === 'api_key') {
    if (!security.permission) {
      throw new AppError('unauthorized', 'This route takes a session; API keys are not accepted');
    }
    request.adminApiKey = credential.key;
    return credential;
  }
  const principal = credential.principal;
  request.principal = principal;
  if (principal.user.mustChangePassword && !security.allowPasswordChange) {
    throw new AppError('password_change_required');
  }
  if (principal.mfaEnrollmentRequired && !security.allowMfaEnrollment) {
    throw new AppError('mfa_enrollment_required');
  }
  return credential;
}

/**
 * Registers the hook that enforces every route's declared security contract. A route that
 * declares none is rejected, so a forgotten declaration fails closed. For a route with a
 * permission, the hook loads the resource and the caller's roles and calls `authorize`, which
 * denies by default. API-key routes are authenticated by the gateway itself, which answers in
 * each provider's error shape.
 */
export function registerAuthorization(
  app: FastifyInstance,
  db: Database,
  sessions: SessionService,
): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('adminApiKey', null);
  app.decorateRequest('orgRole', null);
  app.decorateRequest('access', null);

  app.addHook('preHandler', async (request) => {
    // An unknown route has no contract to enforce, so the not-found handler returns 404.
    if (request.is404) return;
    const security = request.routeOptions.config.security;
    if (!security) {
      request.log.error({ route: request.routeOptions.url }, 'route declares no security');
      throw new AppError('forbidden');
    }
    if (security.auth !== 'session') return;

    const credential = await authenticate(db, sessions, request, security);
    const permission = security.permission;
    if (!permission) return;

    const ids = resourceIds(request, security);
    const { principal, resource } = await inTenant(db, ids.orgId, (tx) =>
      loadAccess(tx, ids, credential, request),
    );
    const decision = authorize(principal, permission, resource);
    if (!decision.allow) {
      // A 404 reveals nothing about the organization, not even that it exists.
      throw decision.reason === 'not_found'
        ? new AppError('not_found')
        : new AppError(decision.reason, decision.message);
    }
    await assertRaisedRoleHasMfa(db, request);
    await enforceAdminAllowlist(db, request, ids.orgId);
    request.orgRole = principal.type === 'user' ? principal.roles.orgRole : null;
    request.access = {
      principal,
      resource,
      permissions: grantablePermissions(request, principal, resource),
    };
  });
}
