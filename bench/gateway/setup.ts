import { randomBytes } from 'node:crypto';
import { symlink } from 'node:fs/promises';
import { join } from 'node:path';

import pg from 'pg';

import { runCommand } from './processes.js';

/** Time limit of each build step, generous so that a slow or busy machine still finishes. */
const BUILD_TIMEOUT_MS = 5 * 60_000;

/**
 * Produces a MindWeave build to benchmark and returns its folder. With `source: 'head'` the
 * committed tree of HEAD is exported into `workDir` and built there, so edits in progress in
 * the working tree are not measured. With `source: 'worktree'` the repository itself is built.
 * Both run `npm run build`; the export links the repository's node_modules.
 */
export async function prepareBuild(
  repoRoot: string,
  workDir: string,
  source: 'head' | 'worktree' | { commit: string },
): Promise<string> {
  let buildDir = repoRoot;
  if (source !== 'worktree') {
    const commit = source === 'head' ? 'HEAD' : source.commit;
    const name = source === 'head' ? 'mindweave' : `mindweave-${commit}`;
    buildDir = join(workDir, name);
    const archive = join(workDir, `${name}.tar`);
    await runCommand('git archive', 'git', ['archive', '--format=tar', '-o', archive, commit], {
      cwd: repoRoot,
      timeoutMs: 60_000,
    });
    await runCommand('mkdir', 'mkdir', ['-p', buildDir], { timeoutMs: 10_000 });
    await runCommand('tar', 'tar', ['-xf', archive, '-C', buildDir], { timeoutMs: 60_000 });
    await symlink(join(repoRoot, 'node_modules'), join(buildDir, 'node_modules'), 'dir');
  }
  await runCommand('npm run build', 'npm', ['run', 'build'], {
    cwd: buildDir,
    timeoutMs: BUILD_TIMEOUT_MS,
  });
  return buildDir;
}

/** Returns the short id of HEAD and whether `src` or `migrations` differ from it. */
export async function describeCommit(
  repoRoot: string,
): Promise<{ commit: string; dirty: boolean }> {
  const commit = (
    await runCommand('git rev-parse', 'git', ['rev-parse', '--short', 'HEAD'], {
      cwd: repoRoot,
      timeoutMs: 10_000,
    })
  ).trim();
  const status = await runCommand(
    'git status',
    'git',
    ['status', '--porcelain', '--', 'src', 'migrations'],
    { cwd: repoRoot, timeoutMs: 10_000 },
  );
  return { commit, dirty: status.trim() !== '' };
}

/** A database created for one benchmark run; `drop()` removes it. */
export interface BenchDatabase {
  url: string;
  serverVersion: string;
  drop(): Promise<void>;
}

/** Creates an empty database on the PostgreSQL server of `adminUrl`, which must be on loopback. */
export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const parsed = new URL(adminUrl);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) {
    throw new Error(
      `invalid database admin URL host ${parsed.hostname}: the benchmark only uses a local server`,
    );
  }
  const name = `mw_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  let serverVersion: string;
  try {
    const result = await admin.query<{ server_version: string }>('SHOW server_version');
    serverVersion = result.rows[0]?.server_version ?? 'unknown';
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    serverVersion,
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Returns the process ids of the PostgreSQL backends connected to the database of
 * `databaseUrl`, apart from the one serving this query.
 */
export async function backendPids(databaseUrl: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const result = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    return result.rows.map((row) => row.pid);
  } finally {
    await client.end();
  }
}

/** Counts the calls MindWeave has recorded in `gateway_requests`. */
export async function countRecordedCalls(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const result = await client.query<{ count: string }>(
      'SELECT count(*) AS count FROM gateway_requests',
    );
    return Number(result.rows[0]?.count ?? 0);
  } finally {
    await client.end();
  }
}

/**
 * Runs `mindweave bootstrap` in the built tree `dir` with `env`, creating an org with one
 * project for `model`, and returns the API key it prints.
 */
export async function bootstrapApiKey(
  dir: string,
  env: NodeJS.ProcessEnv,
  model: string,
): Promise<string> {
  const output = await runCommand(
    'mindweave bootstrap',
    process.execPath,
    [
      'bin/mindweave.js',
      'bootstrap',
      '--org',
      'Bench',
      '--project',
      'bench',
      '--admin-email',
      'bench@example.com',
      '--models',
      model,
      '--json',
    ],
    { cwd: dir, env, timeoutMs: 60_000 },
  );
  const { apiKey } = JSON.parse(output) as { apiKey: string };
  return apiKey;
}
