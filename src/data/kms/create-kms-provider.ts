import type { KmsProvider } from './kms-provider.js';
import { LocalFileKmsProvider } from './local-file-provider.js';
import { Pkcs11KmsProvider, type Pkcs11KmsOptions } from './pkcs11-provider.js';

/** Configuration that selects and sets up a KMS provider. */
export type KmsProviderConfig =
  | {
      type: 'local-file';
      /** Folder that contains (or will contain) the master key file. */
      directory: string;
      /** Key file name inside `directory`. Defaults to `master-key.json`. */
      fileName?: string;
      masterKeyId?: string;
    }
  | ({ type: 'pkcs11' } & Pkcs11KmsOptions);
// TODO: AWS KMS and Vault Transit providers will be added as further `type`s.

/** Returns the id of the master key that `config` selects. */
export function configuredMasterKeyId(config: KmsProviderConfig): string {
  switch (config.type) {
    case 'local-file':
      return config.masterKeyId ?? 'local-master';
    case 'pkcs11':
      return config.keyLabel;
  }
}

/** Creates the KMS provider that `config` selects, creating the master key on first use. */
export async function createKmsProvider(config: KmsProviderConfig): Promise<KmsProvider> {
  switch (config.type) {
    case 'local-file':
      return LocalFileKmsProvider.open({
        directory: config.directory,
        ...(config.fileName === undefined ? {} : { fileName: config.fileName }),
        ...(config.masterKeyId === undefined ? {} : { masterKeyId: config.masterKeyId }),
      });
    case 'pkcs11':
      return Pkcs11KmsProvider.open({
        libraryPath: config.libraryPath,
        tokenLabel: config.tokenLabel,
        pin: config.pin,
        keyLabel: config.keyLabel,
        ...(config.createKey === undefined ? {} : { createKey: config.createKey }),
      });
  }
}
