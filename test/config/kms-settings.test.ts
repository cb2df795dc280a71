import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { describeKms, kmsConfig } from '../../src/data/key-store/data-protection.js';

const PKCS11 = {
  KMS_PROVIDER: 'pkcs11',
  PKCS11_LIBRARY: '/usr/lib/softhsm/libsofthsm2.so',
  PKCS11_TOKEN_LABEL: 'mindweave',
  PKCS11_PIN: 'pin-for-settings-test',
};

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('loadConfig accepted the settings');
}

describe('KMS settings', () => {
  it('defaults to the local provider', () => {
    const config = loadConfig({ MINDWEAVE_DATA_DIR: '/var/lib/mindweave' });
    expect(config.KMS_PROVIDER).toBe('local');
    expect(kmsConfig(config)).toEqual({
      type: 'local-file',
      directory: path.join('/var/lib/mindweave', 'kms'),
      fileName: 'master.key',
      masterKeyId: 'local-master',
    });
    expect(describeKms(config)).toEqual({
      provider: 'local',
      masterKeyId: 'local-master',
      location: path.join('/var/lib/mindweave', 'kms', 'master.key'),
    });
  });

  it('selects the PKCS#11 token', () => {
    const config = loadConfig(PKCS11);
    expect(kmsConfig(config)).toEqual({
      type: 'pkcs11',
      libraryPath: PKCS11.PKCS11_LIBRARY,
      tokenLabel: 'mindweave',
      pin: PKCS11.PKCS11_PIN,
      keyLabel: 'mindweave-master',
      createKey: false,
    });
    const description = describeKms(config);
    expect(description.provider).toBe('pkcs11');
    expect(description.location).toBe(`token mindweave (${PKCS11.PKCS11_LIBRARY})`);
    expect(JSON.stringify(description)).not.toContain(PKCS11.PKCS11_PIN);
  });

  it('reads the key label and create flag', () => {
    const config = loadConfig({
      ...PKCS11,
      PKCS11_KEY_LABEL: 'prod-kek',
      PKCS11_CREATE_KEY: 'true',
    });
    expect(kmsConfig(config)).toMatchObject({ keyLabel: 'prod-kek', createKey: true });
  });

  it('names each missing PKCS#11 setting', () => {
    for (const name of ['PKCS11_LIBRARY', 'PKCS11_TOKEN_LABEL', 'PKCS11_PIN'] as const) {
      const { [name]: _omitted, ...env } = PKCS11;
      const error = configError(env);
      expect(error.variable).toBe(name);
      expect(error.message).toBe(
        `invalid configuration: ${name} must be set when KMS_PROVIDER is pkcs11`,
      );
    }
  });

  it('rejects unknown providers and flags', () => {
    expect(configError({ KMS_PROVIDER: 'aws' }).variable).toBe('KMS_PROVIDER');
    expect(configError({ ...PKCS11, PKCS11_CREATE_KEY: 'yes' }).variable).toBe('PKCS11_CREATE_KEY');
    expect(configError({ ...PKCS11, PKCS11_TOKEN_LABEL: 'x'.repeat(33) }).variable).toBe(
      'PKCS11_TOKEN_LABEL',
    );
  });
});
