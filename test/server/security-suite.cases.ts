import type { RouteEntry } from '../../src/application/authorization/route-catalogue.js';
import type { TestServer } from '../support/test-server.js';
import { expiredJitGrantCase } from '../application/access/expired-grant.case.js';

/** The objects of one organization that route parameters name. */
export interface TenantFixture {
  orgId: string;
  projectId: string;
  keyId: string;
  /** A member other than the owner, for `:userId`. */
  userId: string;
  /** The member's pending just-in-time access request. */
  grantId: string;
  /** The owner's session token. */
  ownerToken: string;
  /** A key with scope `gateway` only. */
  gatewayKey: string;
  /** A key with scope `admin`, minted by the owner. */
  adminKey: string;
}

/** Everything the suite's cases act with. */
export interface SuiteFixture {
  t: TestServer;
  /** The caller's organization. */
  own: TenantFixture;
  /** Another tenant, whose ids must get 404 for the caller. */
  foreign: TenantFixture;
  /** An organization that is disabled. */
  disabled: TenantFixture;
  /** Session tokens of members of the caller's organization, by org role. */
  roleTokens: Record<'admin' | 'security_admin' | 'auditor' | 'member' | 'viewer', string>;
}

/** Which organization a path is built for. */
export type Tenancy = 'own' | 'foreign' | 'disabled';

/**
 * How the suite fills one path parameter: a value in the given organization. `tenant` marks
 * ids of objects that belong to an organization, which the foreign-id case swaps one by one.
 */
export interface ParamSource {
  tenant: boolean;
  value(fixture: SuiteFixture, tenancy: Tenancy): string;
}

// An id of no object in the organization. An unknown id must get the same 404 as another
// tenant's id, so it replaces objects the suite cannot create.
const UNKNOWN_ID = '00000000-0000-4000-8000-00000000beef';

const tenantId = (pick: (tenant: TenantFixture) => string): ParamSource => ({
  tenant: true,
  value: (fixture, tenancy) => pick(fixture[tenancy]),
});

/** An id of an object the suite does not create; own and foreign alike name nothing. */
const unknownObject: ParamSource = { tenant: true, value: () => UNKNOWN_ID };

const fixed = (value: string): ParamSource => ({ tenant: false, value: () => value });

/**
 * Values for every path parameter the suite can fill. A route with a parameter missing here
 * fails the suite until the parameter is added or the route is listed in UNEXERCISED_ROUTES.
 */
export const PARAM_SOURCES: Record<string, ParamSource> = {
  orgId: tenantId((tenant) => tenant.orgId),
  projectId: tenantId((tenant) => tenant.projectId),
  keyId: tenantId((tenant) => tenant.keyId),
  userId: tenantId((tenant) => tenant.userId),
  grantId: tenantId((tenant) => tenant.grantId),
  invitationId: unknownObject,
  requestId: unknownObject,
  callId: unknownObject,
  // Sessions and WebAuthn credentials belong to a user, not an organization.
  id: fixed(UNKNOWN_ID),
  seq: fixed('1'),
  provider: fixed('anthropic'),
  surface: fixed('admin'),
};

/**
 * Bodies for routes whose handler validates the body before it loads the object named in the
 * path, so the foreign-id case reaches the lookup. Every other route gets `{}` on methods that
 * carry a body.
 */
export const SAMPLE_BODIES: Record<string, unknown> = {
  'PATCH /api/v1/organizations/:orgId/members/:userId': { role: 'viewer' },
  'PUT /api/v1/organizations/:orgId/projects/:projectId/members/:userId': { role: 'viewer' },
};

/**
 * Routes the suite does not send requests to, each with the reason. Every other route with
 * `session` or `api_key` security runs every case; an unlisted route the suite cannot fill
 * fails the suite.
 */
export const UNEXERCISED_ROUTES: Record<string, string> = {};

/**
 * Session routes without a permission act only on the caller's own account, never on an
 * organization's objects. Any other session route must declare a permission.
 */
export function isOwnAccountRoute(route: RouteEntry): boolean {
  return (
    route.url.startsWith('/api/v1/auth/') ||
    route.url === '/api/v1/organizations' ||
    route.url.startsWith('/api/v1/audit/')
  );
}

/** One request of a case and the outcome it expects. */
export interface CaseContext {
  fixture: SuiteFixture;
  route: RouteEntry;
  /** The path of `route` with its parameters filled for `tenancy`. */
  path(tenancy: Tenancy): string;
  /** The body the suite sends on this route. */
  body: unknown;
}

/**
 * A case another part of the product adds to the suite, run for every route it applies to:
 * for example, the just-in-time access feature adds a request under an expired elevation.
 */
export interface ExtraSecurityCase {
  name: string;
  appliesTo(route: RouteEntry): boolean;
  /** Sets up what the case needs once, before the first route runs. */
  setUp?(fixture: SuiteFixture): Promise<void>;
  run(context: CaseContext): Promise<void>;
}

/** Extension point: cases added by other features, such as an expired JIT grant. */
export const EXTRA_SECURITY_CASES: ExtraSecurityCase[] = [expiredJitGrantCase];
