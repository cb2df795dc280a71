import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { ensureBuilt, killRunningProcesses, runCli } from './cli-process.js';

let database: TestDatabase;
let dataDir: string;
let env: Record<string, string>;
let checkpointFile: string;

beforeAll(async () => {
  await ensureBuilt();
  database = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'mindweave-audit-cli-'));
  env = { DATABASE_URL: database.url, MINDWEAVE_DATA_DIR: dataDir };
  const boot = await runCli(
    ['bootstrap', '--org', 'Acme', '--project', 'demo', '--admin-email', 'a@example.com', '--json'],
    env,
  );
  expect(boot.code).toBe(0);
  for (const name of ['one', 'two', 'three']) {
    expect((await runCli(['keys', 'create', '--project', 'demo', '--name', name], env)).code).toBe(
      0,
    );
  }
  const checkpoint = await runCli(['audit', 'checkpoint'], env);
  expect(checkpoint.code).toBe(0);
  checkpointFile = join(dataDir, 'held-checkpoint.txt');
  await writeFile(checkpointFile, checkpoint.stdout);
}, 180_000);

afterAll(async () => {
  killRunningProcesses();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('mindweave audit', () => {
  it('checkpoint prints a signed note of the whole log', async () => {
    const { stdout } = await runCli(['audit', 'checkpoint'], env);
    const lines = stdout.split('\n');
    expect(lines[0]).toBe('mindweave.local/audit');
    expect(lines[1]).toBe('7');
    expect(stdout).toMatch(/\n\n— mindweave\.local\/audit [A-Za-z0-9+/=]+\n$/);
  });

  it('public-key prints the verifier key and the PEM', async () => {
    const key = await runCli(['audit', 'public-key'], env);
    expect(key.stdout.trim()).toMatch(/^mindweave\.local\/audit\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/);
    const pem = await runCli(['audit', 'public-key', '--pem'], env);
    expect(pem.stdout).toContain('-----BEGIN PUBLIC KEY-----');
  });

  it('verify exits 0 on an intact log and shows progress', async () => {
    const result = await runCli(
      ['audit', 'verify', '--from-checkpoint', checkpointFile, '--json'],
      env,
    );
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { ok: boolean; entriesVerified: number };
    expect(report.ok).toBe(true);
    expect(report.entriesVerified).toBe(7);
    expect(result.stderr).toContain('verified 7 of 7 entries');
  });

  it('proof inclusion prints the entry and its audit path', async () => {
    const result = await runCli(['audit', 'proof', 'inclusion', '--seq', '2'], env);
    expect(result.code).toBe(0);
    const proof = JSON.parse(result.stdout) as {
      leafIndex: number;
      treeSize: number;
      proof: string[];
    };
    expect(proof.leafIndex).toBe(1);
    expect(proof.treeSize).toBe(7);
    expect(proof.proof).toHaveLength(3);
  });

  it('verify exits 1 and names the first bad entry after a deleted tail', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query("SET LOCAL session_replication_role = 'replica'");
      await client.query('DELETE FROM audit_logs WHERE seq > 5');
      await client.query('DELETE FROM audit_checkpoints');
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    const result = await runCli(['audit', 'verify', '--from-checkpoint', checkpointFile], env);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('first bad sequence number: 6');
    expect(result.stdout).toContain('fault: truncated');
  });

  it('rejects a malformed --public-key', async () => {
    const result = await runCli(['audit', 'verify', '--public-key', 'not-a-key'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--public-key is not a valid verifier key');
  });
});
