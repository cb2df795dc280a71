import type { Queryable } from '../../../src/data/database/database.js';
import type { TestServer } from '../../support/test-server.js';

/** A stored security event, as the tests read it. */
export interface StoredEvent {
  kind: string;
  severity: string;
  source: string;
  clientIp: string | null;
  ruleIds: string[];
  location: string | null;
  sample: string | null;
  requestId: string | null;
  orgId: string | null;
  details: Record<string, unknown>;
}

const COLUMNS = `kind, severity, source, host(client_ip) AS "clientIp", rule_ids AS "ruleIds",
  location, sample, request_id AS "requestId", org_id AS "orgId", details`;

/** Writes the server's queued events, then returns those recorded for `requestId`. */
export async function eventsOfRequest(t: TestServer, requestId: string): Promise<StoredEvent[]> {
  await t.server.securityEvents.recorder.flush();
  const { rows } = await t.server.db.query<StoredEvent>(
    `SELECT ${COLUMNS} FROM security_events WHERE request_id = $1 ORDER BY id`,
    [requestId],
  );
  return rows;
}

/** Returns every stored event of `kind`, oldest first. */
export async function eventsOfKind(db: Queryable, kind: string): Promise<StoredEvent[]> {
  const { rows } = await db.query<StoredEvent>(
    `SELECT ${COLUMNS} FROM security_events WHERE kind = $1 ORDER BY id`,
    [kind],
  );
  return rows;
}

/** Returns the request id MindWeave gave a response. */
export function requestIdOf(response: Response): string {
  const id = response.headers.get('x-request-id');
  if (!id) throw new Error(`response ${response.status} has no x-request-id`);
  return id;
}
