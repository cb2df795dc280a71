/**
 * Measures the latency and throughput MindWeave adds in front of a provider. Usage:
 *
 *   npx tsx bench/gateway/run.ts [--rate 1000] [--duration 20] [--warmup 5]
 *     [--max-connections 50] [--max-duration 20] [--log-levels warn,info]
 *     [--source head|worktree] [--baseline COMMIT] [--profile] [--profile-dir DIR]
 *     [--idle-wait 120] [--node-options="--max-semi-space-size=32"]
 *
 * It starts a minimal Anthropic upstream (upstream.ts) in its own process. It builds
 * MindWeave and runs `node bin/mindweave.js serve` in another process on a fresh PostgreSQL
 * database. This process then loads the upstream directly and through MindWeave, first at a
 * fixed rate (open loop, open-loop.ts), then with a fixed number of connections (closed loop,
 * autocannon). `--baseline` also builds an older commit and measures it at the fixed rate right
 * before the build under test, for a comparison under the same load. Every address is on 127.0.0.1. The processes, the database and the temporary
 * folder are removed at the end, also after a failure or Ctrl-C. `--profile` adds a run with
 * `node --cpu-prof` on MindWeave and prints where its time went. `--profile-dir` implies
 * `--profile` and copies the `.cpuprofile` files of every thread into DIR, for a closer look in
 * Chrome DevTools. `--node-options` passes Node.js options to the build under test only, so a
 * run with `--baseline` compares a runtime setting against the same or an older build.
 */
import { closeSync, openSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

import { databaseAdminUrlOption, parseBenchCommandLine } from '../command-line.js';
import { runClosedLoop, type ClosedLoopResult } from './closed-loop.js';
import { formatProfileSummary, summarizeCpuProfile } from './cpu-profile.js';
import { cpuUsageBetween, snapshotCpu, waitForIdleCpu, type CpuSource } from './cpu-usage.js';
import { runOpenLoop, type OpenLoopResult } from './open-loop.js';
import {
  firstLine,
  freePort,
  startChild,
  stopChild,
  waitForHealthy,
  type Child,
} from './processes.js';
import { BENCH_MODEL, requestBodies } from './prompts.js';
import {
  addedLatencyTable,
  closedLoopTable,
  cpuTable,
  openLoopTable,
  type Measurement,
} from './report.js';
import {
  backendPids,
  bootstrapApiKey,
  countRecordedCalls,
  createBenchDatabase,
  describeCommit,
  prepareBuild,
  type BenchDatabase,
} from './setup.js';

const repoRoot = resolve(import.meta.dirname, '../..');

const USAGE = `Usage: npx tsx bench/gateway/run.ts [--rate 1000] [--duration 20] [--warmup 5]
  [--max-connections 50] [--max-duration 20] [--log-levels warn,info]
  [--source head|worktree] [--baseline COMMIT] [--profile] [--profile-dir DIR]
  [--idle-wait 120] [--node-options="--max-semi-space-size=32"] [--database-admin-url URL]

Measures the latency and throughput MindWeave adds in front of a provider. The comment at the
top of bench/gateway/run.ts describes each option.
`;

const { values } = parseBenchCommandLine(
  {
    help: { type: 'boolean', short: 'h', default: false },
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    'max-connections': { type: 'string', default: '50' },
    'max-duration': { type: 'string', default: '20' },
    'log-levels': { type: 'string', default: 'warn,info' },
    source: { type: 'string', default: 'head' },
    baseline: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'profile-dir': { type: 'string' },
    'idle-wait': { type: 'string', default: '120' },
    'node-options': { type: 'string', default: '' },
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
  rate: positiveInteger('rate', values.rate, 20_000),
  durationSeconds: positiveInteger('duration', values.duration, 600),
  warmupSeconds: positiveInteger('warmup', values.warmup, 120),
  maxConnections: positiveInteger('max-connections', values['max-connections'], 1000),
  maxDurationSeconds: positiveInteger('max-duration', values['max-duration'], 600),
  logLevels: (values['log-levels'] ?? '').split(',').filter((level) => level !== ''),
  source: values.source,
  baseline: values.baseline,
  profile: values.profile === true || values['profile-dir'] !== undefined,
  profileDir: values['profile-dir'] === undefined ? undefined : resolve(values['profile-dir']),
  idleWaitSeconds: positiveInteger('idle-wait', values['idle-wait'], 3600),
  nodeOptions: (values['node-options'] ?? '').split(' ').filter((option) => option !== ''),
};
if (settings.baseline !== undefined && !/^[0-9a-f]{7,40}$/.test(settings.baseline)) {
  throw new Error(`invalid --baseline ${settings.baseline}: expected a commit id in hex`);
}
if (settings.source !== 'head' && settings.source !== 'worktree') {
  throw new Error(`invalid --source ${String(settings.source)}: expected head or worktree`);
}
for (const level of settings.logLevels) {
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
    throw new Error(`invalid --log-levels entry ${level}: expected a pino level such as warn`);
  }
}

/** Keep-alive connections of the open-loop client, far more than 1,000 req/s of ~1 ms calls need. */
const OPEN_LOOP_CONNECTIONS = 64;
const RESPONSE_TIMEOUT_MS = 10_000;
/**
 * Before each run the benchmark waits up to `--idle-wait` seconds for the machine's busy CPU to
 * fall to IDLE_BUSY_CORES, because other work on the same cores shifts every percentile.
 */
const IDLE_BUSY_CORES = 0.3;
const STARTUP_TIMEOUT_MS = 30_000;
/** Longer than MindWeave's default SHUTDOWN_GRACE_MS of 25 s, so it can flush call records. */
const STOP_GRACE_MS = 30_000;
/** Dummy provider key: the benchmark upstream accepts any key. */
const PROVIDER_KEY = 'sk-ant-bench-provider-0123456789';

const cleanups: Array<() => Promise<void>> = [];

async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    const step = cleanups.pop();
    try {
      await step?.();
    } catch (error) {
      console.error('cleanup step failed:', error);
    }
  }
}

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

