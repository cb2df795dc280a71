/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config/load-config.js';
import { migrate } from '../../src/data/database/migrate.js';
import { openDatabase } from '../../src/data/database/open-database.js';
import { bootstrap, type BootstrapResult } from '../../src/tenancy/bootstrap.service.js';
import { recordLogLines, registerSecrets } from '../support/secret-scan.js';
import { startSourceServer, waitForLog, type SourceServer } from '../support/source-server.js';
import { TEST_MODELS } from '../support/test-server.js';

// The shared PostgreSQL on 127.0.0.1:5432 trusts every local connection, so it cannot show that
// a wrong password is rejected. This file starts its own cluster with scram-sha-256 auth.

const run = promisify(execFile);

const POSTGRES_ROOT = '/usr/lib/postgresql';
const LOGIN_ROLE = 'mindweave_owner';
const DATABASE_NAME = 'mindweave';
// The passwords contain characters that must be percent-encoded in a URL, so the test also
// covers the decoding.
const FIRST_PASSWORD = `first pass@${randomBytes(8).toString('hex')}`;
const ROTATED_PASSWORD = `rotated/pass%${randomBytes(8).toString('hex')}`;
const SUPERUSER_PASSWORD = `superuser-${randomBytes(12).toString('hex')}`;

/** A PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 only. */
interface Cluster {
  folder: string;
  dataDir: string;
  port: number;
  binDir: string;
  started: boolean;
}

let cluster: Cluster | undefined;
let serverFolder: string | undefined;
let secretFile: string;
let boot: BootstrapResult;
let server: SourceServer | undefined;

/** Returns the bin folder of the newest PostgreSQL under /usr/lib/postgresql, or throws. */
function postgresBinDir(): string {
  const versions = existsSync(POSTGRES_ROOT)
    ? readdirSync(POSTGRES_ROOT)
        .filter((name) => /^\d+$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const binDir = path.join(POSTGRES_ROOT, version, 'bin');
    if (existsSync(path.join(binDir, 'initdb')) && existsSync(path.join(binDir, 'pg_ctl'))) {
      return binDir;
    }
  }
  throw new Error(
    `initdb and pg_ctl not found under ${POSTGRES_ROOT}/<version>/bin; ` +
      'install the PostgreSQL server package (Debian: apt-get install postgresql-15)',
  );
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

const runningAsRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL program, as the `postgres` OS user when the test runs as root. */
async function runPostgresProgram(program: string, args: string[]): Promise<void> {
  const [command, commandArgs] = runningAsRoot
    ? ['runuser', ['-u', 'postgres', '--', program, ...args]]
    : [program, args];
  try {
    await run(command, commandArgs, { timeout: 30_000 });
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`${path.basename(program)} failed: ${stderr ?? String(error)}`);
  }
}

/** Creates and starts a cluster whose `postgres` superuser needs SUPERUSER_PASSWORD. */
async function startCluster(): Promise<Cluster> {
  const binDir = postgresBinDir();
  const folder = await mkdtemp(path.join(tmpdir(), 'mindweave-scram-pg-'));
  const created: Cluster = {
    folder,
    dataDir: path.join(folder, 'data'),
    port: await freePort(),
    binDir,
    started: false,
  };
  cluster = created;
  const passwordFile = path.join(folder, 'superuser-password');
  await writeFile(passwordFile, `${SUPERUSER_PASSWORD}\n`, { mode: 0o600 });
  // initdb exits with an error when run as root, so the folder goes to the postgres user first.
  if (runningAsRoot) await run('chown', ['-R', 'postgres:postgres', folder]);

  await runPostgresProgram(path.join(binDir, 'initdb'), [
    '--pgdata',
    created.dataDir,
    '--auth=scram-sha-256',
    '--username=postgres',
    `--pwfile=${passwordFile}`,
    '--encoding=UTF8',
    '--locale=C',
    '--no-sync',
    '--no-instructions',
  ]);
  await rm(passwordFile);
  await runPostgresProgram(path.join(binDir, 'pg_ctl'), [
    'start',
    '--pgdata',
    created.dataDir,
    '--log',
    path.join(folder, 'postgres.log'),
    '--wait',
    '--timeout=30',
    '--options',
    `-c listen_addresses=127.0.0.1 -p ${created.port} -c unix_socket_directories=${folder} ` +
      '-c fsync=off',
  ]);
  created.started = true;
  return created;
}

