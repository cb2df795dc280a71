/**
 * Measures what the WAF and the rate limiter add to a gateway call. Usage:
 *
 *   npx tsx bench/perimeter/overhead.ts [--rate 100] [--rounds 10] [--round-seconds 10]
 *     [--warmup 5] [--source head|worktree|COMMIT] [--redis] [--iterations 100000]
 *     [--idle-wait 30] [--allow-type-errors] [--help]
 *
 * It builds MindWeave once and starts the same build as separate server processes on one
 * fresh PostgreSQL database, next to the gateway bench's upstream (bench/gateway/upstream.ts):
 *
 * - `off`: WAF_MODE=off and every rate limit 0, so neither hook does any work;
 * - `on`: WAF_MODE=block at paranoia level 1, and the per-IP, per-key request and per-key
 *   token limits on with the in-memory store, set so high that no request is refused;
 * - `on, Redis` (with `--redis`): the same, with the counters in Redis on 127.0.0.1:6379.
 *
 * The servers take turns: each round runs every configuration once at a fixed rate (open
 * loop), in an order that rotates from round to round, so slow drifts of the shared machine
 * hit every configuration alike. It reports latency percentiles over all rounds, the median
 * of the per-round p50 differences, and the CPU time per request of each server process,
 * which depends less on other load than latency does. Finally it measures the WAF inspection
 * and the rate-limit calls of one gateway request in this process.
 */
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

import { databaseAdminUrlOption, parseBenchCommandLine } from '../command-line.js';
import { cpuUsageBetween, snapshotCpu, waitForIdleCpu } from '../gateway/cpu-usage.js';
import { percentile, runOpenLoop } from '../gateway/open-loop.js';
import {
  firstLine,
  freePort,
  startChild,
  stopChild,
  waitForHealthy,
  type Child,
} from '../gateway/processes.js';
import { BENCH_MODEL, requestBodies } from '../gateway/prompts.js';
import { bootstrapApiKey, createBenchDatabase, describeCommit } from '../gateway/setup.js';
import { buildSource } from '../waf/build.js';
import { measureInProcessCost } from './in-process-cost.js';

const repoRoot = resolve(import.meta.dirname, '../..');

const USAGE = `Usage: npx tsx bench/perimeter/overhead.ts [options]

Measures the latency and CPU time the WAF and the rate limiter add to a gateway call.

Options:
  --rate N                  requests per second sent to each server, 1 to 5000 (default: 100)
  --rounds N                rounds per configuration, 1 to 100 (default: 10)
  --round-seconds N         length of one round in seconds, 1 to 600 (default: 10)
  --warmup N                warm-up per server in seconds, 1 to 120 (default: 5)
  --source SOURCE           build head (default), worktree or a commit
  --redis                   add the configuration with the counters in Redis on 127.0.0.1:6379
  --iterations N            calls of the in-process measurement, 1 to 10000000 (default: 100000)
  --idle-wait N             max seconds to wait for an idle CPU before each round, 1 to 3600
                            (default: 30)
  --allow-type-errors       accept a build with type errors
  --database-admin-url URL  PostgreSQL admin URL for the fresh bench database
                            (default: $BENCH_DATABASE_ADMIN_URL or
                            postgres://postgres@127.0.0.1:5432/postgres)
  -h, --help                print this help and exit
`;

const { values } = parseBenchCommandLine(
  {
    help: { type: 'boolean', short: 'h', default: false },
    rate: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '10' },
    'round-seconds': { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
    source: { type: 'string', default: 'head' },
    redis: { type: 'boolean', default: false },
    'allow-type-errors': { type: 'boolean', default: false },
    iterations: { type: 'string', default: '100000' },
    'idle-wait': { type: 'string', default: '30' },
    'database-admin-url': databaseAdminUrlOption,
  },
  USAGE,
);

function positiveInteger(name: string, raw: string | undefined, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`invalid --${name} ${String(raw)}: expected a whole number from 1 to ${max}`);
  }
  return value;
}

const settings = {
  rate: positiveInteger('rate', values.rate, 5000),
  rounds: positiveInteger('rounds', values.rounds, 100),
  roundSeconds: positiveInteger('round-seconds', values['round-seconds'], 600),
  warmupSeconds: positiveInteger('warmup', values.warmup, 120),
  iterations: positiveInteger('iterations', values.iterations, 10_000_000),
  idleWaitSeconds: positiveInteger('idle-wait', values['idle-wait'], 3600),
  source: values.source,
};