async function measure(
  target: string,
  url: string,
  headers: Record<string, string>,
  processes: () => Promise<ReadonlyMap<string, readonly number[]>>,
  withClosedLoop: boolean,
  threads: ReadonlyMap<string, CpuSource> = new Map(),
): Promise<Measurement> {
  const bodies = requestBodies();
  const openLoop = (durationSeconds: number): Promise<OpenLoopResult> =>
    runOpenLoop({
      url,
      headers,
      bodies,
      rate: settings.rate,
      durationMs: durationSeconds * 1000,
      connections: OPEN_LOOP_CONNECTIONS,
      timeoutMs: RESPONSE_TIMEOUT_MS,
    });

  const idleBusyCores = await waitForIdleCpu(IDLE_BUSY_CORES, settings.idleWaitSeconds * 1000);
  if (idleBusyCores > IDLE_BUSY_CORES) {
    log(`${target}: machine still busy (${idleBusyCores.toFixed(2)} cores); starting anyway`);
  }
  log(`${target}: warm-up ${settings.warmupSeconds} s at ${settings.rate} req/s`);
  await openLoop(settings.warmupSeconds);
  log(`${target}: open loop ${settings.durationSeconds} s at ${settings.rate} req/s`);
  const measuredProcesses = await processes();
  const cpuBefore = await snapshotCpu(measuredProcesses, threads);
  const result = await openLoop(settings.durationSeconds);
  const cpuAfter = await snapshotCpu(measuredProcesses, threads);
  const cpu = cpuUsageBetween(cpuBefore, cpuAfter, result.succeeded);

  let closedLoop: ClosedLoopResult | null = null;
  if (withClosedLoop) {
    log(`${target}: closed loop ${settings.maxDurationSeconds} s, ${settings.maxConnections} conn`);
    closedLoop = await runClosedLoop({
      url,
      headers,
      body: bodies[0] ?? '',
      connections: settings.maxConnections,
      durationSeconds: settings.maxDurationSeconds,
    });
  }
  return { target, openLoop: result, closedLoop, cpu, idleBusyCores };
}

async function startUpstream(): Promise<{ url: string; pid: number }> {
  const upstream = startChild(
    'upstream',
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'bench/gateway/upstream.ts')],
    { cwd: repoRoot },
  );
  cleanups.push(() => stopChild(upstream, 5000));
  const line = await firstLine(upstream, STARTUP_TIMEOUT_MS);
  return { url: (JSON.parse(line) as { url: string }).url, pid: upstream.process.pid ?? 0 };
}

interface GatewayRun {
  child: Child;
  url: string;
  stop(): Promise<void>;
}

