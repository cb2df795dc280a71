import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';

import type { ParanoiaLevel } from '../../src/perimeter/waf/index.js';
import { freePort, startChild, stopChild, waitForHealthy } from '../gateway/processes.js';

const STARTUP_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 30_000;

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
  const logFd = openSync(join(workDir, `mindweave-pl${paranoia}.log`), 'a');
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
    await waitForHealthy(`${url}/healthz`, child, STARTUP_TIMEOUT_MS);
  } catch (error) {
    await stopChild(child, STOP_GRACE_MS);
    throw error;
  }
  return { url, stop: () => stopChild(child, STOP_GRACE_MS) };
}
