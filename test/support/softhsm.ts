/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where Debian's softhsm2 package installs the PKCS#11 module. */
export const SOFTHSM_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so';

/** A SoftHSM2 token in a temporary folder, initialised for one test file. */
export interface SoftHsmToken {
  libraryPath: string;
  tokenLabel: string;
  pin: string;
  cleanup(): Promise<void>;
}

/** Whether SoftHSM2 is installed (`apt-get install softhsm2`). */
export function softHsmAvailable(): boolean {
  return existsSync(SOFTHSM_LIBRARY);
}

/**
 * Creates a token store in a temporary folder, points SoftHSM2 at it through SOFTHSM2_CONF
 * (read when the module initialises) and initialises one token with a fresh PIN.
 */
export async function createSoftHsmToken(tokenLabel = 'mindweave-test'): Promise<SoftHsmToken> {
  const root = await mkdtemp(path.join(tmpdir(), 'mindweave-softhsm-'));
  const tokens = path.join(root, 'tokens');
  await mkdir(tokens, { mode: 0o700 });
  const conf = path.join(root, 'softhsm2.conf');
  await writeFile(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  process.env.SOFTHSM2_CONF = conf;
  const pin = `pin-${Math.random().toString(36).slice(2, 10)}`;
  await run('softhsm2-util', [
    '--init-token',
    '--free',
    '--label',
    tokenLabel,
    '--pin',
    pin,
    '--so-pin',
    `so-${pin}`,
  ]);
  return {
    libraryPath: SOFTHSM_LIBRARY,
    tokenLabel,
    pin,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
