import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import type { TestServer } from './test-server.js';

const run = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI as its own process against the test server's database and data folder. Returns the
 * exit code of a failed command instead of throwing.
 */
export async function runCli(server: TestServer, ...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      {
        env: {
          ...process.env,
          DATABASE_URL: server.config.DATABASE_URL,
          MINDWEAVE_DATA_DIR: server.config.MINDWEAVE_DATA_DIR,
          LOG_LEVEL: 'warn',
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as CliResult;
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
