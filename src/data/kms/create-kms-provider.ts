import type { KmsProvider } from './kms-provider.js';
import { activeLocalMasterKeyId, LocalFileKmsProvider } from './local-file-provider.js';
import { Pkcs11KmsProvider, type Pkcs11KmsOptions } from './pkcs11-provider.js';
import { RoutingKmsProvider, type RoutedProvider } from './routing-kms-provider.js';

/** Settings of one KMS provider. */
export type SingleKmsProviderConfig =
  | {
      type: 'local-file';
      /** Folder that contains (or will contain) the master key files. */
      directory: string;
      /** Name of the first key file inside `directory`. Defaults to `master-key.json`. */
      fileName?: string;
      /** Id of the first master key. Rotated keys get `-2`, `-3`, … appended. */
      masterKeyId?: string;
    }
  | ({ type: 'pkcs11' } & Pkcs11KmsOptions);
// TODO: AWS KMS and Vault Transit providers will be added as further `type`s.

/**
 * Configuration that selects the KMS provider that wraps new purpose keys, and optionally a
 * provider of an earlier setup that only decrypts, for the time of a migration.
 */
export type KmsProviderConfig = SingleKmsProviderConfig & {
  decryptOnly?: SingleKmsProviderConfig;
};

/**
 * Returns the id of the master key that `config` wraps new purpose keys under. For the local
 * provider it is the newest key file in the folder, found from the file names alone.
 */
export function configuredMasterKeyId(config: SingleKmsProviderConfig): string {
  switch (config.type) {
    case 'local-file':
      return activeLocalMasterKeyId(config.directory, config.fileName, config.masterKeyId);
    case 'pkcs11':
      return config.keyLabel;
  }
}

async function openRouted(
  config: SingleKmsProviderConfig,
  decryptOnly: boolean,
): Promise<RoutedProvider> {
  switch (config.type) {
    case 'local-file': {
      const provider = await LocalFileKmsProvider.open({
        directory: config.directory,
        ...(config.fileName === undefined ? {} : { fileName: config.fileName }),
        ...(config.masterKeyId === undefined ? {} : { masterKeyId: config.masterKeyId }),
        createIfMissing: !decryptOnly,
      });
      return { provider, masterKeyIds: provider.masterKeyIds() };
    }
    case 'pkcs11': {
      const provider = await Pkcs11KmsProvider.open({
        libraryPath: config.libraryPath,
        tokenLabel: config.tokenLabel,
        pin: config.pin,
        keyLabel: config.keyLabel,
        createKey: decryptOnly ? false : (config.createKey ?? false),
      });
      return { provider, masterKeyIds: [config.keyLabel] };
    }
  }
}

/**
 * Creates the KMS provider that `config` selects, creating the master key on first use. With
 * `decryptOnly` set it returns a {@link RoutingKmsProvider} over both providers, and the
 * decrypt-only one never creates a key.
 */
export async function createKmsProvider(config: KmsProviderConfig): Promise<KmsProvider> {
  const primary = await openRouted(config, false);
  if (config.decryptOnly === undefined) return primary.provider;
  try {
    const previous = await openRouted(config.decryptOnly, true);
    return new RoutingKmsProvider(primary, [previous]);
  } catch (error) {
    await primary.provider.close?.();
    throw error;
  }
}
