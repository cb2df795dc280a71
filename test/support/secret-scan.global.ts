/* eslint-disable security/detect-non-literal-fs-filename -- every path is inside the
   temporary folder created here. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { findLeaks } from './leak-finder.js';
import { SCAN_DIR_VARIABLE } from './secret-scan.js';

async function readValues(dir: string, files: string[], kind: string): Promise<string[]> {
  const values: string[] = [];
  for (const file of files.filter((name) => name.startsWith(`${kind}-`))) {
    const text = await readFile(join(dir, file), 'utf8');
    for (const line of text.split('\n')) if (line) values.push(JSON.parse(line) as string);
  }
  return values;
}

/**
 * Global setup of the suite: creates the folder that test workers record secrets, log lines,
 * error bodies and audit rows into. After the last test file, it checks that no registered
 * secret occurs in any log line, audit row or error body, and a leak fails the run.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'mindweave-secret-scan-'));
  process.env[SCAN_DIR_VARIABLE] = dir;

  return async () => {
    try {
      const files = await readdir(dir);
      const secrets = await readValues(dir, files, 'secrets');
      const texts = [];
      for (const kind of ['logs', 'errors', 'audit']) {
        const values = await readValues(dir, files, kind);
        texts.push(...values.map((text, index) => ({ source: `${kind} entry ${index}`, text })));
      }
      const leaks = findLeaks(secrets, texts);
      if (leaks.length > 0) {
        const list = leaks
          .slice(0, 20)
          .map(
            (leak) =>
              `${leak.source}: a secret of ${leak.secretLength} characters starting "${leak.secretStart}"`,
          )
          .join('\n');
        // vitest 4.1 prints an error thrown here as "error during close" but still exits 0,
        // so the exit code is set as well.
        process.exitCode = 1;
        throw new Error(
          `secret scan: ${leaks.length} registered secrets appear in logs, audit rows or error bodies:\n${list}`,
        );
      }
      console.info(
        `secret scan: ${new Set(secrets).size} secrets checked against ${texts.length} log lines, error bodies and audit rows; none found`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}
