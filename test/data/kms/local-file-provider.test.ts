/* eslint-disable security/detect-non-literal-fs-filename -- paths are temporary test folders. */
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DecryptionError } from '../../../src/data/crypto/errors.js';
import { createKmsProvider } from '../../../src/data/kms/create-kms-provider.js';
import { KmsError } from '../../../src/data/kms/kms-provider.js';
import { LocalFileKmsProvider } from '../../../src/data/kms/local-file-provider.js';

const context = { keyId: 'pk_a', purpose: 'database', version: '1' };

describe('LocalFileKmsProvider', () => {
  let root: string;
  let directory: string;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'mindweave-kms-'));
    directory = path.join(root, 'nested', 'kms');
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates the folder 0700 and the key file 0600', async () => {
    await LocalFileKmsProvider.open({ directory });
    const folderMode = (await stat(directory)).mode & 0o777;
    const fileMode = (await stat(path.join(directory, 'master-key.json'))).mode & 0o777;
    expect(folderMode.toString(8)).toBe('700');
    expect(fileMode.toString(8)).toBe('600');
  });

  it('stores a 32-byte key and reloads the same key', async () => {
    const first = await LocalFileKmsProvider.open({ directory });
    const blob = await first.encrypt('local-master', Buffer.from('secret'), context);
    const contents = JSON.parse(
      await readFile(path.join(directory, 'master-key.json'), 'utf8'),
    ) as { key: string };
    expect(Buffer.from(contents.key, 'base64')).toHaveLength(32);
    const second = await LocalFileKmsProvider.open({ directory });
    expect((await second.decrypt('local-master', blob, context)).toString()).toBe('secret');
  });

  it('rejects a key file with mode 0644', async () => {
    await LocalFileKmsProvider.open({ directory });
    const filePath = path.join(directory, 'master-key.json');
    await chmod(filePath, 0o644);
    await expect(LocalFileKmsProvider.open({ directory })).rejects.toThrow(
      /has mode 0644.*chmod 600/,
    );
  });

  it.each([0o640, 0o604, 0o660])('rejects a key file with mode %o', async (mode) => {
    await LocalFileKmsProvider.open({ directory });
    await chmod(path.join(directory, 'master-key.json'), mode);
    await expect(LocalFileKmsProvider.open({ directory })).rejects.toThrow(KmsError);
  });

  it('rejects a group-writable folder', async () => {
    await mkdir(directory, { recursive: true });
    await chmod(directory, 0o770);
    await expect(LocalFileKmsProvider.open({ directory })).rejects.toThrow(/chmod 700/);
  });

  it('rejects a symlinked key file', async () => {
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const target = path.join(root, 'elsewhere.json');
    await writeFile(target, '{}', { mode: 0o600 });
    await symlink(target, path.join(directory, 'master-key.json'));
    await expect(LocalFileKmsProvider.open({ directory })).rejects.toThrow();
  });

  it('rejects a malformed key file', async () => {
    await mkdir(directory, { recursive: true, mode: 0o700 });
    await writeFile(path.join(directory, 'master-key.json'), 'not json', { mode: 0o600 });
    await expect(LocalFileKmsProvider.open({ directory })).rejects.toThrow(/not valid JSON/);
  });

  it('rejects a file holding another master key id', async () => {
    await LocalFileKmsProvider.open({ directory, masterKeyId: 'first' });
    await expect(LocalFileKmsProvider.open({ directory, masterKeyId: 'second' })).rejects.toThrow(
      KmsError,
    );
  });

  it('creates one key when opened concurrently', async () => {
    const providers = await Promise.all([
      LocalFileKmsProvider.open({ directory }),
      LocalFileKmsProvider.open({ directory }),
      LocalFileKmsProvider.open({ directory }),
    ]);
    const blob = await providers[0].encrypt('local-master', Buffer.from('x'), context);
    for (const provider of providers) {
      expect((await provider.decrypt('local-master', blob, context)).toString()).toBe('x');
    }
  });

  it('binds the encryption context', async () => {
    const provider = await LocalFileKmsProvider.open({ directory });
    const blob = await provider.encrypt('local-master', Buffer.from('secret'), context);
    await expect(
      provider.decrypt('local-master', blob, { ...context, version: '2' }),
    ).rejects.toThrow(DecryptionError);
    await expect(provider.decrypt('local-master', blob, {})).rejects.toThrow(DecryptionError);
    const tampered = Buffer.from(blob);
    tampered[0] = 2;
    await expect(provider.decrypt('local-master', tampered, context)).rejects.toThrow(
      DecryptionError,
    );
  });

  it('generates data keys of the requested length', async () => {
    const provider = await LocalFileKmsProvider.open({ directory });
    const generated = await provider.generateDataKey('local-master', context);
    expect(generated.plaintext).toHaveLength(32);
    expect(generated.masterKeyId).toBe('local-master');
    const unwrapped = await provider.decrypt('local-master', generated.ciphertextBlob, context);
    expect(unwrapped.equals(generated.plaintext)).toBe(true);
    await expect(provider.generateDataKey('local-master', context, 8)).rejects.toThrow(KmsError);
  });

  it('rejects an unknown master key id', async () => {
    const provider = await LocalFileKmsProvider.open({ directory });
    await expect(provider.encrypt('other', Buffer.from('x'), context)).rejects.toThrow(KmsError);
    await expect(provider.describe('other')).rejects.toThrow(KmsError);
  });

  it('describes the master key', async () => {
    const provider = await LocalFileKmsProvider.open({ directory });
    const description = await provider.describe('local-master');
    expect(description).toMatchObject({
      masterKeyId: 'local-master',
      provider: 'local-file',
      algorithm: 'AES-256-GCM',
      enabled: true,
    });
    expect(description.createdAt).toBeInstanceOf(Date);
  });

  it('warns only in production', async () => {
    const provider = await LocalFileKmsProvider.open({ directory });
    expect(provider.productionWarning('development')).toBeUndefined();
    expect(provider.productionWarning(undefined)).toBeUndefined();
    expect(provider.productionWarning('production')).toMatch(/master key unencrypted/);
  });

  it('is created by createKmsProvider', async () => {
    const provider = await createKmsProvider({ type: 'local-file', directory });
    expect(provider.providerName).toBe('local-file');
  });
});
