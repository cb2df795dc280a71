import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cliEnv, ensureBuilt, REPO_ROOT } from './cli-process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'mindweave-npm-start-'));

beforeAll(async () => {
  await ensureBuilt();
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`);
    return response.ok;
  } catch {
    return false;
  }
}

describe('npm start', { timeout: 120_000 }, () => {
  it('passes SIGTERM to the server, which drains and stops', async () => {
    // Docker and Kubernetes send SIGTERM only to the container's first process, which is npm
    // when the image runs `npm start`.
    const npm = spawn('npm', ['start'], {
      cwd: REPO_ROOT,
      env: cliEnv({ HOST: '127.0.0.1', PORT: '0', MINDWEAVE_DATA_DIR: dataDir }),
    });
    const logs: Record<string, unknown>[] = [];
    let pending = '';
    const exited = new Promise<number | null>((resolve) => npm.on('exit', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('npm start did not listen within 60 s')),
        60_000,
      );
      npm.stdout.on('data', (chunk: Buffer) => {
        const lines = (pending + chunk.toString('utf8')).split('\n');
        pending = lines.pop() ?? '';
        // npm prints its own banner lines before the server's JSON log lines.
        for (const line of lines.filter((text) => text.startsWith('{'))) {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === 'mindweave listening') {
            clearTimeout(timer);
            resolve(String(entry.url));
          }
        }
      });
      void exited.then((code) => reject(new Error(`npm start exited with ${code} early`)));
    });
    expect(await answers(url)).toBe(true);

    npm.kill('SIGTERM');
    await exited;
    const deadline = Date.now() + 10_000;
    while ((await answers(url)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await answers(url)).toBe(false);
    expect(logs.map((entry) => entry.msg)).toContain('shutdown complete');
  });
});