async function startGateway(
  buildDir: string,
  env: NodeJS.ProcessEnv,
  logFile: string,
  nodeOptions: string[],
): Promise<GatewayRun> {
  const port = await freePort();
  const logFd = openSync(logFile, 'a');
  const child = startChild(
    `mindweave serve (LOG_LEVEL=${String(env.LOG_LEVEL)})`,
    process.execPath,
    [...nodeOptions, 'bin/mindweave.js', 'serve'],
    { cwd: buildDir, env: { ...env, PORT: String(port) }, stdio: ['ignore', logFd, 'pipe'] },
  );
  closeSync(logFd);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopChild(child, STOP_GRACE_MS);
  };
  cleanups.push(stop);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealthy(`${url}/healthz`, child, STARTUP_TIMEOUT_MS);
  return { child, url, stop };
}

/** Sends one request through the gateway and fails unless the upstream's response comes back. */
async function checkGateway(url: string, headers: Record<string, string>): Promise<void> {
  const response = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers,
    body: requestBodies()[0] ?? '',
    signal: AbortSignal.timeout(RESPONSE_TIMEOUT_MS),
  });
  const text = await response.text();
  if (response.status !== 200 || !text.includes('benchmark upstream')) {
    throw new Error(`gateway check failed: HTTP ${response.status}: ${text.slice(0, 500)}`);
  }
}

async function countErrorLines(logFile: string): Promise<number> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  // pino levels: 50 is error, 60 is fatal.
  return text.split('\n').filter((line) => /"level":(50|60)\b/.test(line)).length;
}

