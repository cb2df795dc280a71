import { spawn, type ChildProcess } from 'node:child_process';

import { REPO_ROOT } from '../cli/cli-process.js';

/** A `mindweave serve` process run from the TypeScript sources, and its log lines. */
export interface SourceServer {
  child: ChildProcess;
  url: string;
  /** Log lines written so far, parsed. */
  logs: Record<string, unknown>[];
  /** Standard error written so far. */
  stderr(): string;
  /** Sends `signal` (SIGTERM by default) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Result of a serve process that exited on its own. */
export interface ServeExit {
  code: number | null;
  stdout: string;
  stderr: string;
}

const START_TIMEOUT_MS = 60_000;

function spawnServe(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Starts `mindweave serve` from the sources, so no build is needed, and waits up to 60 s until
 * it logs the address it listens on. Only PATH and HOME come from the test process.
 */
export function startSourceServer(env: Record<string, string>): Promise<SourceServer> {
  const child = spawnServe(env);
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let pending = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start within 60 s: ${stderr}`));
    }, START_TIMEOUT_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'mindweave listening') {
          clearTimeout(timer);
          resolve({
            child,
            url: String(entry.url),
            logs,
            stderr: () => stderr,
            stop(signal = 'SIGTERM') {
              if (child.exitCode === null && child.signalCode === null) child.kill(signal);
              return exited;
            },
          });
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening: ${stderr}`));
    });
  });
}

/** Runs `mindweave serve` from the sources until it exits, killing it after 60 s. */
export function runSourceServe(env: Record<string, string>): Promise<ServeExit> {
  const child = spawnServe(env);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Waits up to `timeoutMs` for a log line of `server` that `match` accepts, after index `from`. */
export async function waitForLog(
  server: SourceServer,
  match: (line: Record<string, unknown>) => boolean,
  from = 0,
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = server.logs.slice(from).find(match);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no matching log line within ${timeoutMs} ms: ${server.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
