import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeDevCert } from '../../../src/perimeter/tls/dev-cert.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

/** Time testssl gets for the protocol and per-protocol cipher checks (about 10 s when idle). */
const TESTSSL_TIMEOUT_MS = 150_000;

/** One finding of testssl's flat JSON output (`--jsonfile`). */
interface Finding {
  id: string;
  severity: string;
  finding: string;
}

/** Protocol finding ids of testssl 3.0 other than TLS 1.3. */
const OLDER_PROTOCOLS = ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1', 'TLS1_2'];

let folder: string;
let t: TestServer;
let findings: Finding[];

/**
 * Runs testssl against `port` on 127.0.0.1 with only the protocol and per-protocol cipher
 * checks, no DNS lookups, and stops at the first scan error. Returns its flat JSON findings.
 */
async function runTestssl(port: number, jsonFile: string): Promise<Finding[]> {
  const args = [
    '--quiet',
    '--color',
    '0',
    '--warnings',
    'batch',
    '--nodns',
    'none',
    '--ip',
    '127.0.0.1',
    '--protocols',
    '--cipher-per-proto',
    '--jsonfile',
    jsonFile,
    `127.0.0.1:${port}`,
  ];
  // spawn, not spawnSync: the listener runs in this process and must keep serving.
  const { status, output } = await new Promise<{ status: number | null; output: string }>(
    (resolve, reject) => {
      const child = spawn('testssl', args, {
        cwd: folder,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: TESTSSL_TIMEOUT_MS,
      });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      child.once('error', (error: NodeJS.ErrnoException) => {
        const hint =
          error.code === 'ENOENT'
            ? ': install testssl.sh (Debian: apt-get install testssl.sh)'
            : '';
        reject(new Error(`testssl failed to start${hint}: ${error.message}`));
      });
      child.once('close', (code) => resolve({ status: code, output: text }));
    },
  );
  if (status !== 0) throw new Error(`testssl exited with ${String(status)}:\n${output}`);
  return JSON.parse(await readFile(jsonFile, 'utf8')) as Finding[];
}

function finding(id: string): Finding {
  const found = findings.find((entry) => entry.id === id);
  if (found === undefined) throw new Error(`testssl reported no finding ${id}`);
  return found;
}

/** Returns the IANA suite name, which testssl prints as the last column of a cipher finding. */
function ianaName(entry: Finding): string {
  return entry.finding.trim().split(/\s+/).at(-1) ?? '';
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mindweave-testssl-'));
  const files = await writeDevCert(folder);
  t = await startTestServer({
    env: { TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile },
  });
  findings = await runTestssl(Number(new URL(t.url).port), join(folder, 'testssl.json'));
}, TESTSSL_TIMEOUT_MS + 60_000);

afterAll(async () => {
  await t?.stop();
  await rm(folder, { recursive: true, force: true });
});

describe('testssl against the TLS listener', () => {
  it('reports no scan problem', () => {
    const problems = findings.filter((entry) => ['WARN', 'FATAL'].includes(entry.severity));
    expect(problems).toEqual([]);
  });

  it('offers TLS 1.3', () => {
    expect(finding('TLS1_3').finding).toMatch(/^offered/);
  });

  it.each(OLDER_PROTOCOLS)('does not offer %s', (id) => {
    expect(finding(id).finding).toBe('not offered');
  });

  it('offers exactly the three suites', () => {
    const ciphers = findings.filter((entry) => entry.id.startsWith('cipher-'));
    expect(ciphers.map((entry) => entry.id.replace(/_x[0-9a-f]+$/, ''))).toEqual([
      'cipher-tls1_3',
      'cipher-tls1_3',
      'cipher-tls1_3',
    ]);
    expect(ciphers.map(ianaName).sort()).toEqual([
      'TLS_AES_128_GCM_SHA256',
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
    ]);
  });
});
