/**
 * Identity benchmark: admin sign-in latency with the argon2id parameters in use, and gateway
 * API-key verifications per second with and without the per-process grant cache.
 *
 *   npx tsx bench/identity/login.ts [--logins 200] [--seconds 5]
 *
 * Needs PostgreSQL on 127.0.0.1:5432 (BENCH_DATABASE_ADMIN_URL to change it). Creates and drops
 * its own database. The server runs in this process, so the client and server share one event
 * loop. Each request is sent after the previous response, one at a time.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';

import { loadConfig } from '../../src/config/load-config.js';
import { APPLICATION_ROLE } from '../../src/data/database/open-database.js';
import { openPostgresDatabase } from '../../src/data/database/postgres-database.js';
import { ApiKeyAuthenticator } from '../../src/gateway/auth/api-key-authenticator.js';
import { createLogger } from '../../src/monitoring/logging/logger.js';
import { startServer } from '../../src/server/start-server.js';
import { bootstrap } from '../../src/tenancy/bootstrap.service.js';
import { ARGON2_OPTIONS, hashPassword, verifyPassword } from '../../src/tenancy/users/password.js';
import { describeEnvironment, withBenchDatabase } from '../audit/bench-database.js';

const { values: args } = parseArgs({
  options: {
    logins: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '5' },
  },
});
const LOGINS = Number(args.logins);
const SECONDS = Number(args.seconds);
const WARMUP = 20;
const ROUNDS = 3;

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

interface LatencyStats {
  name: string;
  p50: number;
  p99: number;
  mean: number;
}

async function measureLatency(
  name: string,
  count: number,
  run: () => Promise<void>,
): Promise<LatencyStats> {
  for (let i = 0; i < WARMUP; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    await run();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const mean = samples.reduce((sum, value) => sum + value, 0) / samples.length;
  return { name, p50: percentile(samples, 50), p99: percentile(samples, 99), mean };
}

/** Runs `run` with `inFlight` concurrent loops for `seconds` and returns calls per second. */
async function measureRate(seconds: number, inFlight: number, run: () => Promise<unknown>) {
  const deadline = performance.now() + 500;
  while (performance.now() < deadline) await run();
  let calls = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await run();
        calls += 1;
      }
    }),
  );
  return calls / ((performance.now() - start) / 1000);
}

async function postJson(url: string, body: unknown): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'mindweave-bench' },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

