import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { ParanoiaLevel } from '../../src/perimeter/waf/index.js';
import { freePort, startChild, stopChild, type Child } from '../gateway/processes.js';

const STARTUP_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 30_000;

/**
 * Polls `/healthz` until it returns 200, failing after STARTUP_TIMEOUT_MS or when the server
 * exits. It sends a User-Agent of its own, because at paranoia level 2 and above the WAF blocks
 * the `node` User-Agent that fetch sends by default (rule 932239, a command name in a header).
 */
async function waitForHealthy(url: string, child: Child): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) {
      throw new Error(`${child.name} exited with code ${child.process.exitCode}`);
    }
    try {
      const response = await fetch(`${url}/healthz`, {
        headers: { 'user-agent': 'mindweave-waf-bench/1.0' },
        signal: AbortSignal.timeout(1000),
      });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not listening yet; the loop retries until the deadline.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `${child.name} did not return 200 on ${url}/healthz within ${STARTUP_TIMEOUT_MS} ms`,
  );
}

/** A MindWeave server started for the corpus replay, and the way to stop it. */
export interface ReplayServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts `node bin/mindweave.js serve` from `buildDir` on a free port of 127.0.0.1 with the WAF
 * blocking at `paranoia` and every other setting at its default. The rate limits are the
 * exception, because the replay sends thousands of requests from one address. Migrations run
 * on `databaseUrl` at start, and logs at `warn` go to a file in `workDir`.
 */
export async function startReplayServer(
  buildDir: string,
  workDir: string,
  databaseUrl: string,
  paranoia: ParanoiaLevel,
): Promise<ReplayServer> {
  const port = await freePort();
  const logFile = join(workDir, `mindweave-pl${paranoia}.log`);
  const logFd = openSync(logFile, 'a');
  const child = startChild(
    `mindweave serve (paranoia level ${paranoia})`,
    process.execPath,
    ['bin/mindweave.js', 'serve'],
    {
      cwd: buildDir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        HOST: '127.0.0.1',
        PORT: String(port),
        MINDWEAVE_DATA_DIR: join(workDir, 'data'),
        DATABASE_URL: databaseUrl,
        LOG_LEVEL: 'warn',
        WAF_MODE: 'block',
        WAF_PARANOIA_LEVEL: String(paranoia),
        RATE_LIMIT_IP_MAX: '0',
        RATE_LIMIT_AUTH_MAX: '0',
      },
      stdio: ['ignore', logFd, 'pipe'],
    },
  );
  closeSync(logFd);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHealthy(url, child);
  } catch (error) {
    await stopChild(child, STOP_GRACE_MS);
    const logTail = readFileSync(logFile, 'utf8').slice(-4000);
    throw new Error(`${(error as Error).message}\nserver log:\n${logTail}`, { cause: error });
  }
  return { url, stop: () => stopChild(child, STOP_GRACE_MS) };
}
