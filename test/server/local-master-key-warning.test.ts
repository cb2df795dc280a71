import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../support/test-server.js';

interface LogLine {
  level: number;
  msg: string;
  kmsProvider?: string;
}

const WARN = 40;
const savedNodeEnv = process.env.NODE_ENV;
let t: TestServer | undefined;

afterEach(async () => {
  // Assigning undefined would store the string 'undefined'.
  if (savedNodeEnv === undefined) delete process.env.NODE_ENV;
  else process.env.NODE_ENV = savedNodeEnv;
  await t?.stop();
  t = undefined;
});

function kmsWarnings(server: TestServer): LogLine[] {
  return server.logLines
    .map((line) => JSON.parse(line) as LogLine)
    .filter((line) => line.msg.includes('local-file KMS provider'));
}

describe('local master key at server start', () => {
  it('is logged as a warning in production', async () => {
    process.env.NODE_ENV = 'production';
    t = await startTestServer({ embedded: true });
    const warnings = kmsWarnings(t);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.level).toBe(WARN);
    expect(warnings[0]?.kmsProvider).toBe('local-file');
    // The default key folder is in the data folder, and the warning names it. The folder
    // contains every master key file, so rotated keys are covered by the same warning.
    const keyFolder = join(t.config.MINDWEAVE_DATA_DIR, 'kms');
    expect(warnings[0]?.msg).toContain(`unencrypted in ${keyFolder},`);
    expect(warnings[0]?.msg).toContain('configure a KMS or HSM provider for production');
  }, 120_000);

  it('is not logged outside production', async () => {
    process.env.NODE_ENV = 'development';
    t = await startTestServer({ embedded: true });
    expect(kmsWarnings(t)).toHaveLength(0);
  }, 120_000);
});