function machineDescription(postgresVersion: string): string {
  const cpuModel = cpus()[0]?.model ?? 'unknown';
  return [
    `CPU: ${cpus().length} × ${cpuModel}, memory ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `Node.js ${process.version}, PostgreSQL ${postgresVersion}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const workDir = await mkdtemp(join(tmpdir(), 'mindweave-bench-'));
  cleanups.push(() => rm(workDir, { recursive: true, force: true }));

  const { commit, dirty } = await describeCommit(repoRoot);
  log(`building MindWeave (${settings.source === 'head' ? `commit ${commit}` : 'working tree'})`);
  const buildDir = await prepareBuild(repoRoot, workDir, settings.source as 'head' | 'worktree');
  let baselineDir: string | null = null;
  if (settings.baseline !== undefined) {
    log(`building the baseline, commit ${settings.baseline}`);
    baselineDir = await prepareBuild(repoRoot, workDir, { commit: settings.baseline });
  }

  const upstream = await startUpstream();
  const upstreamUrl = upstream.url;
  log(`upstream listening on ${upstreamUrl}`);

  // Each build gets a database and data folder of its own, because an older build refuses a
  // schema that a newer one migrated.
  const prepareInstance = async (dir: string, name: string) => {
    const database: BenchDatabase = await createBenchDatabase(
      values['database-admin-url'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    );
    cleanups.push(() => database.drop());
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: '127.0.0.1',
      DATABASE_URL: database.url,
      MINDWEAVE_DATA_DIR: join(workDir, `data-${name}`),
      ANTHROPIC_BASE_URL: upstreamUrl,
      ANTHROPIC_API_KEY: PROVIDER_KEY,
      LOG_LEVEL: 'warn',
      // All load comes from one address and one key, so the per-IP and per-key limits, which
      // would answer 429 within a second at this rate, are switched off; the WAF stays on.
      RATE_LIMIT_IP_MAX: '0',
      RATE_LIMIT_KEY_MAX: '0',
      RATE_LIMIT_KEY_TOKENS: '0',
    };
    const apiKey = await bootstrapApiKey(dir, env, BENCH_MODEL);
    return { database, env, apiKey };
  };
  const instance = await prepareInstance(buildDir, 'current');
  const { database, apiKey } = instance;
  const baseEnv = instance.env;
  const baseline = baselineDir === null ? null : await prepareInstance(baselineDir, 'baseline');

  const requestHeaders = {
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
    'user-agent': 'mindweave-bench/1.0',
  };
  const direct = await measure(
    'upstream directly',
    `${upstreamUrl}/v1/messages`,
    { ...requestHeaders, 'x-api-key': PROVIDER_KEY },
    async () => new Map([['upstream', [upstream.pid]]]),
    true,
  );
  const gatewayHeaders = { ...requestHeaders, 'x-api-key': apiKey };

  const gatewayProcesses =
    (gateway: GatewayRun, databaseUrl = database.url) =>
    async () =>
      new Map([
        ['MindWeave', [gateway.child.process.pid ?? 0]],
        ['upstream', [upstream.pid]],
        ['PostgreSQL', await backendPids(databaseUrl)],
      ]);
  // The main thread runs every request, so its CPU time is what delays them; the worker threads
  // (call-record audit chaining, libuv's pool) count only in the process total.
  const mainThread = (gateway: GatewayRun) => {
    const pid = gateway.child.process.pid ?? 0;
    return new Map([['MindWeave main thread', { pid, tid: pid }]]);
  };
  const throughGateway: Measurement[] = [];
  const notes: string[] = [];
  for (const level of settings.logLevels) {
    // The baseline runs right before the build under test, so both see nearly the same load from
    // the rest of the machine.
    if (baselineDir !== null && baseline !== null) {
      const logFile = join(workDir, `baseline-${level}.log`);
      const env = { ...baseline.env, LOG_LEVEL: level };
      const headers = { ...requestHeaders, 'x-api-key': baseline.apiKey };
      const gateway = await startGateway(baselineDir, env, logFile, []);
      await checkGateway(gateway.url, headers);
      throughGateway.push(
        await measure(
          `MindWeave ${String(settings.baseline)}, LOG_LEVEL=${level}`,
          `${gateway.url}/v1/messages`,
          headers,
          gatewayProcesses(gateway, baseline.database.url),
          false,
          mainThread(gateway),
        ),
      );
      await gateway.stop();
    }
    const logFile = join(workDir, `mindweave-${level}.log`);
    const gateway = await startGateway(
      buildDir,
      { ...baseEnv, LOG_LEVEL: level },
      logFile,
      settings.nodeOptions,
    );
    await checkGateway(gateway.url, gatewayHeaders);
    const before = await countRecordedCalls(database.url);
    throughGateway.push(
      await measure(
        `MindWeave, LOG_LEVEL=${level}${settings.nodeOptions.length > 0 ? `, ${settings.nodeOptions.join(' ')}` : ''}`,
        `${gateway.url}/v1/messages`,
        gatewayHeaders,
        gatewayProcesses(gateway),
        true,
        mainThread(gateway),
      ),
    );
    await gateway.stop();
    const recorded = (await countRecordedCalls(database.url)) - before;
    const errors = await countErrorLines(logFile);
    notes.push(`LOG_LEVEL=${level}: ${recorded} calls recorded, ${errors} error log lines`);
  }

  let profileText = '';
  if (settings.profile) {
    const profileDir = join(workDir, 'profile');
    const logFile = join(workDir, 'mindweave-profile.log');
    const gateway = await startGateway(buildDir, baseEnv, logFile, [
      '--cpu-prof',
      `--cpu-prof-dir=${profileDir}`,
    ]);
    const profiled = await measure(
      'MindWeave, LOG_LEVEL=warn, --cpu-prof',
      `${gateway.url}/v1/messages`,
      gatewayHeaders,
      gatewayProcesses(gateway),
      false,
      mainThread(gateway),
    );
    await gateway.stop();
    // Worker threads write profiles of their own. V8 names each file
    // CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile, and the main thread's id is 0.
    const files = (await readdir(profileDir)).filter((name) => name.endsWith('.cpuprofile'));
    const first = files.find((name) => name.split('.')[4] === '0') ?? files[0];
    if (first === undefined) throw new Error(`no .cpuprofile was written to ${profileDir}`);
    const summary = await summarizeCpuProfile(join(profileDir, first), buildDir, 20);
    if (settings.profileDir !== undefined) {
      await cp(profileDir, settings.profileDir, { recursive: true });
      log(`CPU profiles copied to ${settings.profileDir}`);
    }
    profileText = [
      '## CPU profile of MindWeave (LOG_LEVEL=warn)',
      '',
      openLoopTable([profiled], settings.rate),
      '',
      '```',
      formatProfileSummary(summary),
      '```',
    ].join('\n');
  }

  const rows = [direct, ...throughGateway];
  const output = [
    `# Gateway benchmark, commit ${commit}${settings.source === 'worktree' && dirty ? ' plus uncommitted changes' : ''}`,
    '',
    machineDescription(database.serverVersion),
    `Open loop: ${settings.rate} req/s for ${settings.durationSeconds} s after ${settings.warmupSeconds} s warm-up, ${OPEN_LOOP_CONNECTIONS} keep-alive connections at most`,
    `Closed loop: autocannon, ${settings.maxConnections} connections for ${settings.maxDurationSeconds} s`,
    '',
    openLoopTable(rows, settings.rate),
    '',
    addedLatencyTable(direct, throughGateway),
    '',
    closedLoopTable(rows, settings.maxConnections),
    '',
    cpuTable(rows),
    '',
    ...notes,
    '',
    profileText,
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
    console.error('gateway benchmark failed:', error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanUp();
  });
