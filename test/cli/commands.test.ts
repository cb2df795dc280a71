import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { ensureBuilt, killRunningProcesses, runCli, type CliResult } from './cli-process.js';

let database: TestDatabase;
let env: Record<string, string>;

beforeAll(async () => {
  await ensureBuilt();
  database = await createTestDatabase();
  env = { DATABASE_URL: database.url };
}, 120_000);

afterAll(async () => {
  killRunningProcesses();
  await database.drop();
});

async function countOwners(): Promise<number> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const result = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM memberships WHERE role = 'owner'`,
    );
    return result.rows[0]?.n ?? -1;
  } finally {
    await client.end();
  }
}

const BOOTSTRAP_ARGS = [
  'bootstrap',
  '--org',
  'Acme',
  '--project',
  'demo',
  '--admin-email',
  'Admin@Example.com',
  '--models',
  'claude-sonnet-4-5, gpt-4o-mini',
  '--json',
];

interface KeyView {
  id: string;
  name: string;
  maskedKey: string;
  status: string;
  key?: string;
}

describe('bootstrap', { timeout: 90_000 }, () => {
  let bootstrapKey: string;
  let result: CliResult;

  it('only one of two concurrent runs succeeds', async () => {
    const runs = await Promise.all([runCli(BOOTSTRAP_ARGS, env), runCli(BOOTSTRAP_ARGS, env)]);
    expect(runs.map((run) => run.code).sort()).toEqual([0, 1]);
    result = runs.find((run) => run.code === 0) as CliResult;
    const rejected = runs.find((run) => run.code === 1);
    expect(rejected?.stderr).toContain('bootstrap runs only once');
    const owners = await countOwners();
    expect(owners).toBe(1);
  });

  it('prints one JSON object with the secrets', () => {
    expect(result.stderr).not.toContain('unexpected failure');
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const output = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(output.apiKey).toMatch(/^mw_live_[A-Za-z0-9_-]{43}$/);
    expect(output.projectId).toMatch(/^[0-9a-f-]{36}$/);
    expect(output.adminEmail).toBe('admin@example.com');
    expect(String(output.adminPassword)).toHaveLength(24);
    expect(output.allowedModels).toEqual(['claude-sonnet-4-5', 'gpt-4o-mini']);
    bootstrapKey = String(output.apiKey);
  });

  it('second run refuses with exit code 1', async () => {
    const result = await runCli(BOOTSTRAP_ARGS, env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('bootstrap runs only once');
    expect(result.stdout).toBe('');
  });

  it('invalid options are reported per field', async () => {
    const result = await runCli(
      ['bootstrap', '--org', 'X', '--project', 'Bad Slug', '--admin-email', 'nope'],
      env,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('project:');
    expect(result.stderr).toContain('adminEmail:');
  });

  it('keys list shows the bootstrap key masked', async () => {
    const result = await runCli(['keys', 'list', '--json'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain(bootstrapKey);
    const { data } = JSON.parse(result.stdout) as { data: KeyView[] };
    expect(data.map((key) => key.maskedKey)).toEqual([`mw_live_…${bootstrapKey.slice(-4)}`]);
    expect(data[0]?.status).toBe('active');
  });
});

describe('keys', { timeout: 90_000 }, () => {
  let created: KeyView;

  it('create prints the key once', async () => {
    const result = await runCli(
      ['keys', 'create', '--project', 'demo', '--name', 'ci', '--json'],
      env,
    );
    expect(result.code).toBe(0);
    created = JSON.parse(result.stdout) as KeyView;
    expect(created.key).toMatch(/^mw_live_/);
    expect(created.name).toBe('ci');
    expect(created.status).toBe('active');
  });

  it('text create prints key and id', async () => {
    const result = await runCli(['keys', 'create', '--project', 'demo'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^mw_live_\S{43}\n\(id [0-9a-f-]{36}; shown only now\)\n$/);
  });

  it('list shows masks, never secrets', async () => {
    const result = await runCli(['keys', 'list', '--project', 'demo'], env);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(result.stdout).not.toContain(created.key);
    expect(result.stdout).toContain(created.maskedKey);
  });

  it('revoke marks the key revoked', async () => {
    const result = await runCli(['keys', 'revoke', created.id], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`revoked ${created.maskedKey}`);
    const list = await runCli(['keys', 'list', '--json'], env);
    const { data } = JSON.parse(list.stdout) as { data: KeyView[] };
    expect(data.find((key) => key.id === created.id)?.status).toBe('revoked');
  });

  it('bad arguments exit with a message', async () => {
    // Usage errors (invalid option or argument) exit with 2, failed operations with 1.
    const cases: [string[], string, number][] = [
      [['keys', 'revoke', 'not-a-uuid'], 'must be a key id', 2],
      [['keys', 'revoke', '00000000-0000-4000-8000-000000000000'], 'not found', 1],
      [['keys', 'create', '--project', 'missing'], 'project missing not found', 2],
      [
        ['keys', 'create', '--project', 'demo', '--expires-at', '2001-01-01T00:00:00Z'],
        'future',
        1,
      ],
      [['keys', 'create', '--project', 'demo', '--expires-at', 'soon'], 'expiresAt', 1],
      [['keys', 'create'], "required option '--project", 2],
      [['keys', 'frobnicate'], 'unknown command', 2],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, env)));
    for (const [index, [args, message, code]] of cases.entries()) {
      const result = results[index] ?? { code: null, stdout: '', stderr: '' };
      expect(result.code, args.join(' ')).toBe(code);
      expect(result.stderr, args.join(' ')).toContain(message);
      expect(result.stderr, args.join(' ')).not.toContain('unexpected failure');
    }
  });

  it('migrate reports the schema version', async () => {
    const result = await runCli(['migrate'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^database schema is at version \d+\n$/);
  });
});

describe('help', { timeout: 90_000 }, () => {
  const COMMANDS = [
    [],
    ['serve'],
    ['migrate'],
    ['bootstrap'],
    ['keys'],
    ['keys', 'create'],
    ['keys', 'list'],
    ['keys', 'revoke'],
  ];

  it('every command has --help', async () => {
    const results = await Promise.all(
      COMMANDS.map((command) => runCli([...command, '--help'], { PORT: 'not-read-for-help' })),
    );
    for (const [index, result] of results.entries()) {
      const command = COMMANDS[index] ?? [];
      const label = ['mindweave', ...command].join(' ');
      expect(result.code, label).toBe(0);
      expect(result.stdout, label).toContain(`Usage: ${label}`);
    }
  });

  it('option help states what it sets', async () => {
    const result = await runCli(['keys', 'create', '--help'], {});
    expect(result.stdout).toContain('--expires-at <time>');
    expect(result.stdout).toContain('ISO-8601');
  });
});

describe('invalid environment', { timeout: 90_000 }, () => {
  const CASES: [string[], string, string][] = [
    [['serve'], 'PORT', 'abc'],
    [['serve'], 'DATABASE_URL', 'mysql://x'],
    [['serve'], 'LOG_LEVEL', 'loud'],
    [['serve'], 'UPSTREAM_TIMEOUT_MS', '5'],
    [['keys', 'list'], 'REDIS_URL', 'http://x'],
    [['migrate'], 'SHUTDOWN_GRACE_MS', '-1'],
    [['bootstrap', '--org', 'A', '--project', 'a', '--admin-email', 'a@b.co'], 'PORT', 'abc'],
  ];

  it('one line naming variable, exit 2', async () => {
    const runs = CASES.map(async ([command, variable, value]) => ({
      label: `${variable}=${value} ${command[0] ?? ''}`,
      variable,
      value,
      result: await runCli(command, { [variable]: value }),
    }));
    for (const { label, variable, value, result } of await Promise.all(runs)) {
      expect(result.code, label).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines, label).toHaveLength(1);
      expect(lines[0], label).toContain(variable);
      expect(lines[0], label).not.toContain(value);
      expect(result.stdout, label).toBe('');
    }
  });

  it('secret values are not echoed', async () => {
    const secret = `sk-ant-${'s'.repeat(5000)}`;
    const result = await runCli(['serve'], { ANTHROPIC_API_KEY: secret });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('ANTHROPIC_API_KEY');
    expect(result.stderr).not.toContain('sssss');
  });
});
