import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generateApiKey } from '../../../src/tenancy/api-keys/api-key-secret.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';
import { eventsOfRequest, requestIdOf } from './stored-events.js';

const USER_AGENT = 'security-events-test';
const KEY_LIMIT = 2;
const AUTH_LIMIT = 2;

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({
    env: {
      RATE_LIMIT_KEY_MAX: String(KEY_LIMIT),
      RATE_LIMIT_AUTH_MAX: String(AUTH_LIMIT),
      ADMIN_BODY_LIMIT_BYTES: '2048',
      // Blocks in this file must not raise burst events that other assertions would count.
      SECURITY_EVENTS_BURST_THRESHOLD: '0',
    },
  });
});

afterAll(async () => {
  await t?.stop();
});

describe('WAF blocks', () => {
  // An SQL injection that also carries personal data and credentials, longer than a sample.
  const stolenKey = generateApiKey().secret;
  const payload =
    `' UNION SELECT password FROM users WHERE email='victim@example.com' ` +
    `AND card='4111 1111 1111 1111' AND key='${stolenKey}' -- ${'padding '.repeat(40)}`;
  let response: Response;

  beforeAll(async () => {
    const query = new URLSearchParams({ q: payload }).toString();
    response = await fetch(`${t.url}/v1/models?${query}`, {
      headers: {
        'user-agent': USER_AGENT,
        'x-api-key': t.boot.apiKey,
        authorization: 'Bearer sk-ant-not-a-real-provider-key-123456',
      },
    });
  });

  it('blocks the request', () => {
    expect(response.status).toBe(403);
  });

  it('records one perimeter_block event', async () => {
    const events = await eventsOfRequest(t, requestIdOf(response));
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event?.kind).toBe('perimeter_block');
    expect(event?.source).toBe('waf');
    expect(event?.severity).toBe('medium');
    expect(event?.clientIp).toBe('127.0.0.1');
    expect(event?.location).toBe('query:q');
    expect(event?.ruleIds.some((id) => id.startsWith('942'))).toBe(true);
    expect(event?.orgId).toBeNull();
    expect(event?.details).toMatchObject({ method: 'GET', route: '/v1/models', enforced: true });
  });

  it('stores a masked, truncated sample', async () => {
    const [event] = await eventsOfRequest(t, requestIdOf(response));
    const sample = event?.sample ?? '';
    expect(sample).toContain('UNION SELECT');
    expect(sample).toContain('[email]');
    expect(sample).toContain('[card]');
    expect(sample).toContain('[api-key]');
    expect(sample.length).toBeLessThanOrEqual(200);
    expect(sample.endsWith('…')).toBe(true);
  });

  it('stores no secret of the request', async () => {
    const [event] = await eventsOfRequest(t, requestIdOf(response));
    const stored = JSON.stringify(event);
    for (const secret of [
      'victim@example.com',
      '4111 1111 1111 1111',
      stolenKey,
      t.boot.apiKey,
      'sk-ant-not-a-real-provider-key-123456',
    ]) {
      expect(stored).not.toContain(secret);
    }
  });
});

describe('rate-limit refusals', () => {
  it('records each refused sign-in request', async () => {
    const responses: Response[] = [];
    for (let i = 0; i < AUTH_LIMIT + 2; i += 1) {
      responses.push(
        await fetch(`${t.url}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT },
          body: JSON.stringify({ email: 'nobody@example.com', password: 'x' }),
        }),
      );
    }
    const refused = responses.filter((response) => response.status === 429);
    expect(refused).toHaveLength(2);
    for (const response of refused) {
      const events = await eventsOfRequest(t, requestIdOf(response));
      expect(events.map((event) => event.kind)).toEqual(['perimeter_block']);
      expect(events[0]).toMatchObject({
        source: 'rate_limit',
        severity: 'low',
        ruleIds: ['rate_limit:auth'],
        clientIp: '127.0.0.1',
        sample: null,
      });
    }
  });

  it('records refused gateway requests of a key', async () => {
    const responses: Response[] = [];
    for (let i = 0; i < KEY_LIMIT + 1; i += 1) {
      responses.push(
        await fetch(`${t.url}/v1/models`, {
          headers: { 'x-api-key': t.boot.apiKey, 'user-agent': USER_AGENT },
        }),
      );
    }
    const refused = responses.filter((response) => response.status === 429);
    expect(refused).toHaveLength(1);
    const events = await eventsOfRequest(t, requestIdOf(refused[0] as Response));
    expect(events).toHaveLength(1);
    expect(events[0]?.ruleIds).toEqual(['rate_limit:key']);
  });

  it('records nothing for allowed requests', async () => {
    const allowed = await fetch(`${t.url}/healthz`, { headers: { 'user-agent': USER_AGENT } });
    expect(allowed.status).toBe(200);
    expect(await eventsOfRequest(t, requestIdOf(allowed))).toEqual([]);
  });
});

describe('request-limit refusals', () => {
  it('records a missing User-Agent', async () => {
    const response = await fetch(`${t.url}/api/v1/organizations`, {
      headers: { 'user-agent': '' },
    });
    expect(response.status).toBe(400);
    const events = await eventsOfRequest(t, requestIdOf(response));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: 'request_limit',
      ruleIds: ['request_limit:user_agent'],
      location: 'header:user-agent',
    });
  });

  it('records a body over the limit', async () => {
    const response = await fetch(`${t.url}/api/v1/organizations/x/projects`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT },
      body: JSON.stringify({ name: 'n'.repeat(4096) }),
    });
    expect(response.status).toBe(413);
    const events = await eventsOfRequest(t, requestIdOf(response));
    expect(events.map((event) => event.ruleIds)).toEqual([['request_limit:body_size']]);
  });
});
