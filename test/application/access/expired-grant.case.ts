import { expect } from 'vitest';

import { roleGrants, type Permission } from '../../../src/application/authorization/permissions.js';
import type { RouteEntry } from '../../../src/application/authorization/route-catalogue.js';
import { api } from '../../admin/admin-api.js';
import type { ExtraSecurityCase, SuiteFixture } from '../../server/security-suite.cases.js';
import {
  ensureSecondFactor,
  setGrantExpiry,
  signedInMember,
  type Member,
} from './access-fixture.js';

const permissionOf = (route: RouteEntry): Permission | undefined =>
  route.security?.auth === 'session' ? route.security.permission : undefined;

let viewer: Member | null = null;

/**
 * A viewer whose just-in-time admin grant has expired: every route that an admin may use and
 * a viewer may not must reject them with 403, as if the grant had never existed.
 */
export const expiredJitGrantCase: ExtraSecurityCase = {
  name: 'expired JIT grant',

  appliesTo(route) {
    const permission = permissionOf(route);
    return (
      permission !== undefined &&
      roleGrants('admin', permission) &&
      !roleGrants('viewer', permission)
    );
  },

  async setUp(fixture: SuiteFixture) {
    const { t, own } = fixture;
    const member = await signedInMember(t, 'viewer', own.orgId);
    // An admin grant applies only to a member with a second factor.
    await ensureSecondFactor(t, member);
    const base = `/api/v1/organizations/${own.orgId}/access-requests`;
    const created = await api(t, 'POST', base, {
      token: member.token,
      body: { role: 'admin', reason: 'Security suite: expired grant case', durationMinutes: 30 },
    });
    expect(created.status).toBe(201);
    const grantId = created.body.id as string;
    const approved = await api(t, 'POST', `${base}/${grantId}/approve`, {
      token: own.ownerToken,
    });
    expect(approved.status).toBe(200);

    // While the grant is active it works, so the 403s below come from its expiry.
    const allowlists = `/api/v1/organizations/${own.orgId}/ip-allowlists`;
    expect((await api(t, 'GET', allowlists, { token: member.token })).status).toBe(200);
    await setGrantExpiry(t.server.db, own.orgId, grantId, -1);
    viewer = member;
  },

  async run(context) {
    if (!viewer) throw new Error('expired JIT grant case was not set up');
    const where = `${context.route.method} ${context.route.url} with an expired grant`;
    const response = await api(context.fixture.t, context.route.method, context.path('own'), {
      token: viewer.token,
      body: context.body,
    });
    expect(response.status, where).toBe(403);
    // A HEAD response carries no body to check.
    if (context.route.method === 'HEAD') return;
    expect(response.body.code, where).toBe('forbidden');
  },
};
