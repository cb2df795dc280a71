import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { ensureBuilt, killRunningProcesses, runCli } from './cli-process.js';

let database: TestDatabase;
let dataDir: string;
let env: Record<string, string>;

const PERIOD = ['--since', '2026-11-01', '--until', '2026-11-08T00:00:00Z'];

// [occurred_at, kind, source, client IP, rule ids]
const EVENTS: Array<[string, string, string, string, string[]]> = [
  ['2026-11-01T00:00:00Z', 'perimeter_block', 'waf', '203.0.113.5', ['942100']],
  ['2026-11-02T10:00:00Z', 'perimeter_block', 'waf', '203.0.113.5', ['942100', '941100']],
  ['2026-11-03T10:00:00Z', 'perimeter_block', 'waf', '203.0.113.5', ['942100']],
  ['2026-11-03T11:00:00Z', 'perimeter_block', 'waf', '203.0.113.6', ['941100']],
  ['2026-11-04T10:00:00Z', 'perimeter_block', 'rate_limit', '203.0.113.5', ['rate_limit:ip']],
  ['2026-11-04T10:00:01Z', 'perimeter_block', 'rate_limit', '203.0.113.5', ['rate_limit:ip']],
  [
    '2026-11-07T23:59:59Z',
    'perimeter_block',
    'request_limit',
    '198.51.100.9',
    ['request_limit:user_agent'],
  ],
  ['2026-11-04T10:00:02Z', 'block_burst', 'rate_limit', '203.0.113.5', ['rate_limit:ip']],
  ['2026-11-05T10:00:00Z', 'login_failed', 'auth', '203.0.113.5', ['login:wrong_password']],
  // Outside the period: the day before, and the end of the period, which is excluded.
  ['2026-10-31T23:59:59Z', 'perimeter_block', 'waf', '203.0.113.5', ['942100']],
  ['2026-11-08T00:00:00Z', 'perimeter_block', 'waf', '203.0.113.5', ['942100']],
];

beforeAll(async () => {
  await ensureBuilt();
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'mindweave-waf-cli-'));
  env = { DATABASE_URL: database.url, MINDWEAVE_DATA_DIR: dataDir };
  expect((await runCli(['migrate'], env)).code).toBe(0);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    for (const [occurredAt, kind, source, clientIp, ruleIds] of EVENTS) {
      await client.query(
        `INSERT INTO security_events (occurred_at, kind, severity, source, client_ip, rule_ids)
         VALUES ($1, $2, 'medium', $3, $4, $5)`,
        [occurredAt, kind, source, clientIp, ruleIds],
      );
    }
  } finally {
    await client.end();
  }
}, 180_000);

afterAll(async () => {
  killRunningProcesses();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('mindweave waf report', () => {
  it('prints the counts as JSON', async () => {
    const result = await runCli(['waf', 'report', ...PERIOD, '--json'], env);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      since: '2026-11-01T00:00:00.000Z',
      until: '2026-11-08T00:00:00.000Z',
      blockedRequests: 7,
      bursts: 1,
      sources: [
        { source: 'waf', blocks: 4 },
        { source: 'rate_limit', blocks: 2 },
        { source: 'request_limit', blocks: 1 },
      ],
      rules: [
        { ruleId: '942100', source: 'waf', hits: 3, clientIps: 1 },
        { ruleId: '941100', source: 'waf', hits: 2, clientIps: 2 },
        { ruleId: 'rate_limit:ip', source: 'rate_limit', hits: 2, clientIps: 1 },
        { ruleId: 'request_limit:user_agent', source: 'request_limit', hits: 1, clientIps: 1 },
      ],
      topClientIps: [
        { clientIp: '203.0.113.5', blocks: 5 },
        { clientIp: '198.51.100.9', blocks: 1 },
        { clientIp: '203.0.113.6', blocks: 1 },
      ],
    });
  });

  it('lists only --top client IPs', async () => {
    const result = await runCli(['waf', 'report', ...PERIOD, '--top', '1', '--json'], env);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { topClientIps: unknown[] };
    expect(report.topClientIps).toEqual([{ clientIp: '203.0.113.5', blocks: 5 }]);
  });

  it('prints the counts as text', async () => {
    const result = await runCli(['waf', 'report', ...PERIOD], env);
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n').map((line) => line.trim().split(/\s+/).join(' '));
    expect(lines[0]).toBe('WAF report from 2026-11-01T00:00:00.000Z to 2026-11-08T00:00:00.000Z');
    expect(lines).toContain('blocked requests: 7, bursts: 1');
    expect(lines).toContain('waf 4');
    expect(lines).toContain('rate_limit 2');
    expect(lines).toContain('942100 waf 3 1');
    expect(lines).toContain('941100 waf 2 2');
    expect(lines).toContain('request_limit:user_agent request_limit 1 1');
    expect(lines).toContain('203.0.113.5 5');
  });

  it('reports an empty period', async () => {
    const result = await runCli(
      ['waf', 'report', '--since', '2020-01-01', '--until', '2020-02-01'],
      env,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('blocked requests: 0, bursts: 0');
    expect(result.stdout).toContain('no blocked requests in this period');
  });

  it('accepts a duration for --since', async () => {
    const result = await runCli(['waf', 'report', '--since', '30d', '--json'], env);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { since: string; until: string };
    const days = (Date.parse(report.until) - Date.parse(report.since)) / 86_400_000;
    expect(days).toBe(30);
  });

  it('prints help', async () => {
    const result = await runCli(['waf', 'report', '--help'], env);
    expect(result.code).toBe(0);
    for (const option of ['--since <when>', '--until <when>', '--top <count>', '--json']) {
      expect(result.stdout).toContain(option);
    }
  });
});

describe('mindweave waf report with bad arguments', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown --since', ['--since', 'yesterday'], /--since <when>.*invalid.*duration/s],
    ['an hour without offset', ['--since', '2026-11-01T08:00'], /--since <when>.*invalid/s],
    ['an invalid date', ['--until', '2026-02-30'], /--until <when>.*invalid/s],
    ['a reversed period', ['--since', '2026-11-08', '--until', '2026-11-01'], /earlier than/],
    ['a zero --top', ['--top', '0'], /--top <count>.*invalid.*1 to 1000/s],
    ['an unknown option', ['--everything'], /unknown option '--everything'/],
    ['a missing value', ['--since'], /argument missing/],
  ];

  for (const [name, args, message] of cases) {
    it(`exits 2 on ${name}`, async () => {
      const result = await runCli(['waf', 'report', ...args], env);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
    });
  }
});
