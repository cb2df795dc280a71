/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { chmod, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { loadConfig } from '../../../src/config/load-config.js';
import { kmsConfig } from '../../../src/data/key-store/data-protection.js';
import { createKmsProvider } from '../../../src/data/kms/create-kms-provider.js';
import { KmsError } from '../../../src/data/kms/kms-provider.js';
import {
  activeLocalMasterKeyId,
  LocalFileKmsProvider,
  removeLocalMasterKeyFile,
  rotateLocalMasterKey,
} from '../../../src/data/kms/local-file-provider.js';
import { RoutingKmsProvider } from '../../../src/data/kms/routing-kms-provider.js';

const context = { keyId: 'pk_a', purpose: 'database', version: '1' };

let root: string;
let directory: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'mindweave-kms-rotation-'));
  directory = path.join(root, 'kms');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('local master key rotation', () => {
  it('adds a 0600 key file with a new id', async () => {
    await LocalFileKmsProvider.open({ directory });
    const rotation = await rotateLocalMasterKey({ directory });
    expect(rotation).toEqual({
      previousMasterKeyId: 'local-master',
      masterKeyId: 'local-master-2',
      filePath: path.join(directory, 'master-key-2.json'),
    });
    expect((await stat(rotation.filePath)).mode & 0o777).toBe(0o600);
    const contents = JSON.parse(await readFile(rotation.filePath, 'utf8')) as {
      masterKeyId: string;
    };
    expect(contents.masterKeyId).toBe('local-master-2');
    expect(activeLocalMasterKeyId(directory)).toBe('local-master-2');
  });

  it('decrypts under every key and encrypts under the newest', async () => {
    const before = await LocalFileKmsProvider.open({ directory });
    const oldBlob = await before.encrypt('local-master', Buffer.from('old'), context);
    await rotateLocalMasterKey({ directory });

    const after = await LocalFileKmsProvider.open({ directory });
    expect(after.activeMasterKeyId).toBe('local-master-2');
    expect(after.masterKeyIds()).toEqual(['local-master', 'local-master-2']);
    expect((await after.decrypt('local-master', oldBlob, context)).toString()).toBe('old');
    const newBlob = await after.encrypt('local-master-2', Buffer.from('new'), context);
    expect((await after.decrypt('local-master-2', newBlob, context)).toString()).toBe('new');
    await expect(after.decrypt('local-master', newBlob, context)).rejects.toThrow();
  });

  it('rejects a rotation without a first key', async () => {
    await expect(rotateLocalMasterKey({ directory })).rejects.toThrow(KmsError);
  });

  it('rejects a rotated file with loose permissions', async () => {
    await LocalFileKmsProvider.open({ directory });
    const rotation = await rotateLocalMasterKey({ directory });
    await chmod(rotation.filePath, 0o644);
    await expect(LocalFileKmsProvider.open({ directory })).rejects.toThrow('run chmod 600');
  });

  it('rejects a file whose id differs from its name', async () => {
    await LocalFileKmsProvider.open({ directory });
    const rotation = await rotateLocalMasterKey({ directory });
    await rename(rotation.filePath, path.join(directory, 'master-key-7.json'));
    await expect(LocalFileKmsProvider.open({ directory })).rejects.toThrow(
      'contains key "local-master-2", not the expected "local-master-7"',
    );
  });

  it('removes old files but not the active one', async () => {
    await LocalFileKmsProvider.open({ directory });
    await rotateLocalMasterKey({ directory });
    await expect(removeLocalMasterKeyFile({ directory }, 'local-master-2')).rejects.toThrow(
      'is the active key',
    );
    await removeLocalMasterKeyFile({ directory }, 'local-master');
    const reopened = await LocalFileKmsProvider.open({ directory });
    expect(reopened.masterKeyIds()).toEqual(['local-master-2']);
    // The first file is not created again once a rotated key exists.
    await expect(stat(path.join(directory, 'master-key.json'))).rejects.toThrow();
  });

  it('creates nothing when opened decrypt-only', async () => {
    await expect(
      LocalFileKmsProvider.open({ directory, createIfMissing: false }),
    ).rejects.toThrow('no master key file master-key.json found');
    await expect(stat(directory)).rejects.toThrow();
  });

  it('ignores files that only look like key files', async () => {
    await LocalFileKmsProvider.open({ directory });
    await writeFile(path.join(directory, 'master-key-0.json'), '{}', { mode: 0o600 });
    await writeFile(path.join(directory, 'master-key-x.json'), '{}', { mode: 0o600 });
    expect(activeLocalMasterKeyId(directory)).toBe('local-master');
  });
});

