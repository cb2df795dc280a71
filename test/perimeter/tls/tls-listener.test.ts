import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type SecureVersion } from 'node:tls';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  DevCertError,
  writeDevCert,
  type DevCertFiles,
} from '../../../src/perimeter/tls/dev-cert.js';
import { TLS_CIPHER_SUITES } from '../../../src/perimeter/tls/tls-options.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

let folder: string;
let files: DevCertFiles;
let t: TestServer;
let port: number;
let ca: Buffer;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mindweave-tls-'));
  files = await writeDevCert(folder);
  ca = await readFile(files.certFile);
  t = await startTestServer({
    env: { TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile },
  });
  port = Number(new URL(t.url).port);
});

afterAll(async () => {
  await t?.stop();
  await rm(folder, { recursive: true, force: true });
});

interface Handshake {
  ok: boolean;
  protocol: string | null;
  cipher: string | null;
}

/** Opens a TLS connection with the given client limits and reports what was negotiated. */
function handshake(options: {
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  ciphers?: string;
}): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...options });
    socket.once('secureConnect', () => {
      resolve({
        ok: true,
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().standardName,
      });
      socket.destroy();
    });
    socket.once('error', () => resolve({ ok: false, protocol: null, cipher: null }));
  });
}

/**
 * Runs `openssl s_client` against the listener and returns its exit code and output. It runs
 * asynchronously because the listener lives in this process.
 */
function sClient(args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args],
      { stdio: ['pipe', 'pipe', 'pipe'], timeout: 15_000 },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stdin.end();
    child.once('close', (status) => resolve({ status, output }));
  });
}

describe('development certificate', () => {
  it('is ECDSA P-384 for localhost', async () => {
    const certificate = new X509Certificate(ca);
    expect(certificate.publicKey.asymmetricKeyType).toBe('ec');
    expect(certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(certificate.subjectAltName).toContain('DNS:localhost');
    expect(certificate.subjectAltName).toContain('IP Address:127.0.0.1');
  });

  it('key file has mode 0600', async () => {
    const info = await stat(files.keyFile);
    expect(info.mode & 0o777).toBe(0o600);
  });

  it('existing files are not overwritten', async () => {
    await expect(writeDevCert(folder)).rejects.toThrow(DevCertError);
  });

  it('missing openssl is reported', async () => {
    const other = await mkdtemp(join(tmpdir(), 'mindweave-tls-'));
    try {
      await expect(writeDevCert(other, '/nonexistent/openssl')).rejects.toThrow(
        /openssl command was not found/,
      );
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe('TLS listener', () => {
  it('serves HTTPS with HSTS', async () => {
    const response = await new Promise<{
      status: number;
      hsts: string | undefined;
      csp: string | undefined;
    }>((resolve, reject) => {
      get(`${t.url}/healthz`, { ca, servername: 'localhost' }, (res) => {
        res.resume();
        resolve({
          status: res.statusCode ?? 0,
          hsts: res.headers['strict-transport-security'],
          csp: String(res.headers['content-security-policy']),
        });
      }).once('error', reject);
    });
    expect(t.url.startsWith('https://')).toBe(true);
    expect(response.status).toBe(200);
    expect(response.hsts).toContain('max-age=');
    expect(response.csp).toContain('upgrade-insecure-requests');
  });

  it('negotiates TLS 1.3 by default', async () => {
    const result = await handshake({});
    expect(result.ok).toBe(true);
    expect(result.protocol).toBe('TLSv1.3');
  });

  it('rejects TLS 1.2 and older', async () => {
    for (const version of ['TLSv1.2', 'TLSv1.1', 'TLSv1'] as const) {
      const result = await handshake({ minVersion: version, maxVersion: version });
      expect(result.ok, version).toBe(false);
    }
  });

  it('accepts each of the three suites', async () => {
    for (const suite of TLS_CIPHER_SUITES) {
      const result = await handshake({ ciphers: suite });
      expect(result.ok, suite).toBe(true);
      expect(result.cipher, suite).toBe(suite);
    }
  });

  it('rejects other TLS 1.3 suites', async () => {
    const result = await sClient(['-tls1_3', '-ciphersuites', 'TLS_AES_128_CCM_SHA256']);
    expect(result.status).not.toBe(0);
  });

  it('openssl s_client sees only TLS 1.3', async () => {
    const tls13 = await sClient(['-tls1_3']);
    expect(tls13.status).toBe(0);
    expect(tls13.output).toContain('TLSv1.3');
    const tls12 = await sClient(['-tls1_2']);
    expect(tls12.status).not.toBe(0);
  });
});
