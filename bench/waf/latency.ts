/**
 * Measures the engine's cost per request for typical gateway traffic. Usage:
 *
 *   npx tsx bench/waf/latency.ts [--iterations N]
 *
 * It prints the mean CPU and wall-clock time per `inspect` call, in microseconds, for a
 * prompt request (small headers, body skipped) and for an admin JSON request. CPU time
 * is the better figure on a shared machine, where wall time includes waiting for a core.
 */
import { parseArgs } from 'node:util';

import { createWafEngine, type WafRequest } from '../../src/perimeter/waf/index.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '200000' } } });
const iterations = Number(values.iterations);

const promptRequest: WafRequest = {
  method: 'POST',
  path: '/v1/messages',
  rawQuery: '',
  headers: {
    host: '127.0.0.1:8080',
    'content-type': 'application/json',
    'content-length': '412',
    authorization: 'Bearer mw_live_4f9c2a7e51b84d0c9a3e6f1b2d7c8e90',
    'user-agent': 'Anthropic/JS 0.39.0',
    accept: 'application/json',
    'anthropic-version': '2023-06-01',
  },
  cookies: {},
  body: {
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    messages: [
      { role: 'user', content: "SELECT * FROM users WHERE name = '' OR 1=1 -- why is this bad?" },
    ],
  },
  bodyKind: 'prompt',
  routeId: 'gateway.messages',
};

const adminRequest: WafRequest = {
  ...promptRequest,
  path: '/admin/v1/policies',
  rawQuery: 'tenant=acme&dryRun=true',
  body: {
    name: 'block-pii',
    description: 'Blocks prompts with card numbers',
    rules: [{ kind: 'regex', pattern: '\\d{16}' }],
  },
  bodyKind: 'admin',
  routeId: 'admin.policies.create',
};

function measure(label: string, request: WafRequest): void {
  const engine = createWafEngine();
  for (let i = 0; i < 10_000; i++) engine.inspect(request);
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < iterations; i++) engine.inspect(request);
  const cpu = process.cpuUsage(cpuStart);
  const wall = Number(process.hrtime.bigint() - start) / 1000;
  const cpuMicros = cpu.user + cpu.system;
  console.log(
    `${label}: ${(cpuMicros / iterations).toFixed(2)} µs CPU, ${(wall / iterations).toFixed(2)} µs wall per request (${iterations} iterations)`,
  );
}

measure('prompt request', promptRequest);
measure('admin JSON request', adminRequest);
