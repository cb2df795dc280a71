import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  insertSecurityEvents,
  purgeSecurityEvents,
  type SecurityEventRow,
} from '../../../src/monitoring/security-events/security-event.repository.js';
import { createSecurityEvents } from '../../../src/monitoring/security-events/security-events.service.js';
import { capturingLogger, openEventDatabase, type EventDatabase } from './event-database.js';

const DAY_MS = 86_400_000;

let events: EventDatabase;

beforeAll(async () => {
  events = await openEventDatabase();
});

afterAll(async () => {
  await events.close();
});

function rowAged(days: number, requestId: string): SecurityEventRow {
  return {
    occurredAt: new Date(Date.now() - days * DAY_MS),
    kind: 'perimeter_block',
    severity: 'low',
    source: 'rate_limit',
    clientIp: '192.0.2.1',
    ruleIds: ['rate_limit:ip'],
    location: null,
    sample: null,
    requestId,
    orgId: null,
    details: {},
  };
}

async function remainingRequestIds(): Promise<string[]> {
  const { rows } = await events.db.query<{ requestId: string }>(
    'SELECT request_id AS "requestId" FROM security_events ORDER BY request_id',
  );
  return rows.map((row) => row.requestId);
}

describe('security event retention', () => {
  beforeAll(async () => {
    await insertSecurityEvents(events.db, [
      rowAged(200, 'aged-200'),
      rowAged(91, 'aged-91'),
      rowAged(89, 'aged-89'),
      rowAged(0, 'aged-0'),
    ]);
  });

  it('purges events past the retention days', async () => {
    const { logger, lines } = capturingLogger();
    const store = createSecurityEvents({
      config: {
        SECURITY_EVENTS_RETENTION_DAYS: 90,
        SECURITY_EVENTS_BURST_THRESHOLD: 0,
        SECURITY_EVENTS_BURST_WINDOW_SECONDS: 60,
        SECURITY_EVENTS_REDIS_PREFIX: 'unused:',
        WAF_MODE: 'block',
      },
      db: events.db,
      logger,
      retention: false,
    });
    try {
      expect(await store.purgeExpired()).toBe(2);
    } finally {
      await store.close();
    }
    expect(await remainingRequestIds()).toEqual(['aged-0', 'aged-89']);
    expect(lines.find((line) => line.msg === 'purged expired security events')).toMatchObject({
      removed: 2,
      retentionDays: 90,
    });
  });

  it('always keeps the last day', async () => {
    expect(await purgeSecurityEvents(events.db, 0)).toBe(1);
    expect(await remainingRequestIds()).toEqual(['aged-0']);
  });

  it('denies the application role a direct delete', async () => {
    await expect(events.db.query('DELETE FROM security_events')).rejects.toThrow(
      /permission denied/,
    );
    await expect(events.db.query("UPDATE security_events SET sample = 'x'")).rejects.toThrow(
      /permission denied/,
    );
    expect(await remainingRequestIds()).toEqual(['aged-0']);
  });
});
