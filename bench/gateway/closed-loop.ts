import { createRequire } from 'node:module';

import { runCommand } from './processes.js';

/** Summary of one autocannon run; latencies are in milliseconds. */
export interface ClosedLoopResult {
  requests: number;
  non2xx: number;
  errors: number;
  throughput: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

const autocannonCli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/**
 * Runs autocannon in its own process with a fixed number of connections, each sending its
 * next request as soon as the previous response arrives (a closed loop), to find the maximum
 * throughput. Autocannon records latency at 1 ms resolution.
 */
export async function runClosedLoop(options: {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  durationSeconds: number;
}): Promise<ClosedLoopResult> {
  const headerArgs = Object.entries(options.headers).flatMap(([name, value]) => [
    '-H',
    `${name}=${value}`,
  ]);
  const args = [
    autocannonCli,
    '--json',
    '-c',
    String(options.connections),
    '-d',
    String(options.durationSeconds),
    '-m',
    'POST',
    ...headerArgs,
    '-b',
    options.body,
    options.url,
  ];
  const stdout = await runCommand('autocannon', process.execPath, args, {
    timeoutMs: (options.durationSeconds + 30) * 1000,
  });
  const lastLine = stdout.trim().split('\n').at(-1) ?? '';
  const parsed = JSON.parse(lastLine) as AutocannonJson;
  return {
    requests: parsed.requests.total,
    non2xx: parsed.non2xx,
    errors: parsed.errors + parsed.timeouts,
    throughput: parsed.requests.average,
    p50: parsed.latency.p50,
    p90: parsed.latency.p90,
    p99: parsed.latency.p99,
    max: parsed.latency.max,
  };
}