const OPEN_LOOP_CONNECTIONS = 32;
const RESPONSE_TIMEOUT_MS = 10_000;
const STARTUP_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 30_000;
const IDLE_BUSY_CORES = 0.3;
const PROVIDER_KEY = 'sk-ant-bench-provider-0123456789';

/** Settings that switch the WAF and the limits off or on. */
const PERIMETER_OFF = {
  WAF_MODE: 'off',
  RATE_LIMIT_IP_MAX: '0',
  RATE_LIMIT_AUTH_MAX: '0',
  RATE_LIMIT_KEY_MAX: '0',
  RATE_LIMIT_KEY_TOKENS: '0',
};
// The IP, key and token limits get the maximum each setting accepts, far above what one run
// sends: each request counts 1 against the IP and key limits and 256 tokens at most against the
// token limit. The sign-in limit keeps its default, because the bench never signs in.
const PERIMETER_ON = {
  WAF_MODE: 'block',
  WAF_PARANOIA_LEVEL: '1',
  RATE_LIMIT_IP_MAX: '10000000',
  RATE_LIMIT_AUTH_MAX: '10',
  RATE_LIMIT_KEY_MAX: '10000000',
  RATE_LIMIT_KEY_TOKENS: '1000000000',
};

interface Variant {
  name: string;
  env: Record<string, string>;
}

interface Server {
  variant: Variant;
  child: Child;
  url: string;
}

interface RoundResult {
  latenciesMs: Float64Array;
  failed: number;
  failures: Map<string, number>;
  cpuUsPerRequest: number;
  otherCores: number;
}

const cleanups: Array<() => Promise<void>> = [];

async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()?.();
    } catch (error) {
      console.error('cleanup step failed:', error);
    }
  }
}

function log(message: string): void {
  process.stderr.write(`[overhead] ${message}\n`);
}

async function startUpstream(): Promise<string> {
  const upstream = startChild(
    'upstream',
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'bench/gateway/upstream.ts')],
    { cwd: repoRoot },
  );
  cleanups.push(() => stopChild(upstream, 5000));
  const line = await firstLine(upstream, STARTUP_TIMEOUT_MS);
  return (JSON.parse(line) as { url: string }).url;
}

async function startServer(
  buildDir: string,
  baseEnv: NodeJS.ProcessEnv,
  variant: Variant,
  logFile: string,
): Promise<Server> {
  const port = await freePort();
  const logFd = openSync(logFile, 'a');
  const child = startChild(
    `mindweave serve (${variant.name})`,
    process.execPath,
    ['bin/mindweave.js', 'serve'],
    {
      cwd: buildDir,
      env: { ...baseEnv, ...variant.env, PORT: String(port) },
      stdio: ['ignore', logFd, 'pipe'],
    },
  );
  closeSync(logFd);
  cleanups.push(() => stopChild(child, STOP_GRACE_MS));
  const url = `http://127.0.0.1:${port}`;
  await waitForHealthy(`${url}/healthz`, child, STARTUP_TIMEOUT_MS);
  return { variant, child, url };
}

async function checkGateway(server: Server, headers: Record<string, string>): Promise<void> {
  const response = await fetch(`${server.url}/v1/messages`, {
    method: 'POST',
    headers,
    body: requestBodies()[0] ?? '',
    signal: AbortSignal.timeout(RESPONSE_TIMEOUT_MS),
  });
  const text = await response.text();
  if (response.status !== 200 || !text.includes('benchmark upstream')) {
    throw new Error(
      `${server.variant.name}: gateway check failed: HTTP ${response.status}: ${text.slice(0, 300)}`,
    );
  }
  if (server.variant.env.WAF_MODE === 'block' && response.headers.get('ratelimit-limit') === null) {
    throw new Error(`${server.variant.name}: no RateLimit-Limit header, so the limits are off`);
  }
}

