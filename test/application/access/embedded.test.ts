import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectAdminError, ownerSession } from '../../admin/admin-api.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import {
  approvedGrant,
  auditEntries,
  createProject,
  eventually,
  setGrantExpiry,
  signedInMember,
} from './access-fixture.js';

describe('grants on embedded PostgreSQL', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ embedded: true, env: { ACCESS_SWEEP_INTERVAL_MS: '200' } });
    await ownerSession(t);
  }, 120_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('grant applies, expires and is swept', async () => {
    const admin = await signedInMember(t, 'admin');
    const member = await signedInMember(t, 'member');
    const grantId = await approvedGrant(t, member, admin);
    expect((await createProject(t, member)).status).toBe(201);

    await setGrantExpiry(t.server.db, t.boot.orgId, grantId, -1);
    expectAdminError(await createProject(t, member), 403, 'forbidden');
    const entry = await eventually(async () => {
      const entries = await auditEntries(t.server.db, t.boot.orgId, 'access.jit_expired');
      return entries.find((candidate) => candidate.resource_id === grantId);
    });
    expect(entry.actor_type).toBe('system');
  });
});
