import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

/** A child process started by the benchmark, with the tail of its stderr for error messages. */
export interface Child {
  name: string;
  process: ChildProcess;
  stderrTail(): string;
}

const STDERR_TAIL_CHARS = 4000;

/** Starts a child process and keeps the last few kilobytes of its stderr. */
export function startChild(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions,
): Child {
  const child = spawn(command, args, { ...options, stdio: options.stdio ?? 'pipe' });
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
  });
  return { name, process: child, stderrTail: () => tail };
}

/** Runs a command to completion and returns its stdout; rejects on a non-zero exit or timeout. */
export function runCommand(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions & { timeoutMs: number },
): Promise<string> {
  const child = startChild(name, command, args, options);
  let stdout = '';
  child.process.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.process.kill('SIGKILL');
      reject(new Error(`${name} timed out after ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    child.process.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${name} failed to start: ${error.message}`));
    });
    child.process.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else {
        const how = signal ? `signal ${signal}` : `exit code ${String(code)}`;
        reject(new Error(`${name} failed with ${how}:\n${child.stderrTail()}${stdout}`));
      }
    });
  });
}

/** Reads the first stdout line of a child, failing if it exits or the time runs out first. */
export function firstLine(child: Child, timeoutMs: number): Promise<string> {
  const stdout = child.process.stdout;
  if (!stdout) return Promise.reject(new Error(`${child.name} has no stdout pipe`));
  const lines = createInterface({ input: stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      lines.close();
      reject(new Error(`${child.name} wrote no line within ${timeoutMs} ms`));
    }, timeoutMs);
    lines.once('line', (line) => {
      clearTimeout(timer);
      lines.close();
      resolve(line);
    });
    child.process.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited with code ${String(code)}:\n${child.stderrTail()}`));
    });
  });
}

/** Sends SIGTERM and waits for the exit; sends SIGKILL if the child is still running after `graceMs`. */
export async function stopChild(child: Child, graceMs: number): Promise<void> {
  const proc = child.process;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    console.error(`${child.name} did not stop within ${graceMs} ms of SIGTERM; sending SIGKILL`);
    proc.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Returns a TCP port that was free a moment ago. Another process could take it before the
 * caller binds it, which the caller sees as a failed start.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it returns 200; fails after `timeoutMs` or when the child exits. */
export async function waitForHealthy(url: string, child: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pollMs = 100;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) {
      throw new Error(
        `${child.name} exited with code ${child.process.exitCode}:\n${child.stderrTail()}`,
      );
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.status === 200) return;
    } catch {
      // Not listening yet; the loop retries until the deadline.
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`${child.name} did not answer 200 on ${url} within ${timeoutMs} ms`);
}