async function benchLogin(databaseUrl: string) {
  const owner = await openPostgresDatabase(databaseUrl, { poolSize: 2 });
  const boot = await bootstrap(owner, {
    orgName: 'Bench',
    projectSlug: 'bench',
    adminEmail: 'bench-owner@example.com',
    adminName: 'Bench Owner',
    allowedModels: ['claude-sonnet-4-5'],
  });
  await owner.close();

  const dataDir = await mkdtemp(join(tmpdir(), 'mindweave-bench-identity-'));
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    MINDWEAVE_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_IP_MAX: '0',
    RATE_LIMIT_AUTH_MAX: '0',
    LOGIN_LOCKOUT_ACCOUNT_FAILURES: '1000',
    LOGIN_LOCKOUT_IP_FAILURES: '10000',
  });
  const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const server = await startServer(config, createLogger('warn', discard));
  try {
    const health = await measureLatency('GET /healthz (baseline)', LOGINS, async () => {
      const response = await fetch(`${server.url}/healthz`, {
        headers: { 'user-agent': 'mindweave-bench' },
      });
      await response.arrayBuffer();
    });
    const known = await measureLatency('login, right password', LOGINS, async () => {
      const status = await postJson(`${server.url}/api/v1/auth/login`, {
        email: boot.adminEmail,
        password: boot.adminPassword,
      });
      if (status !== 200) throw new Error(`login returned ${status}`);
    });
    const wrong = await measureLatency('login, wrong password', LOGINS, async () => {
      const status = await postJson(`${server.url}/api/v1/auth/login`, {
        email: boot.adminEmail,
        password: 'Wrong-Password-For-Bench-1',
      });
      if (status !== 401) throw new Error(`wrong-password login returned ${status}`);
    });
    const unknown = await measureLatency('login, unknown email', LOGINS, async () => {
      const status = await postJson(`${server.url}/api/v1/auth/login`, {
        email: 'nobody@example.com',
        password: 'Wrong-Password-For-Bench-1',
      });
      if (status !== 401) throw new Error(`unknown-email login returned ${status}`);
    });
    const phc = await hashPassword(boot.adminPassword);
    const argon = await measureLatency('argon2id verify alone', LOGINS, async () => {
      if (!(await verifyPassword(phc, boot.adminPassword)))
        throw new Error('argon2id verification of the right password failed');
    });
    return { boot, rows: [health, known, wrong, unknown, argon] };
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function benchApiKeys(databaseUrl: string, apiKey: string) {
  const db = await openPostgresDatabase(databaseUrl, { role: APPLICATION_ROLE, poolSize: 10 });
  try {
    const cached = new ApiKeyAuthenticator(db, { cacheTtlMs: 60 * 60 * 1000 });
    const uncached = new ApiKeyAuthenticator(db, { cacheTtlMs: 0 });
    const check = async (authenticator: ApiKeyAuthenticator) => {
      const result = await authenticator.verify(apiKey);
      if (!result.ok) throw new Error(`key rejected: ${result.reason}`);
    };
    const sha256 = async () => createHash('sha256').update(apiKey, 'utf8').digest();
    const cases = [
      { name: 'SHA-256 of the key (baseline)', inFlight: 1, run: sha256 },
      ...[1, 16].flatMap((inFlight) => [
        { name: 'verify, cached grant', inFlight, run: () => check(cached) },
        { name: 'verify, uncached (database lookup)', inFlight, run: () => check(uncached) },
      ]),
    ];
    // Each case runs once per round, in turn, and the median round is reported, so that a
    // burst of other load on the machine does not decide one row alone.
    const rates = cases.map(() => [] as number[]);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, benchCase] of cases.entries()) {
        rates[index]?.push(await measureRate(SECONDS, benchCase.inFlight, benchCase.run));
      }
    }
    const rows = cases.map((benchCase, index) => {
      const sorted = (rates[index] ?? []).sort((a, b) => a - b);
      return {
        name: benchCase.name,
        inFlight: benchCase.inFlight,
        perSecond: sorted[Math.floor(sorted.length / 2)] ?? 0,
      };
    });
    return rows;
  } finally {
    await db.close();
  }
}

await withBenchDatabase(async (database) => {
  const environment = await describeEnvironment(database.url);
  const login = await benchLogin(database.url);
  const keys = await benchApiKeys(database.url, login.boot.apiKey);

  console.log('## Environment');
  for (const [name, value] of Object.entries(environment)) console.log(`- ${name}: ${value}`);
  console.log(
    `- argon2id: ${ARGON2_OPTIONS.memoryCost} KiB, ${ARGON2_OPTIONS.timeCost} passes, ` +
      `${ARGON2_OPTIONS.parallelism} lane`,
  );
  console.log(`- ${LOGINS} timed requests per row after ${WARMUP} warm-up requests`);

  const baseline = login.rows[0] as LatencyStats;
  console.log('\n| sequential requests | p50 ms | p99 ms | mean ms | p50 / baseline p50 |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const row of login.rows) {
    console.log(
      `| ${row.name} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} | ${row.mean.toFixed(1)} | ` +
        `${(row.p50 / baseline.p50).toFixed(1)} |`,
    );
  }

  const hashRate = keys[0]?.perSecond ?? 1;
  console.log(
    `\n| API-key check (median of ${ROUNDS} rounds of ${SECONDS} s) | in flight | per second | / SHA-256 rate |`,
  );
  console.log('| --- | ---: | ---: | ---: |');
  for (const row of keys) {
    console.log(
      `| ${row.name} | ${row.inFlight} | ${Math.round(row.perSecond).toLocaleString('en-US')} | ` +
        `${(row.perSecond / hashRate).toFixed(3)} |`,
    );
  }
});
