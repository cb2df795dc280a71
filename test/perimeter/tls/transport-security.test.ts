import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../../src/config/load-config.js';
import {
  assertTransportSecurity,
  isLoopbackHost,
  loadTlsOptions,
} from '../../../src/perimeter/tls/tls-options.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('plain HTTP on a public address', () => {
  it('serve exits 2 with one line', () => {
    const result = spawnSync(
      join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
      [join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'serve'],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 60_000,
        env: { PATH: process.env.PATH, HOST: '0.0.0.0', PORT: '0', LOG_LEVEL: 'silent' },
      },
    );
    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('HOST 0.0.0.0 is not a loopback address');
    expect(lines[0]).toContain('TRUST_PROXY_TLS=true');
  });

  it('TRUST_PROXY_TLS or TLS files allow it', () => {
    const behindProxy = loadConfig({ HOST: '0.0.0.0', TRUST_PROXY_TLS: 'true' });
    expect(() => assertTransportSecurity(behindProxy)).not.toThrow();
    const withTls = loadConfig({ HOST: '::', TLS_CERT_FILE: 'c.pem', TLS_KEY_FILE: 'k.pem' });
    expect(() => assertTransportSecurity(withTls)).not.toThrow();
  });

  it('loopback addresses need no TLS', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) {
      expect(isLoopbackHost(host), host).toBe(true);
      expect(() => assertTransportSecurity(loadConfig({ HOST: host }))).not.toThrow();
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1']) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});

describe('TLS settings', () => {
  it('certificate without key is invalid', async () => {
    await expect(loadTlsOptions(loadConfig({ TLS_CERT_FILE: 'c.pem' }))).rejects.toThrow(
      'TLS_KEY_FILE is missing while TLS_CERT_FILE is set',
    );
  });

  it('unreadable certificate is invalid', async () => {
    const config = loadConfig({ TLS_CERT_FILE: '/nonexistent/c.pem', TLS_KEY_FILE: '/x/k.pem' });
    await expect(loadTlsOptions(config)).rejects.toThrow(/TLS_CERT_FILE names a file that cannot/);
  });
});
