import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../support/cli-process.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

// Reproduces a defect found in review. A server start wraps the personal data keys under the
// compliance key, so a later `keys create` fails with "unexpected failure" because the CLI does
// not open the key hierarchy. The test fails on the commit it was written against.

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t.stop();
});

describe('keys create after a server start', () => {
  it('creates a key', async () => {
    const result = await runCli(t, 'keys', 'create', '--project', 'demo', '--json');
    expect(result.stderr).not.toContain('unexpected failure');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('mw_live_');
  });
});
