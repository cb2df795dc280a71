import { execFile } from 'node:child_process';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Validity of a development certificate, in days. */
export const DEV_CERT_DAYS = 30;

/** Raised when the certificate cannot be written; the message names the fix. */
export class DevCertError extends Error {
  override name = 'DevCertError';
}

/** The files a development certificate was written to. */
export interface DevCertFiles {
  certFile: string;
  keyFile: string;
}

/**
 * Writes a self-signed ECDSA P-384 certificate for localhost, 127.0.0.1 and ::1 with its
 * private key (mode 0600) into `outDir`, using the `openssl` command, because Node has no
 * X.509 certificate builder. Existing files are not overwritten.
 */
export async function writeDevCert(outDir: string, openssl = 'openssl'): Promise<DevCertFiles> {
  const directory = resolve(outDir);
  const certFile = join(directory, 'dev-cert.pem');
  const keyFile = join(directory, 'dev-key.pem');
  for (const file of [certFile, keyFile]) {
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (exists) throw new DevCertError(`${file} already exists: remove it or choose another --out`);
  }
  await mkdir(directory, { recursive: true });

  const args = [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-384',
    '-sha384',
    '-nodes',
    '-days',
    String(DEV_CERT_DAYS),
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ];
  try {
    await run(openssl, args, { timeout: 30_000 });
  } catch (error) {
    const { code, stderr } = error as NodeJS.ErrnoException & { stderr?: string };
    if (code === 'ENOENT') {
      throw new DevCertError(
        'the openssl command was not found: install OpenSSL (Debian: apt-get install openssl) ' +
          'and run this command again',
      );
    }
    throw new DevCertError(`openssl failed: ${(stderr ?? String(error)).trim()}`);
  }
  // openssl writes the key with a mode that depends on its version and the umask.
  await chmod(keyFile, 0o600);
  return { certFile, keyFile };
}
