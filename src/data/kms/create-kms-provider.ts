import type { KmsProvider } from './kms-provider.js';
import { LocalFileKmsProvider } from './local-file-provider.js';

/** Configuration that selects and sets up a KMS provider. */
export type KmsProviderConfig = {
  type: 'local-file';
  /** Folder that contains (or will contain) the master key file. */
  directory: string;
  /** Key file name inside `directory`. Defaults to `master-key.json`. */
  fileName?: string;
  masterKeyId?: string;
};
// TODO: a PKCS#11 (HSM) provider plugs in here as another `type`, implementing KmsProvider with
// the HSM's AES-GCM mechanism. AWS KMS and Vault Transit providers will be added the same way.

/** Creates the KMS provider that `config` selects, creating the master key on first use. */
export async function createKmsProvider(config: KmsProviderConfig): Promise<KmsProvider> {
  switch (config.type) {
    case 'local-file':
      return LocalFileKmsProvider.open({
        directory: config.directory,
        ...(config.fileName === undefined ? {} : { fileName: config.fileName }),
        ...(config.masterKeyId === undefined ? {} : { masterKeyId: config.masterKeyId }),
      });
  }
}
