/** Public API of the KMS providers. */
export { configuredMasterKeyId, createKmsProvider } from './create-kms-provider.js';
export type { KmsProviderConfig } from './create-kms-provider.js';
export { KmsError } from './kms-provider.js';
export type {
  EncryptionContext,
  GeneratedDataKey,
  KmsKeyDescription,
  KmsProvider,
} from './kms-provider.js';
export { LocalFileKmsProvider } from './local-file-provider.js';
export type { LocalFileKmsOptions } from './local-file-provider.js';
export { Pkcs11KmsProvider } from './pkcs11-provider.js';
export type { Pkcs11KmsOptions } from './pkcs11-provider.js';