describe('RoutingKmsProvider', () => {
  it('decrypts under a decrypt-only provider but never encrypts there', async () => {
    const oldDirectory = path.join(root, 'old');
    const old = await LocalFileKmsProvider.open({ directory: oldDirectory, masterKeyId: 'old-key' });
    const blob = await old.encrypt('old-key', Buffer.from('secret'), context);

    const kms = await createKmsProvider({
      type: 'local-file',
      directory,
      decryptOnly: { type: 'local-file', directory: oldDirectory, masterKeyId: 'old-key' },
    });
    expect(kms).toBeInstanceOf(RoutingKmsProvider);
    expect((await kms.decrypt('old-key', blob, context)).toString()).toBe('secret');
    await expect(kms.encrypt('old-key', Buffer.from('x'), context)).rejects.toThrow(
      'cannot encrypt',
    );
    await expect(kms.generateDataKey('old-key', context)).rejects.toThrow('cannot encrypt');
    const fresh = await kms.encrypt('local-master', Buffer.from('new'), context);
    expect((await kms.decrypt('local-master', fresh, context)).toString()).toBe('new');
    await expect(kms.describe('missing')).rejects.toThrow('held by no configured KMS provider');
  });

  it('fails when the decrypt-only folder has no key', async () => {
    await expect(
      createKmsProvider({
        type: 'local-file',
        directory,
        decryptOnly: { type: 'local-file', directory: path.join(root, 'absent') },
      }),
    ).rejects.toThrow('no master key file');
  });
});

describe('KMS_DECRYPT_ONLY', () => {
  const base = { MINDWEAVE_DATA_DIR: '/srv/mindweave' };

  it('adds the other provider as decrypt-only', () => {
    const settings = kmsConfig(
      loadConfig({
        ...base,
        KMS_PROVIDER: 'pkcs11',
        KMS_DECRYPT_ONLY: 'local',
        PKCS11_LIBRARY: '/usr/lib/softhsm/libsofthsm2.so',
        PKCS11_TOKEN_LABEL: 'mindweave',
        PKCS11_PIN: 'pin-for-settings-test',
      }),
    );
    expect(settings.type).toBe('pkcs11');
    expect(settings.decryptOnly).toEqual(
      expect.objectContaining({ type: 'local-file', directory: '/srv/mindweave/kms' }),
    );
  });

  it('rejects the same provider twice', () => {
    expect(() => kmsConfig(loadConfig({ ...base, KMS_DECRYPT_ONLY: 'local' }))).toThrow(
      'KMS_DECRYPT_ONLY must name a provider other than KMS_PROVIDER',
    );
  });

  it('requires the PKCS#11 settings for a decrypt-only token', () => {
    expect(() => kmsConfig(loadConfig({ ...base, KMS_DECRYPT_ONLY: 'pkcs11' }))).toThrow(
      'PKCS11_LIBRARY must be set when KMS_PROVIDER or KMS_DECRYPT_ONLY is pkcs11',
    );
  });

  it('rejects an unknown provider name', () => {
    expect(() => loadConfig({ ...base, KMS_DECRYPT_ONLY: 'vault' })).toThrow(
      'must be local or pkcs11',
    );
  });
});