/** Stops the cluster if it runs and removes its folder. */
async function removeCluster(target: Cluster): Promise<void> {
  try {
    if (target.started) {
      await runPostgresProgram(path.join(target.binDir, 'pg_ctl'), [
        'stop',
        '--pgdata',
        target.dataDir,
        '--mode=immediate',
        '--wait',
      ]);
    }
  } finally {
    await rm(target.folder, { recursive: true, force: true });
  }
}

/**
 * Builds a URL with user and password percent-encoded. The WHATWG URL password setter leaves `%`
 * as it is, which pg would then decode.
 */
function databaseUrl(user: string, password: string, database: string): string {
  const credentials = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  return `postgres://${credentials}@127.0.0.1:${cluster?.port}/${database}`;
}

/** Runs `work` on a connection as the cluster's superuser. */
async function asSuperuser<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: databaseUrl('postgres', SUPERUSER_PASSWORD, 'postgres'),
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Opens and closes a connection as the login role with `password`. */
async function connectAsLoginRole(password: string): Promise<void> {
  const client = new pg.Client({
    connectionString: databaseUrl(LOGIN_ROLE, password, DATABASE_NAME),
  });
  await client.connect();
  await client.end();
}

/** Replaces `file` the way a secret mount does: the new content appears in one step. */
async function replaceFile(file: string, content: string): Promise<void> {
  const next = `${file}.next`;
  await writeFile(next, content, { mode: 0o600 });
  await rename(next, file);
}

/** Returns the process ids of the login role's backends, which are all the server's. */
async function loginRoleBackends(): Promise<number[]> {
  return asSuperuser(async (client) => {
    const result = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE usename = $1',
      [LOGIN_ROLE],
    );
    return result.rows.map((row) => row.pid);
  });
}

