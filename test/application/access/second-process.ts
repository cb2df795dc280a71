import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { TestServer } from '../../support/test-server.js';

const SERVER = fileURLToPath(new URL('./server.process.ts', import.meta.url));

/** A second MindWeave server process on the test server's database and configuration. */
export interface SecondProcess {
  /** The test server with `url` pointing at the second process. */
  view: TestServer;
  stop(): Promise<void>;
}

/** Starts a server process with `t`'s configuration and waits until it listens. */
export async function startSecondProcess(t: TestServer): Promise<SecondProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SERVER], {
    env: { ...process.env, MINDWEAVE_TEST_CONFIG: JSON.stringify({ ...t.config, PORT: 0 }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const [url] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`second server process exited with code ${String(code)}`);
    }),
  ])) as [string];
  return {
    view: { ...t, url },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
