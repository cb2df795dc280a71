import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config/load-config.js';
import { openDatabase } from '../../src/data/database/open-database.js';
import { FakeProvider } from '../support/fake-provider.js';
import { PROVIDER_KEYS } from '../support/test-server.js';
import {
  ensureBuilt,
  killRunningProcesses,
  runCli,
  startServe,
  type ServeProcess,
} from './cli-process.js';

let dataDir: string;
let fake: FakeProvider;
let env: Record<string, string>;
let serve: ServeProcess | undefined;
let boot: { apiKey: string; adminEmail: string; adminPassword: string };

beforeAll(async () => {
  await ensureBuilt();
  dataDir = await mkdtemp(join(tmpdir(), 'mindweave-embedded-'));
  fake = new FakeProvider();
  const fakeUrl = await fake.start();
  // No DATABASE_URL: every command uses embedded PostgreSQL in the data folder.
  env = {
    MINDWEAVE_DATA_DIR: dataDir,
    ANTHROPIC_BASE_URL: fakeUrl,
    ANTHROPIC_API_KEY: PROVIDER_KEYS.anthropic,
  };
}, 120_000);

afterAll(async () => {
  killRunningProcesses();
  await fake.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function stopServe(): Promise<number | null> {
  serve?.child.kill('SIGTERM');
  return (await serve?.exited) ?? null;
}

const askClaude = (apiKey: string, url: string) =>
  new Anthropic({ apiKey, baseURL: url, maxRetries: 0 }).messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 20,
    messages: [{ role: 'user', content: 'Hello' }],
  });

// Each step starts a process that opens embedded PostgreSQL, which is slow on a busy machine.
describe('embedded database', { timeout: 120_000 }, () => {
  it('bootstrap creates the data folder', async () => {
    const result = await runCli(
      [
        'bootstrap',
        '--org',
        'Acme',
        '--project',
        'demo',
        '--admin-email',
        'admin@example.com',
        '--models',
        'claude-sonnet-4-5',
        '--json',
      ],
      env,
    );
    expect(result.stderr).not.toContain('unexpected failure');
    expect(result.code).toBe(0);
    boot = JSON.parse(result.stdout) as typeof boot;
    expect(boot.apiKey).toMatch(/^mw_live_/);
  });

  it('SDK call goes through the embedded server', async () => {
    serve = await startServe(env);
    const message = await askClaude(boot.apiKey, serve.url);
    expect(message.content[0]).toEqual({ type: 'text', text: 'Hello from the fake provider' });
    expect(fake.received.at(-1)?.headers['x-api-key']).toBe(PROVIDER_KEYS.anthropic);
  });

  it('CLI rejected while server holds folder', async () => {
    const result = await runCli(['keys', 'list'], env);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`in use by process ${serve?.child.pid}`);
    expect(lines[0]).toContain('mindweave serve');
    expect(lines[0]).toContain('MINDWEAVE_DATA_DIR');
  });

  it('second server is rejected too', async () => {
    const result = await runCli(['serve'], env, 20_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`in use by process ${serve?.child.pid}`);
  });

  it('server stops cleanly and frees the folder', async () => {
    expect(await stopServe()).toBe(0);
    const result = await runCli(['keys', 'list', '--json'], env);
    expect(result.code).toBe(0);
    const { data } = JSON.parse(result.stdout) as { data: { status: string }[] };
    expect(data.map((key) => key.status)).toEqual(['active']);
  });

  it('key and data survive a restart', async () => {
    serve = await startServe(env);
    const message = await askClaude(boot.apiKey, serve.url);
    expect(message.usage.output_tokens).toBe(5);

    const login = await fetch(`${serve.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: boot.adminEmail, password: boot.adminPassword }),
    });
    expect(login.status).toBe(200);
    expect(((await login.json()) as { mustChangePassword: boolean }).mustChangePassword).toBe(true);
    expect(await stopServe()).toBe(0);
  });

  it('both runs recorded their call', async () => {
    const db = await openDatabase(loadConfig({ MINDWEAVE_DATA_DIR: dataDir }), 'test check');
    try {
      const calls = await db.query<{ status: number }>(
        'SELECT status FROM gateway_requests ORDER BY created_at',
      );
      expect(calls.rows).toEqual([{ status: 200 }, { status: 200 }]);
    } finally {
      await db.close();
    }
  });

  it('keys create and revoke work after a server has wrapped the subject keys', async () => {
    const created = await runCli(['keys', 'create', '--project', 'demo', '--json'], env);
    expect(created.stderr).not.toContain('unexpected failure');
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string };
    serve = await startServe(env);
    const message = await askClaude(key.key, serve.url);
    expect(message.usage.output_tokens).toBe(5);
    expect(await stopServe()).toBe(0);
    const revoked = await runCli(['keys', 'revoke', key.id], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`(${key.id})`);
  });
});
