import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRedisConnection } from '../../../src/data/redis/redis-client.js';
import {
  MemoryBurstCounter,
  RedisBurstCounter,
} from '../../../src/monitoring/security-events/burst-counter.js';
import { BurstDetector } from '../../../src/monitoring/security-events/burst-detector.js';
import type { SecurityEventInput } from '../../../src/monitoring/security-events/security-event.js';
import {
  closedPort,
  startServerPair,
  uniquePrefix,
  type ServerPair,
} from '../../perimeter/rate-limit/servers.js';
import { capturingLogger } from './event-database.js';
import { eventsOfKind } from './stored-events.js';

const THRESHOLD = 5;
const DAY_MS = 86_400_000;

function collectingSink() {
  const events: SecurityEventInput[] = [];
  return { events, sink: { record: (event: SecurityEventInput) => events.push(event) } };
}

const block = (clientIp: string) => ({
  clientIp,
  source: 'waf',
  ruleIds: ['942100'],
  requestId: null,
});

describe('burst detector in memory', () => {
  let now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const counter = new MemoryBurstCounter(1000, () => now);
  const { logger, lines } = capturingLogger();
  const { events, sink } = collectingSink();
  const detector = new BurstDetector(
    { threshold: THRESHOLD, windowMs: 60_000 },
    counter,
    null,
    sink,
    logger,
  );

  it('raises nothing up to the threshold', async () => {
    for (let i = 0; i < THRESHOLD; i += 1) await detector.observe(block('203.0.113.9'));
    expect(events).toEqual([]);
  });

  it('raises one event past the threshold', async () => {
    for (let i = 0; i < 3 * THRESHOLD; i += 1) await detector.observe(block('203.0.113.9'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      kind: 'block_burst',
      severity: 'high',
      clientIp: '203.0.113.9',
      ruleIds: ['942100'],
      details: { threshold: THRESHOLD, windowSeconds: 60 },
    });
  });

  it('logs one warning per burst', () => {
    const warnings = lines.filter(
      (line) => line.msg === 'burst of blocked requests from one client',
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, clientIp: '203.0.113.9' });
  });

  it('raises again in the next window', async () => {
    now += 60_000;
    for (let i = 0; i < 2 * THRESHOLD; i += 1) await detector.observe(block('203.0.113.9'));
    expect(events).toHaveLength(2);
  });

  it('counts an IPv6 /64 as one client', async () => {
    for (let i = 0; i <= THRESHOLD; i += 1) await detector.observe(block(`2001:db8:1:2::${i + 1}`));
    expect(events).toHaveLength(3);
    expect(events[2]?.details).toMatchObject({ countedAs: '2001:db8:1:2::/64' });
  });

  it('ignores blocks without a client IP', async () => {
    for (let i = 0; i <= 2 * THRESHOLD; i += 1) {
      await detector.observe({ ...block('x'), clientIp: null });
    }
    expect(events).toHaveLength(3);
  });
});

describe('burst detector while Redis is down', () => {
  it('counts in memory and still raises one event', async () => {
    const { logger, lines } = capturingLogger();
    const connection = createRedisConnection(`redis://127.0.0.1:${await closedPort()}`, logger);
    try {
      const { events, sink } = collectingSink();
      const detector = new BurstDetector(
        { threshold: THRESHOLD, windowMs: DAY_MS },
        new RedisBurstCounter(connection.client, uniquePrefix()),
        new MemoryBurstCounter(1000),
        sink,
        logger,
      );
      for (let i = 0; i < 3 * THRESHOLD; i += 1) await detector.observe(block('192.0.2.44'));
      expect(events).toHaveLength(1);
      const failures = lines.filter(
        (line) => line.msg === 'burst counter failed; counting in this process',
      );
      expect(failures).toHaveLength(1);
    } finally {
      await connection.close();
    }
  });
});

describe('burst detection across two servers', () => {
  let pair: ServerPair;

  beforeAll(async () => {
    // Windows are days of the Redis clock. A run close to midnight UTC waits for the next day,
    // so that all blocks of this test fall in one window.
    const untilMidnight = DAY_MS - (Date.now() % DAY_MS);
    if (untilMidnight < 60_000)
      await new Promise((resolve) => setTimeout(resolve, untilMidnight + 1000));
    pair = await startServerPair({
      SECURITY_EVENTS_BURST_THRESHOLD: String(THRESHOLD),
      SECURITY_EVENTS_BURST_WINDOW_SECONDS: String(DAY_MS / 1000),
      SECURITY_EVENTS_REDIS_PREFIX: uniquePrefix(),
    });
  }, 120_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it('raises exactly one event for blocks on both servers', async () => {
    const blocks = 8 * THRESHOLD;
    const responses = await Promise.all(
      Array.from({ length: blocks }, (_, i) =>
        fetch(`${pair.urls[i % 2]}/v1/models?q=${encodeURIComponent("' OR 1=1 --")}`, {
          headers: { 'user-agent': 'burst-test' },
        }),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(blocks).fill(403));
    await pair.first.server.securityEvents.recorder.flush();
    await pair.second.securityEvents.recorder.flush();

    const blocked = await eventsOfKind(pair.first.server.db, 'perimeter_block');
    expect(blocked).toHaveLength(blocks);
    const bursts = await eventsOfKind(pair.first.server.db, 'block_burst');
    expect(bursts).toHaveLength(1);
    expect(bursts[0]).toMatchObject({ source: 'waf', clientIp: '127.0.0.1', severity: 'high' });
    expect(bursts[0]?.details).toMatchObject({
      threshold: THRESHOLD,
      windowSeconds: DAY_MS / 1000,
    });
  });
});
