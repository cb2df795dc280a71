import { randomUUID } from 'node:crypto';

import type { Actor } from '../../src/http/request-context.js';
import { buildAuditRecord, type AuditRecord } from '../../src/monitoring/audit/audit-entry.js';

/** Users the sample entries rotate through, so sealing uses a few subject keys as in production. */
const USERS = Array.from({ length: 8 }, (_, index) => ({
  id: randomUUID(),
  email: `user${index}@example.com`,
  sessionId: randomUUID(),
}));
const ORG_ID = randomUUID();
const PROJECT_IDS = Array.from({ length: 4 }, () => randomUUID());
const USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';
const ACTIONS = ['project.update', 'api_key.create', 'api_key.revoke', 'organization.update'];

/** Number of distinct users, so a warm-up that builds this many records touches every key. */
export const SAMPLE_USER_COUNT = USERS.length;

/**
 * Builds the `index`-th sample entry: a user actor with email, session, IP and user agent (all
 * sealed on append), a project resource and about 150 bytes of JSON metadata.
 */
export function buildSampleRecord(index: number): AuditRecord {
  const user = USERS[index % USERS.length] as (typeof USERS)[number];
  const projectId = PROJECT_IDS[index % PROJECT_IDS.length] ?? null;
  const actor: Actor = { type: 'user', id: user.id, email: user.email, sessionId: user.sessionId };
  return buildAuditRecord(
    actor,
    { requestId: randomUUID(), ip: `203.0.113.${index % 250}`, userAgent: USER_AGENT },
    {
      action: ACTIONS[index % ACTIONS.length] as string,
      orgId: ORG_ID,
      projectId,
      resourceType: 'project',
      resourceId: projectId,
      metadata: {
        model: 'claude-sonnet-4-5',
        status: 200,
        inputTokens: 120 + (index % 900),
        outputTokens: 40 + (index % 300),
        latencyMs: 300 + (index % 1700),
        stream: index % 2 === 0,
      },
    },
  );
}
