import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the repository under test. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI_ENTRY = join(REPO_ROOT, 'bin', 'mindweave.js');
const BUILT_MAIN = join(REPO_ROOT, 'dist', 'cli', 'main.js');

function newestMtime(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    newest = Math.max(newest, mtime);
  }
  return newest;
}

function isBuildFresh(): boolean {
  try {
    return statSync(BUILT_MAIN).mtimeMs >= newestMtime(join(REPO_ROOT, 'src'));
  } catch {
    return false;
  }
}

/**
 * Runs `npm run build` when `dist/` is older than `src/`. Test files run in parallel workers,
 * so a lock directory makes one of them build while the others wait.
 */
export async function ensureBuilt(): Promise<void> {
  const lockName = createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 16);
  const lock = join(tmpdir(), `mindweave-build-${lockName}.lock`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`build lock ${lock} held for over 2 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    if (isBuildFresh()) return;
    const build = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
    // NOTE: tsc still emits JavaScript when it reports type errors. A failed type check elsewhere
    // in src/ therefore does not stop the CLI tests, and only a missing output does.
    if (!isBuildFresh()) {
      throw new Error(`npm run build did not refresh dist/: ${build.stdout}${build.stderr}`);
    }
  } finally {
    rmdirSync(lock);
  }
}

// Every child still running, so a failed test cannot leave a server behind.
const running = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.on('close', () => running.delete(child));
  return child;
}

/** Kills every CLI process a test started that is still running. */
export function killRunningProcesses(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** Environment for a CLI process: only PATH and HOME from the test process, plus `env`. */
export function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', ...env };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/mindweave.js ...args` to completion. A process still running after
 * `timeoutMs` is killed, and its result has code null.
 */
export function runCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
      cwd: REPO_ROOT,
      env: cliEnv(env),
    });
    track(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A `mindweave serve` process and its log lines. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Log lines written so far, parsed. */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
}

/**
 * Starts `mindweave serve` and waits until it logs the address it listens on. Opening a new
 * embedded database takes several seconds, so the wait is up to 60 s.
 */
export function startServe(env: Record<string, string>): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI_ENTRY, 'serve'], {
    cwd: REPO_ROOT,
    env: cliEnv({ HOST: '127.0.0.1', PORT: '0', ...env }),
  });
  track(child);
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let pending = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start within 60 s: ${stderr}`));
    }, 60_000);
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'mindweave listening') {
          clearTimeout(timer);
          resolve({ child, url: String(entry.url), logs, exited });
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening: ${stderr}`));
    });
  });
}
