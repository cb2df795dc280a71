import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildAuditRecord } from '../../src/monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../src/monitoring/audit/audit.repository.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import {
  auditRows,
  call,
  createUser,
  enrollTotp,
  SecretRecorder,
  signIn,
} from '../application/identity-api.js';

const PARALLEL = 8;

// Several routes append failure entries outside a transaction of their own. Under concurrency
// such appends read the same log head, so they failed with a 500 and lost the entry.
describe('audit appends on the pool', () => {
  let t: TestServer;
  const recorder = new SecretRecorder();

  beforeAll(async () => {
    t = await startTestServer({ env: { LOGIN_LOCKOUT_ACCOUNT_FAILURES: '1000' } });
  });

  afterAll(async () => {
    await t.stop();
  });

  it('concurrent appends all land', async () => {
    const context = { ip: '192.0.2.1', userAgent: 'breaker', requestId: null };
    const append = (n: number) =>
      appendAuditRecords(t.server.db, [
        buildAuditRecord({ type: 'system', id: null }, context, {
          action: 'breaker.concurrent_append',
          metadata: { n },
        }),
      ]);
    const outcomes = await Promise.allSettled(
      Array.from({ length: PARALLEL }, (_, n) => append(n)),
    );
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
    expect(await auditRows(t, 'breaker.concurrent_append')).toHaveLength(PARALLEL);
  });

  it('parallel resets for unknown emails answer 202', async () => {
    const results = await Promise.all(
      Array.from({ length: PARALLEL }, (_, n) =>
        call(t, recorder, 'POST', '/api/v1/auth/password/reset', {
          body: { email: `nobody-${n}-${Date.now()}@example.com` },
        }),
      ),
    );
    for (const result of results) expect(result.status).toBe(202);
  });

  it('parallel wrong MFA codes are all audited', async () => {
    const user = await createUser(t, recorder, { role: 'member' });
    const first = await signIn(t, recorder, user.email, user.password);
    await enrollTotp(t, recorder, first.body.token as string);
    const challenges: string[] = [];
    for (let n = 0; n < PARALLEL; n++) {
      const step = await signIn(t, recorder, user.email, user.password);
      challenges.push(step.body.challengeToken as string);
    }
    const results = await Promise.all(
      challenges.map((challengeToken) =>
        call(t, recorder, 'POST', '/api/v1/auth/mfa/challenge', {
          body: { challengeToken, code: 'aaaa-bbbb-cccc-dddd' },
        }),
      ),
    );
    // 429 for the attempts that ran while another held the account's attempt claim.
    for (const result of results) expect([401, 429]).toContain(result.status);
    const failures = (await auditRows(t, 'user.mfa_challenge_failed')).filter(
      (row) => row.actor_id === user.id,
    );
    expect(failures).toHaveLength(PARALLEL);
  });
});
