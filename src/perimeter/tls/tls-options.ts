import { readFile } from 'node:fs/promises';

import type { Config } from '../../config/config.schema.js';
import { ConfigError } from '../../config/load-config.js';

/**
 * The only TLS 1.3 cipher suites the listener offers. Node has no separate option for TLS 1.3
 * suites: names starting with `TLS_` in `ciphers` set them (Node 20 docs, tls "Modifying the
 * default TLS cipher suite"), and with TLS 1.3 as the only version no TLS 1.2 cipher applies.
 */
export const TLS_CIPHER_SUITES = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_AES_128_GCM_SHA256',
  'TLS_CHACHA20_POLY1305_SHA256',
] as const;

/** The TLS part of the HTTPS server options. */
export interface TlsServerOptions {
  cert: Buffer;
  key: Buffer;
  minVersion: 'TLSv1.3';
  maxVersion: 'TLSv1.3';
  ciphers: string;
}

/**
 * Reads the certificate and key named by TLS_CERT_FILE and TLS_KEY_FILE. Returns null when
 * neither is set (plain HTTP); one without the other, or an unreadable file, is a
 * configuration error.
 */
export async function loadTlsOptions(config: Config): Promise<TlsServerOptions | null> {
  const { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile } = config;
  if (!certFile && !keyFile) return null;
  if (!certFile) throw new ConfigError('TLS_CERT_FILE', 'is missing while TLS_KEY_FILE is set');
  if (!keyFile) throw new ConfigError('TLS_KEY_FILE', 'is missing while TLS_CERT_FILE is set');
  const read = async (variable: string, path: string) => {
    try {
      // eslint-disable-next-line security/detect-non-literal-fs-filename -- the operator's setting
      return await readFile(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'read error';
      throw new ConfigError(variable, `names a file that cannot be read (${code}): ${path}`);
    }
  };
  return {
    cert: await read('TLS_CERT_FILE', certFile),
    key: await read('TLS_KEY_FILE', keyFile),
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ciphers: TLS_CIPHER_SUITES.join(':'),
  };
}

/** Returns true when `host` can only be reached from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || /^::ffff:127\./i.test(host);
}

/**
 * Rejects plain HTTP on an address other hosts can reach, unless TRUST_PROXY_TLS=true states
 * that a proxy in front ends TLS. The error names the setting to change.
 */
export function assertTransportSecurity(config: Config): void {
  const tls = Boolean(config.TLS_CERT_FILE || config.TLS_KEY_FILE);
  if (tls || config.TRUST_PROXY_TLS || isLoopbackHost(config.HOST)) return;
  throw new ConfigError(
    'HOST',
    `${config.HOST} is not a loopback address, so plain HTTP is refused: set TLS_CERT_FILE and ` +
      'TLS_KEY_FILE, or TRUST_PROXY_TLS=true when a proxy in front ends TLS',
  );
}
