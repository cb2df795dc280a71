import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startServer } from '../../../src/server/start-server.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { capturingLogger } from './event-database.js';
import { eventsOfRequest, requestIdOf } from './stored-events.js';

const ATTACK = encodeURIComponent("' UNION SELECT password FROM users --");

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ env: { WAF_MODE: 'monitor' } });
});

afterAll(async () => {
  await t?.stop();
});

describe('WAF in monitor mode', () => {
  it('records a request it lets through', async () => {
    const response = await fetch(`${t.url}/healthz?q=${ATTACK}`, {
      headers: { 'user-agent': 'monitor-mode-test' },
    });
    expect(response.status).toBe(200);
    const events = await eventsOfRequest(t, requestIdOf(response));
    expect(events).toHaveLength(1);
    expect(events[0]?.source).toBe('waf');
    expect(events[0]?.details).toMatchObject({ enforced: false });
  });
});

describe('server shutdown', () => {
  it('writes the queued events', async () => {
    // A second server on the same database, so stopping it leaves the test server running.
    const { logger } = capturingLogger();
    const server = await startServer(t.config, logger);
    let response: Response;
    try {
      response = await fetch(`${server.url}/healthz?q=${ATTACK}&shutdown=1`, {
        headers: { 'user-agent': 'monitor-mode-test' },
      });
      expect(response.status).toBe(200);
    } finally {
      await server.stop();
    }
    const { rows } = await t.server.db.query(
      'SELECT kind FROM security_events WHERE request_id = $1',
      [requestIdOf(response)],
    );
    expect(rows).toEqual([{ kind: 'perimeter_block' }]);
  });
});