async function runRound(
  server: Server,
  headers: Record<string, string>,
  seconds: number,
): Promise<RoundResult> {
  const pid = server.child.process.pid ?? 0;
  const processes = new Map([['MindWeave', [pid]]]);
  const before = await snapshotCpu(processes);
  const result = await runOpenLoop({
    url: `${server.url}/v1/messages`,
    headers,
    bodies: requestBodies(),
    rate: settings.rate,
    durationMs: seconds * 1000,
    connections: OPEN_LOOP_CONNECTIONS,
    timeoutMs: RESPONSE_TIMEOUT_MS,
  });
  const after = await snapshotCpu(processes);
  const cpu = cpuUsageBetween(before, after, result.succeeded);
  return {
    latenciesMs: result.latenciesMs,
    failed: result.failed,
    failures: result.failures,
    cpuUsPerRequest: cpu.perRequestUs.get('MindWeave') ?? Number.NaN,
    otherCores: cpu.otherCores,
  };
}

function merge(arrays: readonly Float64Array[]): Float64Array {
  const total = arrays.reduce((sum, array) => sum + array.length, 0);
  const merged = new Float64Array(total);
  let offset = 0;
  for (const array of arrays) {
    merged.set(array, offset);
    offset += array.length;
  }
  return merged.sort();
}

function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  return percentile(Float64Array.from(sorted), 50);
}