/** Ends every backend of the login role and waits until PostgreSQL no longer lists them. */
async function terminateServerConnections(): Promise<number> {
  const terminated = await asSuperuser(async (client) => {
    // In the select list, so only rows that passed the filter are terminated.
    const result = await client.query<{ terminated: boolean }>(
      'SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE usename = $1',
      [LOGIN_ROLE],
    );
    return result.rows.filter((row) => row.terminated).length;
  });
  const deadline = Date.now() + 10_000;
  while ((await loginRoleBackends()).length > 0) {
    if (Date.now() > deadline) throw new Error('terminated backends still listed after 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return terminated;
}

async function readiness(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: await response.text() };
}

async function listModels(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${url}/v1/models`, { headers: { 'x-api-key': boot.apiKey } });
  return { status: response.status, body: await response.text() };
}

beforeAll(async () => {
  registerSecrets(FIRST_PASSWORD, ROTATED_PASSWORD, SUPERUSER_PASSWORD);
  await startCluster();
  // The login role owns the database and runs the migrations. It may not create roles, so
  // mindweave_app is created and granted to it first, as an operator of such a server does.
  await asSuperuser(async (client) => {
    await client.query('CREATE ROLE mindweave_app NOLOGIN NOBYPASSRLS');
    await client.query(
      `CREATE ROLE ${LOGIN_ROLE} LOGIN PASSWORD ${client.escapeLiteral(FIRST_PASSWORD)}`,
    );
    await client.query(`GRANT mindweave_app TO ${LOGIN_ROLE}`);
    await client.query(`CREATE DATABASE ${DATABASE_NAME} OWNER ${LOGIN_ROLE}`);
  });

  serverFolder = await mkdtemp(path.join(tmpdir(), 'mindweave-password-rotation-'));
  secretFile = path.join(serverFolder, 'database-url');
  await writeFile(secretFile, `${databaseUrl(LOGIN_ROLE, FIRST_PASSWORD, DATABASE_NAME)}\n`, {
    mode: 0o600,
  });
  const db = await openDatabase(loadConfig({ DATABASE_URL_FILE: secretFile }), 'test bootstrap');
  try {
    await migrate(db);
    boot = await bootstrap(db, {
      orgName: 'Acme',
      projectSlug: 'demo',
      adminEmail: 'owner@example.com',
      adminName: 'Olivia Owner',
      allowedModels: TEST_MODELS,
    });
  } finally {
    await db.close();
  }
  registerSecrets(boot.adminPassword, boot.apiKey);
}, 60_000);

afterAll(async () => {
  try {
    if (server) {
      recordLogLines(server.logs.map((line) => JSON.stringify(line)));
      await server.stop('SIGKILL');
    }
  } finally {
    try {
      if (cluster) await removeCluster(cluster);
    } finally {
      if (serverFolder) await rm(serverFolder, { recursive: true, force: true });
    }
  }
}, 60_000);

describe('database password rotation', { timeout: 60_000 }, () => {
  it('applies a rotated password on SIGHUP', async () => {
    server = await startSourceServer({
      DATABASE_URL_FILE: secretFile,
      MINDWEAVE_DATA_DIR: path.join(serverFolder ?? '', 'data'),
      RATE_LIMIT_IP_MAX: '0',
    });
    const running = server;
    const errorBodies: string[] = [];

    expect((await readiness(running.url)).status).toBe(200);
    expect((await listModels(running.url)).status).toBe(200);

    // Rotate in PostgreSQL: the old password is rejected from now on.
    await asSuperuser((client) =>
      client.query(`ALTER ROLE ${LOGIN_ROLE} PASSWORD ${client.escapeLiteral(ROTATED_PASSWORD)}`),
    );
    await expect(connectAsLoginRole(FIRST_PASSWORD)).rejects.toMatchObject({ code: '28P01' });
    await expect(connectAsLoginRole(ROTATED_PASSWORD)).resolves.toBeUndefined();

    // Connections opened with the old password keep working until they end. Once they are
    // ended, the server still uses the old password and cannot reconnect.
    expect((await readiness(running.url)).status).toBe(200);
    expect(await terminateServerConnections()).toBeGreaterThan(0);
    const failureFrom = running.logs.length;
    const rejected = await readiness(running.url);
    expect(rejected.status).toBe(503);
    errorBodies.push(rejected.body);
    const authFailure = await waitForLog(
      running,
      (line) => line.msg === 'readiness check failed: database unreachable',
      failureFrom,
    );
    expect((authFailure.err as { code?: unknown }).code).toBe('28P01');

    await replaceFile(secretFile, `${databaseUrl(LOGIN_ROLE, ROTATED_PASSWORD, DATABASE_NAME)}\n`);
    const from = running.logs.length;
    running.child.kill('SIGHUP');
    const reloaded = await waitForLog(
      running,
      (line) => line.msg === 'reloaded secret settings',
      from,
    );
    expect(reloaded.changed).toEqual(['DATABASE_URL']);

    // End every connection the server opened before the reload, so the pool must log in again.
    await terminateServerConnections();
    const ready = await readiness(running.url);
    expect(ready.status).toBe(200);
    const models = await listModels(running.url);
    expect(models.status).toBe(200);
    expect(models.body).toContain('claude-sonnet-4-5');
    expect((await loginRoleBackends()).length).toBeGreaterThan(0);

    // A password whose `%` starts no valid escape cannot be decoded, so the reload keeps the
    // current URL, and new connections still log in.
    const undecodable = databaseUrl(LOGIN_ROLE, ROTATED_PASSWORD, DATABASE_NAME).replace(
      '@127.0.0.1',
      '%zz@127.0.0.1',
    );
    await replaceFile(secretFile, `${undecodable}\n`);
    const undecodableFrom = running.logs.length;
    running.child.kill('SIGHUP');
    const reloadFailure = await waitForLog(
      running,
      (line) => typeof line.msg === 'string' && line.msg.startsWith('secret reload failed'),
      undecodableFrom,
    );
    expect(reloadFailure.variable).toBe('DATABASE_URL_FILE');
    await terminateServerConnections();
    expect((await readiness(running.url)).status).toBe(200);
    expect((await listModels(running.url)).status).toBe(200);

    const logText = running.logs.map((line) => JSON.stringify(line)).join('\n');
    for (const secret of [FIRST_PASSWORD, ROTATED_PASSWORD]) {
      for (const form of [secret, encodeURIComponent(secret)]) {
        expect(logText).not.toContain(form);
        for (const body of errorBodies) expect(body).not.toContain(form);
      }
    }

    recordLogLines(running.logs.map((line) => JSON.stringify(line)));
    expect(await running.stop()).toBe(0);
    server = undefined;
  });
});
