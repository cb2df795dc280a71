import { describe, expect, it } from 'vitest';

import type {
  AccessPrincipal,
  AccessResource,
} from '../../../src/application/authorization/access.js';
import {
  HUMAN_ONLY_PERMISSIONS,
  SCOPE_PERMISSIONS,
} from '../../../src/application/authorization/api-key-scopes.js';
import { authorize, type Decision } from '../../../src/application/authorization/authorize.js';
import { canGrant } from '../../../src/application/authorization/grant-rules.js';
import {
  PERMISSIONS,
  PROJECT_PERMISSIONS,
  PROJECT_ROLE_PERMISSIONS,
  ROLE_PERMISSIONS,
} from '../../../src/application/authorization/permissions.js';
import {
  ORG_ROLES,
  PROJECT_ROLES,
  type OrgRole,
  type ProjectRole,
} from '../../../src/tenancy/users/user.schema.js';

/** Returns the denial reason, or `allowed`, so a failed check shows the decision. */
const reasonOf = (decision: Decision) => (decision.allow ? 'allowed' : decision.reason);
const messageOf = (decision: Decision) => (decision.allow ? 'allowed' : decision.message);

const ORG = '11111111-1111-4111-8111-111111111111';
const OTHER_ORG = '22222222-2222-4222-8222-222222222222';
const PROJECT = '33333333-3333-4333-8333-333333333333';

const org = (orgStatus: 'active' | 'disabled' = 'active'): AccessResource => ({
  type: 'organization',
  orgId: ORG,
  orgStatus,
});
const project = (): AccessResource => ({
  type: 'project',
  orgId: ORG,
  orgStatus: 'active',
  projectId: PROJECT,
});

const user = (
  orgRole: OrgRole | null,
  projectRole: ProjectRole | null = null,
): AccessPrincipal => ({
  type: 'user',
  userId: 'user',
  roles: { orgRole, projectRole },
});

const key = (
  scopes: ('gateway' | 'admin_read' | 'admin')[],
  creatorRole: OrgRole | null,
  orgId = ORG,
): AccessPrincipal => ({
  type: 'api_key',
  keyId: 'key',
  orgId,
  scopes,
  creator: creatorRole ? { orgRole: creatorRole, projectRole: null } : null,
});

describe('role table', () => {
  it('grants only catalogue permissions', () => {
    const tables = [...Object.values(ROLE_PERMISSIONS), ...Object.values(PROJECT_ROLE_PERMISSIONS)];
    for (const granted of tables) {
      for (const permission of granted) expect(PERMISSIONS).toContain(permission);
    }
  });

  it('project roles grant only project permissions', () => {
    for (const role of PROJECT_ROLES) {
      for (const permission of PROJECT_ROLE_PERMISSIONS[role]) {
        expect(PROJECT_PERMISSIONS, `${role} ${permission}`).toContain(permission);
      }
    }
  });

  it('auditor only reads', () => {
    // Requesting just-in-time elevation is the auditor's one action; it changes nothing itself.
    const changes = ROLE_PERMISSIONS.auditor.filter((permission) => !permission.endsWith('.read'));
    expect(changes).toEqual(['access.request']);
    expect(ROLE_PERMISSIONS.auditor).toEqual(
      expect.arrayContaining(['audit.read', 'incident.read', 'compliance.read']),
    );
  });

  it('only owners hold organization.transfer', () => {
    const holders = ORG_ROLES.filter((role) =>
      ROLE_PERMISSIONS[role].includes('organization.transfer'),
    );
    expect(holders).toEqual(['owner']);
  });
});

