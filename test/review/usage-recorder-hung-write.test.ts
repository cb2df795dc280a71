import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';

import type { Database } from '../../src/data/database/database.js';
import type { GatewayCall } from '../../src/gateway/usage/gateway-call.js';
import { createUsageRecorder } from '../../src/gateway/usage/usage-recorder.js';

// A write that neither commits nor fails, as when another session holds the audit head's row
// lock or the database host stops responding without resetting the connection. The server sets
// no statement, lock or socket timeout, so such a write stays pending for as long as the cause.
const hungDatabase = {
  transaction: () => new Promise<never>(() => undefined),
  query: () => new Promise<never>(() => undefined),
} as unknown as Database;

function loggedMessages(): { logger: Logger; messages: string[] } {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        messages.push(String((JSON.parse(line) as { msg?: unknown }).msg));
      }
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, sink), messages };
}

function calls(count: number): GatewayCall[] {
  const orgId = randomUUID();
  return Array.from({ length: count }, () => ({
    context: { requestId: randomUUID(), ip: '127.0.0.1', userAgent: 'hung-write-test' },
    orgId,
    projectId: randomUUID(),
    apiKeyId: randomUUID(),
    maskedKey: 'mw_live_test…',
    provider: 'openai',
    model: 'gpt-4o-mini',
    streamed: false,
    status: 200,
    errorCode: null,
    inputTokens: 3,
    outputTokens: 5,
    latencyMs: 2,
  }));
}

describe('usage recorder with a write that never ends', () => {
  it('reports unhealthy before dropping answered calls', () => {
    const { logger, messages } = loggedMessages();
    const usage = createUsageRecorder(hungDatabase, logger, {
      writeAfterCalls: 5,
      maxQueued: 20,
      chainInWorker: false,
    });
    for (const call of calls(40)) usage.record(call);

    expect(messages).toContain('gateway call queue is full; calls are not being recorded');
    // The gateway serves calls while healthy() is true, so every call past the queue's
    // capacity gets its response and is never recorded.
    expect(usage.healthy()).toBe(false);
  });

  it('close ends within its wait and logs the unwritten calls', async () => {
    const { logger, messages } = loggedMessages();
    const usage = createUsageRecorder(hungDatabase, logger, {
      writeAfterCalls: 5,
      closeWaitMs: 300,
      chainInWorker: false,
    });
    for (const call of calls(5)) usage.record(call);

    const closed = await Promise.race([
      usage.close().then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000)),
    ]);

    expect(closed).toBe(true);
    expect(messages).toContain('stopping with gateway call records that could not be written');
  });
});
