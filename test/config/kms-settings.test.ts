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

describe('integer settings', () => {
  it('accepts plain decimal day counts', () => {
    const config = loadConfig({ KEY_DELETION_WAITING_DAYS: '30', KEY_ROTATION_DAYS: '0' });
    expect(config.KEY_DELETION_WAITING_DAYS).toBe(30);
    expect(config.KEY_ROTATION_DAYS).toBe(0);
  });

  it.each(['0x1E', '3e1', '30.0', '30.5', ' 30', '30 ', '+30', '0b11110', 'Infinity', 'thirty'])(
    'reject KEY_DELETION_WAITING_DAYS=%j',
    (value) => {
      const error = configError({ KEY_DELETION_WAITING_DAYS: value });
      expect(error.variable).toBe('KEY_DELETION_WAITING_DAYS');
      expect(error.message).toBe(
        'invalid configuration: KEY_DELETION_WAITING_DAYS must be a whole number between 7 and 3650, written in decimal digits',
      );
    },
  );

  it('rejects a hex value in other integer settings', () => {
    expect(configError({ KEY_ROTATION_DAYS: '0x10' }).variable).toBe('KEY_ROTATION_DAYS');
    expect(configError({ SECURITY_EVENTS_RETENTION_DAYS: '9e1' }).variable).toBe(
      'SECURITY_EVENTS_RETENTION_DAYS',
    );
    expect(configError({ PORT: '0x50' }).variable).toBe('PORT');
  });

  it('keeps the range check', () => {
    expect(configError({ KEY_DELETION_WAITING_DAYS: '6' }).variable).toBe(
      'KEY_DELETION_WAITING_DAYS',
    );
    expect(configError({ KEY_DELETION_WAITING_DAYS: '-30' }).variable).toBe(
      'KEY_DELETION_WAITING_DAYS',
    );
    expect(loadConfig({ PORT: '' }).PORT).toBe(3000);
  });
});