describe('authorize', () => {
  it('allows a role its permission', () => {
    expect(authorize(user('admin'), 'project.create', org())).toEqual({ allow: true });
    expect(authorize(user('auditor'), 'audit.read', org())).toEqual({ allow: true });
  });

  it('denies a missing permission', () => {
    const decision = authorize(user('viewer'), 'api_key.read', org());
    expect(decision).toEqual({
      allow: false,
      reason: 'forbidden',
      message: 'Your role does not grant api_key.read',
    });
  });

  it('denies a non-member as not found', () => {
    const decision = authorize(user(null), 'organization.read', org());
    expect(decision.allow).toBe(false);
    expect(reasonOf(decision)).toBe('not_found');
  });

  it('denies every request in a disabled organization', () => {
    for (const permission of PERMISSIONS.filter((p) => p !== 'organization.disable')) {
      const decision = authorize(user('owner'), permission, org('disabled'));
      expect(reasonOf(decision), permission).toBe('organization_disabled');
    }
  });

  it('lets an owner enable a disabled organization', () => {
    expect(authorize(user('owner'), 'organization.disable', org('disabled'))).toEqual({
      allow: true,
    });
    const viaKey = authorize(key(['admin'], 'owner'), 'organization.disable', org('disabled'));
    expect(reasonOf(viaKey)).toBe('organization_disabled');
  });

  it('applies project roles only in their project', () => {
    const developer = user('member', 'developer');
    expect(authorize(developer, 'api_key.create', project())).toEqual({ allow: true });
    const orgWide = authorize(developer, 'api_key.create', org());
    expect(reasonOf(orgWide)).toBe('forbidden');
  });

  it('bounds a key by its scope', () => {
    const readKey = key(['admin_read'], 'owner');
    expect(authorize(readKey, 'project.read', org())).toEqual({ allow: true });
    const write = authorize(readKey, 'project.create', org());
    expect(messageOf(write)).toBe('This API key does not grant project.create');
    const gatewayKey = authorize(key(['gateway'], 'owner'), 'organization.read', org());
    expect(reasonOf(gatewayKey)).toBe('forbidden');
  });

  it('bounds a key by its creator', () => {
    expect(authorize(key(['admin'], 'admin'), 'project.create', org())).toEqual({ allow: true });
    const demoted = authorize(key(['admin'], 'viewer'), 'project.create', org());
    expect(reasonOf(demoted)).toBe('forbidden');
    const orphan = authorize(key(['admin'], null), 'organization.read', org());
    expect(reasonOf(orphan)).toBe('forbidden');
  });

  it('treats a foreign key as not found', () => {
    const decision = authorize(key(['admin'], 'owner', OTHER_ORG), 'organization.read', org());
    expect(reasonOf(decision)).toBe('not_found');
  });
});

describe('grant rules', () => {
  const held = (role: OrgRole) => new Set(ROLE_PERMISSIONS[role]);

  it('admin cannot grant owner', () => {
    expect(canGrant(held('admin'), ROLE_PERMISSIONS.owner)).toBe(false);
    expect(canGrant(held('admin'), ROLE_PERMISSIONS.admin)).toBe(true);
    expect(canGrant(held('owner'), ROLE_PERMISSIONS.owner)).toBe(true);
  });

  it('security admin grants nothing above it', () => {
    expect(canGrant(held('security_admin'), ROLE_PERMISSIONS.admin)).toBe(false);
    expect(canGrant(held('security_admin'), ROLE_PERMISSIONS.viewer)).toBe(true);
  });

  it('only owner and admin can mint admin scope', () => {
    const minters = ORG_ROLES.filter((role) => canGrant(held(role), SCOPE_PERMISSIONS.admin));
    expect(minters).toEqual(['owner', 'admin']);
  });

  it('members cannot mint admin_read scope', () => {
    for (const role of ['auditor', 'member', 'viewer'] as const) {
      expect(canGrant(held(role), SCOPE_PERMISSIONS.admin_read), role).toBe(false);
    }
  });

  it('key scopes exclude human-only permissions', () => {
    for (const permission of HUMAN_ONLY_PERMISSIONS) {
      expect(SCOPE_PERMISSIONS.admin).not.toContain(permission);
    }
  });

  it('project admin cannot mint admin scopes', () => {
    const projectAdmin = new Set([...ROLE_PERMISSIONS.member, ...PROJECT_ROLE_PERMISSIONS.admin]);
    expect(canGrant(projectAdmin, SCOPE_PERMISSIONS.admin)).toBe(false);
    expect(canGrant(projectAdmin, SCOPE_PERMISSIONS.admin_read)).toBe(false);
    expect(canGrant(projectAdmin, PROJECT_ROLE_PERMISSIONS.admin)).toBe(true);
  });
});
