import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { maskSample } from '../../src/monitoring/security-events/sample-masking.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { eventsOfRequest, requestIdOf } from '../monitoring/security-events/stored-events.js';

// Header values are sampled as sent and the path is decoded once, so an address or a
// credential may reach the masks still percent-encoded.
describe('sample masking of encoded input', () => {
  it.each([
    ["alice%40example.com' or 1=1--", "[email]' or 1=1--"],
    ['alice%2540example.com', '[email]'],
    ['a%b@example.com', '[email]'],
    ['password%3Dhunter2', 'password%3D[secret]'],
    ['x-api-key%3dabc123', 'x-api-key%3d[secret]'],
  ])('masks %s', (raw, masked) => {
    expect(maskSample(raw)).toBe(masked);
  });

  it('keeps a percentage', () => {
    expect(maskSample('100% off')).toBe('100% off');
  });
});

describe('stored sample of an encoded header', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('stores the address masked', async () => {
    const response = await fetch(`${t.url}/healthz`, {
      headers: {
        'user-agent': 'encoded-pii-test',
        referer: "https://app.example.com/?user=alice%40example.com' UNION SELECT 1--",
      },
    });
    expect(response.status).toBe(403);
    const events = await eventsOfRequest(t, requestIdOf(response));
    expect(events[0]?.location).toBe('header:referer');
    expect(events[0]?.sample).toContain('[email]');
    expect(events[0]?.sample).not.toContain('alice');
  });
});