function fixed(value: number, digits = 3): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function report(variants: readonly Variant[], results: Map<string, RoundResult[]>): string[] {
  const lines = [
    '| configuration | requests | failed | p50 ms | p90 ms | p99 ms | MindWeave CPU µs/request (median of rounds) | other processes, cores (mean) |',
    '| --- | --: | --: | --: | --: | --: | --: | --: |',
  ];
  const pooled = new Map<string, Float64Array>();
  for (const variant of variants) {
    const rounds = results.get(variant.name) ?? [];
    const all = merge(rounds.map((round) => round.latenciesMs));
    pooled.set(variant.name, all);
    const failed = rounds.reduce((sum, round) => sum + round.failed, 0);
    const cpu = median(rounds.map((round) => round.cpuUsPerRequest));
    const other = rounds.reduce((sum, round) => sum + round.otherCores, 0) / rounds.length;
    lines.push(
      `| ${variant.name} | ${all.length} | ${failed} | ${fixed(percentile(all, 50))} | ${fixed(percentile(all, 90))} | ${fixed(percentile(all, 99))} | ${fixed(cpu, 0)} | ${fixed(other, 2)} |`,
    );
  }

  const baseline = variants[0];
  if (baseline === undefined) return lines;
  const baseRounds = results.get(baseline.name) ?? [];
  const basePooled = pooled.get(baseline.name) ?? new Float64Array();
  lines.push(
    '',
    `Compared with \`${baseline.name}\`:`,
    '',
    '| configuration | added p50 ms (pooled) | added p50 ms (median of rounds) | added p99 ms (pooled) | p50 ratio | added CPU µs/request (median of rounds) |',
    '| --- | --: | --: | --: | --: | --: |',
  );
  for (const variant of variants.slice(1)) {
    const rounds = results.get(variant.name) ?? [];
    const all = pooled.get(variant.name) ?? new Float64Array();
    const p50Differences = rounds.map(
      (round, index) =>
        percentile(round.latenciesMs, 50) -
        percentile(baseRounds[index]?.latenciesMs ?? new Float64Array(), 50),
    );
    const cpuDifferences = rounds.map(
      (round, index) => round.cpuUsPerRequest - (baseRounds[index]?.cpuUsPerRequest ?? Number.NaN),
    );
    const basePercentile50 = percentile(basePooled, 50);
    lines.push(
      `| ${variant.name} | ${fixed(percentile(all, 50) - basePercentile50)} | ${fixed(median(p50Differences))} | ${fixed(percentile(all, 99) - percentile(basePooled, 99))} | ${fixed(percentile(all, 50) / basePercentile50, 2)} | ${fixed(median(cpuDifferences), 0)} |`,
    );
    lines.push(
      `|  per-round p50 differences, ms | ${p50Differences.map((value) => fixed(value)).join(', ')} | | | | |`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const workDir = await mkdtemp(join(tmpdir(), 'mindweave-overhead-'));
  cleanups.push(() => rm(workDir, { recursive: true, force: true }));
  const { dirty } = await describeCommit(repoRoot);
  const source = settings.source ?? 'head';
  log(`building MindWeave (${source})`);
  const { buildDir, commit, typeErrors } = await buildSource(
    repoRoot,
    workDir,
    source,
    values['allow-type-errors'] === true,
  );
  const upstreamUrl = await startUpstream();
  const database = await createBenchDatabase(values['database-admin-url'] ?? '');
  cleanups.push(() => database.drop());

  const baseEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    MINDWEAVE_DATA_DIR: join(workDir, 'data'),
    ANTHROPIC_BASE_URL: upstreamUrl,
    ANTHROPIC_API_KEY: PROVIDER_KEY,
    LOG_LEVEL: 'warn',
  };
  const apiKey = await bootstrapApiKey(buildDir, baseEnv, BENCH_MODEL);
  const headers = {
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
    'user-agent': 'mindweave-bench/1.0',
    'x-api-key': apiKey,
  };

  const variants: Variant[] = [
    { name: 'off', env: PERIMETER_OFF },
    { name: 'on', env: PERIMETER_ON },
  ];
  if (values.redis) {
    variants.push({
      name: 'on, Redis',
      env: {
        ...PERIMETER_ON,
        REDIS_URL: 'redis://127.0.0.1:6379',
        RATE_LIMIT_REDIS_PREFIX: `mindweave:bench:${Date.now()}:`,
      },
    });
  }
  const servers: Server[] = [];
  for (const variant of variants) {
    const logFile = join(workDir, `mindweave-${servers.length}.log`);
    const server = await startServer(buildDir, baseEnv, variant, logFile);
    await checkGateway(server, headers);
    servers.push(server);
  }

  for (const server of servers) {
    log(`${server.variant.name}: warm-up ${settings.warmupSeconds} s at ${settings.rate} req/s`);
    await runRound(server, headers, settings.warmupSeconds);
  }
  const results = new Map<string, RoundResult[]>(variants.map((variant) => [variant.name, []]));
  const loadBefore = loadavg()[0] ?? 0;
  for (let round = 0; round < settings.rounds; round++) {
    const busy = await waitForIdleCpu(IDLE_BUSY_CORES, settings.idleWaitSeconds * 1000);
    for (let step = 0; step < servers.length; step++) {
      const server = servers[(round + step) % servers.length] as Server;
      const result = await runRound(server, headers, settings.roundSeconds);
      results.get(server.variant.name)?.push(result);
      log(
        `round ${round + 1}/${settings.rounds} ${server.variant.name}: p50 ${fixed(percentile(result.latenciesMs, 50))} ms, ` +
          `${fixed(result.cpuUsPerRequest, 0)} µs CPU/request, ${result.failed} failed, busy before ${fixed(busy, 2)} cores`,
      );
    }
  }
  const loadAfter = loadavg()[0] ?? 0;
  for (const [name, rounds] of results) {
    for (const round of rounds) {
      for (const [reason, count] of round.failures) log(`${name}: ${count} × ${reason}`);
    }
  }

  log(`in-process cost, ${settings.iterations} iterations`);
  const cost = await measureInProcessCost(settings.iterations);

  const output = [
    `# Perimeter overhead, commit ${commit}${source === 'worktree' && dirty ? ' plus uncommitted changes' : ''}`,
    '',
    `CPU: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}, memory ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}, PostgreSQL ${database.serverVersion}`,
    ...typeErrors.map((line) => `Type error accepted in the build: ${line}`),
    `Load average (1 min) ${fixed(loadBefore, 2)} before the rounds and ${fixed(loadAfter, 2)} after`,
    `${settings.rounds} rounds of ${settings.roundSeconds} s per configuration at ${settings.rate} req/s, ${OPEN_LOOP_CONNECTIONS} keep-alive connections at most`,
    '',
    ...report(variants, results),
    '',
    `In-process cost per gateway request (${cost.iterations} calls, this process):`,
    '',
    '| work | CPU µs | wall µs |',
    '| --- | --: | --: |',
    `| WAF inspect (paranoia level 1, prompt body skipped) | ${fixed(cost.waf.cpuUs, 2)} | ${fixed(cost.waf.wallUs, 2)} |`,
    `| rate limits, memory store (IP, key requests, token reserve and settle) | ${fixed(cost.rateLimit.cpuUs, 2)} | ${fixed(cost.rateLimit.wallUs, 2)} |`,
  ];
  process.stdout.write(`${output.join('\n')}\n`);
}

let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) return;
  interrupted = true;
  log(`${signal} received; stopping processes and dropping the database`);
  void cleanUp().finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

main()
  .catch((error: unknown) => {
    console.error('perimeter overhead benchmark failed:', error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanUp();
  });
