import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { api, expectAdminError, ownerSession } from '../../admin/admin-api.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import {
  approvedGrant,
  auditEntries,
  createProject,
  eventually,
  setGrantExpiry,
  signedInMember,
  type Member,
} from './access-fixture.js';
import { startSecondProcess, type SecondProcess } from './second-process.js';

describe('grants across server processes', () => {
  let t: TestServer;
  let second: SecondProcess;
  let admin: Member;

  beforeAll(async () => {
    t = await startTestServer({ env: { ACCESS_SWEEP_INTERVAL_MS: '200' } });
    second = await startSecondProcess(t);
    await ownerSession(t);
    admin = await signedInMember(t, 'admin');
  }, 90_000);

  afterAll(async () => {
    await second?.stop();
    await t?.stop();
  });

  it('revocation reaches the second process', async () => {
    const member = await signedInMember(t, 'member');
    const grantId = await approvedGrant(t, member, admin);
    expect((await createProject(second.view, member)).status).toBe(201);

    const revoked = await api(
      t,
      'POST',
      `/api/v1/organizations/${t.boot.orgId}/access-requests/${grantId}/revoke`,
      { token: admin.token },
    );
    expect(revoked.status).toBe(200);
    expectAdminError(await createProject(second.view, member), 403, 'forbidden');
  });

  it('expiry reaches the second process', async () => {
    const member = await signedInMember(t, 'member');
    const grantId = await approvedGrant(t, member, admin);
    expect((await createProject(second.view, member)).status).toBe(201);

    await setGrantExpiry(t.server.db, t.boot.orgId, grantId, -1);
    expectAdminError(await createProject(second.view, member), 403, 'forbidden');
    expectAdminError(await createProject(t, member), 403, 'forbidden');
  });

  it('both processes sweep, expiry is audited once', async () => {
    const member = await signedInMember(t, 'member');
    const grantId = await approvedGrant(t, member, admin);
    await setGrantExpiry(t.server.db, t.boot.orgId, grantId, 0);
    const expiredOf = async () =>
      (await auditEntries(t.server.db, t.boot.orgId, 'access.jit_expired')).filter(
        (entry) => entry.resource_id === grantId,
      );
    await eventually(async () => ((await expiredOf()).length > 0 ? true : null));
    // Each process sweeps every 200 ms; after many more sweeps there is still one entry.
    await sleep(1500);
    expect(await expiredOf()).toHaveLength(1);
  });
});
