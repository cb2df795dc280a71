import pino from 'pino';

import { loadConfig } from '../../src/config/load-config.js';
import { createRateLimiter } from '../../src/perimeter/rate-limit/create-rate-limiter.js';
import { TokenReservation } from '../../src/perimeter/rate-limit/token-reservation.js';
import { createWafEngine, type WafRequest } from '../../src/perimeter/waf/index.js';
import { requestBodies } from '../gateway/prompts.js';

/** CPU and wall-clock time per call, in microseconds. */
export interface CallCost {
  cpuUs: number;
  wallUs: number;
}

/** The in-process cost of the perimeter's per-request work on a gateway call. */
export interface InProcessCost {
  waf: CallCost;
  rateLimit: CallCost;
  iterations: number;
}

/**
 * The request the WAF hook builds for a bench call to `POST /v1/messages`: the headers Node
 * passes on (lower-cased), the parsed JSON body, and `prompt` as body kind, so the body is
 * not inspected.
 */
function gatewayRequest(body: string, index: number): WafRequest {
  return {
    method: 'POST',
    path: '/v1/messages',
    rawQuery: '',
    headers: {
      host: '127.0.0.1:3000',
      connection: 'keep-alive',
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'user-agent': 'mindweave-bench/1.0',
      'x-api-key': `mw_bench_${index}`,
      'content-length': String(Buffer.byteLength(body)),
    },
    cookies: {},
    body: JSON.parse(body) as unknown,
    bodyKind: 'prompt',
    routeId: '/v1/messages',
  };
}

async function timeCalls(iterations: number, call: (i: number) => unknown): Promise<CallCost> {
  const warmup = Math.min(10_000, iterations);
  for (let i = 0; i < warmup; i++) await call(i);
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  for (let i = 0; i < iterations; i++) await call(i);
  const wallUs = (performance.now() - wallStart) * 1000;
  const cpu = process.cpuUsage(cpuStart);
  return { cpuUs: (cpu.user + cpu.system) / iterations, wallUs: wallUs / iterations };
}

/**
 * Measures, in this process, the WAF inspection and the rate-limit work of one gateway call
 * with the in-memory store: the per-IP check, the per-key request check, and a token
 * reservation of 256 tokens settled to 17. The request bodies are the bench's eight prompts.
 */
export async function measureInProcessCost(iterations: number): Promise<InProcessCost> {
  const requests = requestBodies().map(gatewayRequest);
  const engine = createWafEngine({ paranoiaLevel: 1 });
  const waf = await timeCalls(iterations, (i) =>
    engine.inspect(requests[i % requests.length] as WafRequest),
  );

  const config = loadConfig({
    RATE_LIMIT_IP_MAX: '10000000',
    RATE_LIMIT_KEY_MAX: '10000000',
    RATE_LIMIT_KEY_TOKENS: '1000000000',
  });
  const limiter = createRateLimiter(config, pino({ level: 'silent' }), null);
  const rateLimit = await timeCalls(iterations, async (i) => {
    await limiter.check(limiter.rules.perIp, '127.0.0.1');
    await limiter.check(limiter.rules.keyRequests, `key-${i % 8}`);
    const reservation = new TokenReservation(limiter, limiter.rules.keyTokens, `key-${i % 8}`);
    await reservation.ensure(256);
    await reservation.settle(17);
  });
  return { waf, rateLimit, iterations };
}
