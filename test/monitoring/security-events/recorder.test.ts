import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createSecurityEventRecorder } from '../../../src/monitoring/security-events/security-event-recorder.js';
import type { SecurityEventInput } from '../../../src/monitoring/security-events/security-event.js';
import { capturingLogger, openEventDatabase, type EventDatabase } from './event-database.js';

let events: EventDatabase;

beforeAll(async () => {
  events = await openEventDatabase();
});

afterAll(async () => {
  await events.close();
});

function block(sample: string, clientIp = '198.51.100.7'): SecurityEventInput {
  return {
    kind: 'perimeter_block',
    severity: 'medium',
    source: 'waf',
    clientIp,
    ruleIds: ['942100'],
    location: 'query:id',
    sample,
    requestId: crypto.randomUUID(),
  };
}

async function rowsWithRequestIds(ids: string[]) {
  const { rows } = await events.db.query<{
    requestId: string;
    sample: string | null;
    clientIp: string | null;
  }>(
    `SELECT request_id AS "requestId", sample, host(client_ip) AS "clientIp"
       FROM security_events WHERE request_id = ANY($1::text[])`,
    [ids],
  );
  return rows;
}

describe('security event recorder', () => {
  it('writes queued events on close', async () => {
    const { logger } = capturingLogger();
    const recorder = createSecurityEventRecorder(events.db, logger, { flushIntervalMs: 60_000 });
    const queued = Array.from({ length: 25 }, (_, i) => block(`id=${i}`));
    for (const event of queued) recorder.record(event);
    await recorder.close();
    const rows = await rowsWithRequestIds(queued.map((event) => event.requestId as string));
    expect(rows).toHaveLength(25);
    expect(recorder.dropped).toBe(0);
  });

  it('drops and counts events past the queue bound', async () => {
    const { logger, lines } = capturingLogger();
    const recorder = createSecurityEventRecorder(events.db, logger, {
      flushIntervalMs: 60_000,
      batchSize: 1000,
      maxQueued: 10,
    });
    const queued = Array.from({ length: 15 }, (_, i) => block(`id=${i}`));
    for (const event of queued) recorder.record(event);
    expect(recorder.dropped).toBe(5);
    await recorder.close();
    const rows = await rowsWithRequestIds(queued.map((event) => event.requestId as string));
    expect(rows).toHaveLength(10);
    const warnings = lines.filter((line) => line.msg === 'security events dropped');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, dropped: 1, reason: 'queue_full' });
  });

  it('stores hostile input without failing the batch', async () => {
    const { logger, lines } = capturingLogger();
    const recorder = createSecurityEventRecorder(events.db, logger);
    const hostile = [
      block('nul \u0000 byte'),
      block('lone \ud800 surrogate'),
      block('ok', 'not-an-ip'),
      block('ok', 'fe80::1%eth0'),
      { ...block('x'), source: 'Bad Source!', ruleIds: ['a\u0000b'], orgId: 'not-a-uuid' },
    ];
    for (const event of hostile) recorder.record(event);
    await recorder.close();
    const rows = await rowsWithRequestIds(hostile.map((event) => event.requestId as string));
    expect(rows).toHaveLength(hostile.length);
    expect(rows.map((row) => row.sample)).toContain('nul \\x00 byte');
    expect(rows.map((row) => row.clientIp)).toContain('fe80::1');
    expect(lines.filter((line) => (line.level as number) >= 50)).toEqual([]);
  });

  it('masks and truncates samples', async () => {
    const { logger } = capturingLogger();
    const recorder = createSecurityEventRecorder(events.db, logger);
    const event = block(`email=bob@example.com&q=${'y'.repeat(1000)}`);
    recorder.record(event);
    await recorder.close();
    const [row] = await rowsWithRequestIds([event.requestId as string]);
    expect(row?.sample).not.toContain('bob@example.com');
    expect(row?.sample).toContain('[email]');
    expect(row?.sample?.length).toBeLessThanOrEqual(200);
  });
});

describe('security event recorder while writes fail', () => {
  it('retries the events of a failed batch', async () => {
    const owner = new pg.Client({ connectionString: events.url });
    await owner.connect();
    const { logger, lines } = capturingLogger();
    const recorder = createSecurityEventRecorder(events.db, logger, { flushIntervalMs: 60_000 });
    const queued = Array.from({ length: 3 }, (_, i) => block(`retry=${i}`));
    try {
      await owner.query('REVOKE INSERT ON security_events FROM mindweave_app');
      for (const event of queued) recorder.record(event);
      await recorder.flush();
      expect(lines.filter((line) => line.msg === 'failed to write security events')).toHaveLength(
        1,
      );
    } finally {
      await owner.query('GRANT INSERT ON security_events TO mindweave_app');
      await owner.end();
    }
    await recorder.close();
    const rows = await rowsWithRequestIds(queued.map((event) => event.requestId as string));
    expect(rows).toHaveLength(3);
    expect(recorder.dropped).toBe(0);
  });
});
